// The scoring-scheme editor: add and remove criterion rows, and a running total of the points (items
// plus price) that must come to 100. Without script the page still works: blank rows are skipped.
(function () {
  "use strict";
  var form = document.getElementById("scheme-form");
  if (!form) return;
  var body = form.querySelector("#criteria-table tbody");
  var add = document.getElementById("add-criterion");
  var total = document.getElementById("scheme-total");

  function points(value) {
    var n = parseFloat(String(value || "").replace(",", "."));
    return isNaN(n) ? 0 : n;
  }

  function update() {
    var sum = 0;
    body.querySelectorAll("tr.criterion-row").forEach(function (row) {
      var kind = row.querySelector("select[name$='-kind']");
      if (kind && kind.value !== "pass_fail") sum += points(row.querySelector("input[name$='-max_points']").value);
    });
    var method = form.querySelector("select[name='method']");
    if (!method || method.value === "comprehensive") sum += points(form.querySelector("input[name='price_points']").value);
    var text = total.getAttribute("data-template").replace("%(total)s", (Math.round(sum * 100) / 100).toString());
    total.textContent = text;
    total.className = Math.abs(sum - 100) < 0.001 ? "badge ok" : "badge warn";
  }

  function nextIndex() {
    var high = -1;
    body.querySelectorAll("[name^='criteria-']").forEach(function (el) {
      var n = parseInt(el.name.split("-")[1], 10);
      if (n > high) high = n;
    });
    return high + 1;
  }

  function wire(row) {
    var remove = row.querySelector(".remove-row");
    remove.hidden = false;
    remove.addEventListener("click", function () {
      var focusTarget = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      update();
      if (focusTarget) focusTarget.querySelector("input").focus();
      else add.focus();
    });
  }

  add.hidden = false;
  total.hidden = false;
  body.querySelectorAll("tr.criterion-row").forEach(wire);
  add.addEventListener("click", function () {
    var template = body.querySelector("tr.criterion-row");
    var row = template.cloneNode(true);
    var index = nextIndex();
    row.querySelectorAll("input, select").forEach(function (el) {
      var parts = el.name.split("-");
      parts[1] = String(index);
      el.name = parts.join("-");
      el.id = el.name;
      if (el.type === "checkbox") el.checked = false;
      else if (el.tagName === "SELECT") el.selectedIndex = 1; // technical, subjective: the usual new item
      else el.value = "";
    });
    body.appendChild(row);
    wire(row);
    row.querySelector("input").focus();
    update();
  });
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
