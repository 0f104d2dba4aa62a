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

  // A region holding a form the watcher is working with is left alone until the form is submitted (the
  // page then reloads): a file chosen, a field typed into or focused, a choice changed, or a step begun
  // (data-keep: the custodian's share opened in the page). What the board brought for it meanwhile waits
  // in `held` and is put in once the watcher leaves the form as it was.
  var held = {};
  function changed(field) {
    if (field.type === "file") return !!(field.files && field.files.length);
    if (field.type === "hidden" || field.readOnly || field.disabled) return false;
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    return field.value !== field.defaultValue;
  }
  function busy(region) {
    return region.hasAttribute("data-keep") || region.contains(document.activeElement) ||
      Array.prototype.some.call(region.querySelectorAll("input, textarea, select"), changed);
  }

  // The fields the server sends again unchanged stay the very nodes on the page, so that a choice the
  // watcher is making in one at that moment (a file dialog open on it) is not made in a node the swap
  // has just thrown away.
  function keepFields(current, adopted) {
    adopted.querySelectorAll("input[id], textarea[id], select[id]").forEach(function (node) {
      if (adopted.querySelectorAll("#" + CSS.escape(node.id)).length !== 1) return;
      var old = current.querySelector("#" + CSS.escape(node.id));
      if (old && old.outerHTML === node.outerHTML) node.replaceWith(old);
    });
  }

  function put(current, adopted) {
    if (busy(current)) { held[current.id] = adopted; return; }
    delete held[current.id];
    if (current.outerHTML === adopted.outerHTML) return;
    keepFields(current, adopted);
    current.replaceWith(adopted);
  }

  function catchUp() {
    Object.keys(held).forEach(function (id) {
      var current = document.getElementById(id);
      if (!current) { delete held[id]; return; }
      put(current, held[id]);
    });
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
        put(current, adopted);
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
        if (html !== null) {
          swap(html);
          live.setAttribute("data-etag", etag); // the board this page has taken in
        } else {
          catchUp();
        }
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
