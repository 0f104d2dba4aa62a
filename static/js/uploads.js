// Files larger than the platform takes are refused here, before a long upload that would only end
// in "too large" (or, for a body far over the limit, a reset connection): the limit and the message
// come from the page (base.html), the server refuses such a body unread in any case.
(function () {
  "use strict";
  var limit = parseInt(document.body.getAttribute("data-upload-limit"), 10);
  if (!limit) return;
  var message = document.body.getAttribute("data-upload-too-large");
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file") return;
    var total = 0;
    for (var i = 0; i < input.files.length; i++) total += input.files[i].size;
    input.setCustomValidity(total > limit ? message : "");
    if (total > limit) input.reportValidity();
  });
  // Forms marked novalidate (they show the server's own messages) would submit anyway: stop them here.
  document.addEventListener("submit", function (event) {
    var inputs = event.target.querySelectorAll("input[type=file]");
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].validity.customError) {
        event.preventDefault();
        inputs[i].reportValidity();
        return;
      }
    }
  }, true);
})();
