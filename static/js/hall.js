// The opening hall's live board: polls the board with the ETag of what it shows (a 304 costs the server
// one row read) and swaps each changed region in place, without a reload; countdowns run on the server's
// clock (each answer carries it), so a watcher's wrong PC clock shows the same time left as everyone's.
(function () {
  "use strict";
  var live = document.getElementById("hall-live");
  if (!live) return;
  var url = live.getAttribute("data-board-url");
  var etag = live.getAttribute("data-etag");
  var every = parseInt(live.getAttribute("data-poll-ms"), 10) || 1500;
  var serverNow = Date.parse(document.body.getAttribute("data-server-now"));
  var skew = isNaN(serverNow) ? 0 : serverNow - Date.now();
  var stale = document.getElementById("hall-stale");
  var failures = 0;

  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var now = Date.now() + skew;
    live.querySelectorAll("[data-countdown]").forEach(function (node) {
      var left = Math.floor((Date.parse(node.getAttribute("data-countdown")) - now) / 1000);
      if (left <= 0) { node.textContent = live.getAttribute("data-passed"); node.classList.add("passed"); return; }
      var days = Math.floor(left / 86400), rest = left % 86400;
      node.textContent = (days ? days + live.getAttribute("data-days") + " " : "") +
        pad(Math.floor(rest / 3600)) + ":" + pad(Math.floor(rest % 3600 / 60)) + ":" + pad(rest % 60);
    });
  }

  // A region the watcher is working in (focus inside, or typed into) is left alone until it submits.
  live.addEventListener("input", function (event) {
    var region = event.target.closest("[data-region]");
    if (region) region.setAttribute("data-dirty", "1");
  });
  function busy(region) {
    return region.hasAttribute("data-dirty") || region.contains(document.activeElement) ||
      region.hasAttribute("data-keep");
  }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var incoming = Array.prototype.slice.call(fresh.querySelectorAll("[data-region]"));
    var ids = incoming.map(function (node) { return node.id; });
    live.querySelectorAll("[data-region]").forEach(function (old) {
      if (ids.indexOf(old.id) < 0 && !busy(old)) old.remove();
    });
    var previous = null;
    incoming.forEach(function (node) {
      var current = document.getElementById(node.id);
      var adopted = document.importNode(node, true);
      if (current) {
        if (!busy(current) && current.outerHTML !== adopted.outerHTML) current.replaceWith(adopted);
        previous = document.getElementById(node.id);
      } else {
        if (previous) previous.after(adopted); else live.appendChild(adopted);
        previous = adopted;
      }
    });
    bindCopy();
    tick();
    document.dispatchEvent(new CustomEvent("hall:updated"));
  }

  function poll() {
    var headers = { "Accept": "text/html" };
    if (etag) headers["If-None-Match"] = '"' + etag + '"';
    fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        var server = Date.parse(response.headers.get("X-Server-Time"));
        if (!isNaN(server)) skew = server - Date.now();
        if (response.status === 304) return null;
        if (!response.ok) throw new Error("board " + response.status);
        var tag = response.headers.get("ETag");
        if (tag) etag = tag.replace(/^W\//, "").replace(/"/g, "");
        return response.text();
      })
      .then(function (html) {
        failures = 0;
        if (stale) stale.hidden = true;
        if (html !== null) swap(html);
      })
      .catch(function () {
        failures += 1;
        if (stale && failures > 1) stale.hidden = false;
      })
      .then(function () {
        // Back off while the server does not answer; a hidden tab polls slowly.
        var wait = document.hidden ? every * 4 : every * Math.min(1 + failures, 8);
        setTimeout(poll, wait);
      });
  }

  function bindCopy() {
    live.querySelectorAll("[data-copy]").forEach(function (button) {
      if (button.hasAttribute("data-bound")) return;
      button.setAttribute("data-bound", "1");
      button.addEventListener("click", function () {
        var field = document.getElementById(button.getAttribute("data-copy"));
        field.select();
        var done = function () { button.textContent = button.getAttribute("data-copied"); };
        if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(done, done);
        else { document.execCommand("copy"); done(); }
      });
    });
  }

  bindCopy();
  tick();
  setInterval(tick, 1000);
  setTimeout(poll, every);
})();
