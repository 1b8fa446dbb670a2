/** The report's inline stylesheet: screen, narrow screens (390 px) and print. */
export const style = `
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1280px;padding:0 1rem 3rem;color:#1d1d1f}
h1{font-size:1.7rem;margin:1.2rem 0 .4rem}h2{margin-top:2.4rem;border-bottom:2px solid #dde3ea;padding-bottom:.3rem}
h3{margin:1.8rem 0 .3rem}h4{margin:1rem 0 .3rem;color:#2b4a6f}
a{color:#1f5fa8}.muted{color:#5f6b76}
dl.run{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}dl.run dt{font-weight:600}dl.run dd{margin:0;overflow-wrap:anywhere}
nav.toc ol{columns:18rem;padding-left:1.4rem}nav.toc li{break-inside:avoid}
.filters{position:sticky;top:0;z-index:2;background:#f5f8fb;border:1px solid #dde3ea;border-radius:6px;padding:.6rem;margin:1rem 0;display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}
.filters label{display:flex;flex-direction:column;font-size:.8rem;color:#3c4650}
.filters input,.filters select{font:inherit;padding:.25rem .4rem;min-width:9rem;max-width:100%}
.filters .count{margin-left:auto;font-size:.85rem;color:#3c4650}
#charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,32rem),1fr));gap:0 2.5rem}#charts>h2{grid-column:1/-1}
figure{margin:1rem 0 2rem}figcaption{font-size:.9rem;color:#3c4650;margin-top:.3rem}
figure>svg{max-width:100%;height:auto}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.2rem 1.1rem;padding:0;margin:.2rem 0 .4rem;font-size:.85rem}.legend svg{margin-right:.35em;vertical-align:-1px}
svg .axis{font-size:12px;fill:#3c4650}svg .axis-title{font-size:12px;font-weight:600;fill:#1d1d1f}svg .value{font-size:12px}svg .grid{stroke:#e3e7ec}
.scroll{overflow-x:auto;margin:.3rem 0 1rem}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #dde3ea;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#eef3f8;font-weight:600}
td.wrap{min-width:16rem}.wrap,.service p{white-space:pre-line}td.num,th.num{text-align:right}
tbody tr:nth-child(even) td{background:#fafbfc}
th button{all:unset;cursor:pointer}th button::after{content:" \\2195";color:#9aa5b1}
th[aria-sort=ascending] button::after{content:" \\2191";color:#1d1d1f}th[aria-sort=descending] button::after{content:" \\2193";color:#1d1d1f}
.level{display:inline-block;min-width:1.6em;text-align:center;border-radius:3px;padding:0 .2em}
.l1{background:#dbe9f6}.l2{background:#9ecae1}.l3{background:#5a9fd0;color:#fff}.l4{background:#2b6fb0;color:#fff}.l5{background:#0b3d78;color:#fff}
.mapped{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,22rem),1fr));gap:0 1.5rem;font-size:.85rem;margin-bottom:1.2rem}
.mapped h5{margin:.2rem 0;font-size:.85rem;color:#2b4a6f}.mapped ul{margin:0;padding-left:1.1rem}
.sev-error{color:#b00020;font-weight:600}.sev-warning{color:#8a5a00}
.incomplete{border-left:4px solid #b00020;padding-left:.6em}
[hidden]{display:none !important}
@media screen{.off{display:none}}
section[id],div.plateau{scroll-margin-top:7.5rem}
@media (max-width:640px){body{font-size:14px;padding:0 .6rem 2rem}h1{font-size:1.35rem}
 .filters{position:static}.filters label,.filters input,.filters select{width:100%}nav.toc ol{columns:1}
 section[id],div.plateau{scroll-margin-top:0}
 table.cards thead{display:none}table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
 table.cards tr{border:1px solid #dde3ea;border-radius:6px;margin:.6rem 0;padding:.3rem .6rem}
 table.cards td{border:0;padding:2px 0;min-width:0}table.cards td.num{text-align:left}table.cards td:empty{display:none}
 table.cards td::before{display:block;font-size:.75rem;color:#5f6b76;font-weight:600}
 tbody tr:nth-child(even) td{background:none}}
@media print{body{max-width:none;font-size:10pt;padding:0}.filters,.noprint{display:none}
 .scroll{overflow:visible}table{font-size:8pt;page-break-inside:auto}thead{display:table-header-group}tr{break-inside:avoid}
 th button::after{content:""}a{color:inherit;text-decoration:none}td strong{white-space:nowrap}section.service{break-before:page}h2,h3,h4{break-after:avoid}}
`;

/**
 * Filters, search and sorting. Without JavaScript the filter bar stays hidden and the page is a
 * plain document; with it, rows that do not match get the `off` class (screen only, so printing
 * still shows every row).
 */
/** On narrow screens a table's rows become cards: each cell is labelled with its column's header. */
export function cardLabels(selector: string, headers: string[]): string {
  // A line break would end the CSS string and take the rules after it along; each is a hex escape.
  const css = (text: string) => `"${text.replace(/["\\<\x00-\x1f\x7f]/g, (c) => `\\${c.charCodeAt(0).toString(16)} `)}"`;
  return headers.map((header, i) => `${selector} td:nth-child(${i + 1})::before{content:${css(header)}}`).join("\n");
}

export const script = `
(function () {
  var bar = document.getElementById("filters");
  if (!bar) return;
  bar.hidden = false;
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-service]"));
  var blocks = Array.prototype.slice.call(document.querySelectorAll("[data-block]")).reverse();
  var count = document.getElementById("filter-count");
  var fields = ["service", "plateau", "role", "level", "item"];
  function value(id) { var el = document.getElementById("f-" + id); return el ? el.value : ""; }
  function apply() {
    var q = value("q").trim().toLowerCase();
    var want = {};
    fields.forEach(function (f) { want[f] = value(f); });
    var shown = 0;
    rows.forEach(function (row) {
      var ok = !q || row.textContent.toLowerCase().indexOf(q) >= 0;
      if (ok && want.service) ok = row.dataset.service === want.service;
      if (ok && want.plateau) ok = row.dataset.plateau === want.plateau;
      if (ok && want.role) ok = row.dataset.role === want.role;
      if (ok && want.level) ok = row.dataset.level === want.level;
      if (ok && want.item) ok = (" " + (row.dataset.items || "") + " ").indexOf(" " + want.item + " ") >= 0;
      row.classList.toggle("off", !ok);
      if (ok) shown++;
    });
    blocks.forEach(function (block) { block.classList.toggle("off", !block.querySelector("tr[data-service]:not(.off)")); });
    count.textContent = shown + " of " + rows.length + " rows";
  }
  var timer;
  bar.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(apply, 120); });
  bar.addEventListener("change", apply);
  document.getElementById("f-reset").addEventListener("click", function () {
    bar.querySelectorAll("input,select").forEach(function (el) { el.value = ""; });
    apply();
  });
  function key(cell, numeric) { var t = cell ? cell.textContent.trim() : ""; return numeric ? (t === "" ? -Infinity : Number(t)) : t.toLowerCase(); }
  document.querySelectorAll("table.sortable th").forEach(function (th, _i) {
    var button = document.createElement("button");
    button.type = "button";
    while (th.firstChild) button.appendChild(th.firstChild);
    th.appendChild(button);
    button.addEventListener("click", function () {
      var table = th.closest("table"), body = table.tBodies[0], index = th.cellIndex;
      var numeric = th.classList.contains("num"), dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
      var sorted = Array.prototype.slice.call(body.rows).sort(function (a, b) {
        var x = key(a.cells[index], numeric), y = key(b.cells[index], numeric);
        return x < y ? -dir : x > y ? dir : 0;
      });
      sorted.forEach(function (r) { body.appendChild(r); });
    });
  });
  apply();
})();
`;
