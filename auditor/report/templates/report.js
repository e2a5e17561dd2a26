// Filter and sort the findings index, offline. The page's CSP admits this script by its hash
// and nothing else; it reads no data but the table's own cells and never writes HTML.
(function () {
  "use strict";
  var table = document.getElementById("findings-index");
  if (!table || !table.tBodies.length) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function distinct(attr) {
    var seen = {};
    rows.forEach(function (r) { seen[r.getAttribute(attr)] = true; });
    return Object.keys(seen);
  }

  function select(id, label, attr, order) {
    var wrap = el("label", { "for": id }, label + " ");
    var box = el("select", { id: id });
    box.appendChild(el("option", { value: "" }, "all"));
    var values = distinct(attr);
    values.sort(function (a, b) {
      var ia = order.indexOf(a), ib = order.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || (a < b ? -1 : a > b ? 1 : 0);
    });
    values.forEach(function (v) { box.appendChild(el("option", { value: v }, v.replace(/_/g, " "))); });
    wrap.appendChild(box);
    return { wrap: wrap, box: box, attr: attr };
  }

  var controls = el("div", { "class": "table-controls", role: "search" });
  var textWrap = el("label", { "for": "findings-filter" }, "Filter ");
  var text = el("input", { id: "findings-filter", type: "search", placeholder: "rule, person, tool…" });
  textWrap.appendChild(text);
  var sev = select("findings-severity", "Severity", "data-severity",
    ["critical", "high", "medium", "low"]);
  var st = select("findings-status", "Status", "data-status",
    ["open", "confirmed", "false_positive", "accepted_risk", "superseded"]);
  var shown = el("output", { id: "findings-shown", "aria-live": "polite" });
  [textWrap, sev.wrap, st.wrap, shown].forEach(function (c) { controls.appendChild(c); });
  table.parentNode.insertBefore(controls, table);

  function apply() {
    var needle = text.value.trim().toLowerCase();
    var count = 0;
    rows.forEach(function (r) {
      var ok = (!needle || r.textContent.toLowerCase().indexOf(needle) >= 0) &&
        (!sev.box.value || r.getAttribute(sev.attr) === sev.box.value) &&
        (!st.box.value || r.getAttribute(st.attr) === st.box.value);
      r.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = count + " of " + rows.length + " shown";
  }

  function key(row, i, numeric) {
    var cell = row.cells[i];
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    return numeric ? parseFloat(raw) : raw.toLowerCase();
  }

  headers.forEach(function (th, i) {
    var numeric = th.getAttribute("data-type") === "num";
    var button = el("button", { type: "button", "class": "sort" }, th.textContent);
    th.textContent = "";
    th.appendChild(button);
    th.setAttribute("aria-sort", "none");
    button.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var indexed = rows.map(function (r, n) { return [key(r, i, numeric), n, r]; });
      indexed.sort(function (a, b) {
        var c = a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
        return (ascending ? c : -c) || a[1] - b[1];
      });
      indexed.forEach(function (t) { body.appendChild(t[2]); });
    });
  });

  [text, sev.box, st.box].forEach(function (c) {
    c.addEventListener("input", apply);
    c.addEventListener("change", apply);
  });
  apply();
})();
