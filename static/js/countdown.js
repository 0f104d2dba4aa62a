// Countdowns to bid deadlines on the server's clock: the page carries the server time it was rendered at,
// so a tenderer's wrong PC clock cannot make a deadline look further away than it is.
(function () {
  "use strict";
  var nodes = document.querySelectorAll("[data-deadline]");
  if (!nodes.length) return;
  var serverNow = Date.parse(document.body.getAttribute("data-server-now"));
  var skew = isNaN(serverNow) ? 0 : serverNow - Date.now();
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var now = Date.now() + skew;
    nodes.forEach(function (node) {
      var left = Math.floor((Date.parse(node.getAttribute("data-deadline")) - now) / 1000);
      if (left <= 0) { node.textContent = node.getAttribute("data-passed"); node.classList.add("passed"); return; }
      var days = Math.floor(left / 86400), rest = left % 86400;
      node.textContent = (days ? days + node.getAttribute("data-days") + " " : "") +
        pad(Math.floor(rest / 3600)) + ":" + pad(Math.floor(rest % 3600 / 60)) + ":" + pad(rest % 60);
    });
  }
  tick();
  setInterval(tick, 1000);
})();
