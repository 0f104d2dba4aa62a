// On a phone a table shows one card per row (sunbid.css); each cell is labelled with its column's name.
(function () {
  "use strict";
  function label() {
    document.querySelectorAll("table.table").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      if (!heads.length) return;
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.children, function (cell) {
          var label = heads[column];
          if (label && cell.colSpan === 1) cell.setAttribute("data-label", label);
          column += cell.colSpan || 1;
        });
      });
    });
  }
  label();
  // The opening hall's live board puts fresh regions into its page (hall.js): label their tables too.
  document.addEventListener("hall:updated", label);
})();
