"""The self-contained report.html: one file, no network (plots are data: URIs, the CSS and the small table-sorting
script are inline), readable when opened straight from disk."""
from __future__ import annotations

import base64
import html
import os

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d1d1f;
       background: #fafafa; }
header { background: #1f2937; color: #f9fafb; padding: 18px 28px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 0; color: #cbd5e1; font-size: 13px; }
main { padding: 8px 28px 40px 28px; max-width: 1500px; }
h2 { border-bottom: 2px solid #e5e7eb; padding-bottom: 4px; margin-top: 32px; }
h3 { margin-bottom: 6px; }
nav a { margin-right: 14px; color: #93c5fd; font-size: 13px; }
.problems { background: #fff7ed; border: 1px solid #fdba74; border-radius: 6px; padding: 8px 16px; }
.problems.ok { background: #f0fdf4; border-color: #86efac; }
.problems li { margin: 3px 0; }
.figures { display: flex; flex-wrap: wrap; gap: 18px; }
figure { background: white; border: 1px solid #e5e7eb; border-radius: 6px; margin: 0; padding: 10px; max-width: 100%; }
figure img { max-width: 100%; height: auto; display: block; }
figure img.broken { outline: 3px solid #dc2626; min-width: 200px; min-height: 60px; }
figcaption { font-size: 12px; color: #4b5563; max-width: 900px; margin-top: 6px; }
caption { text-align: left; padding: 2px 0 4px 0; }
table { border-collapse: collapse; background: white; font-size: 12.5px; margin: 6px 0 18px 0; }
th, td { border: 1px solid #e5e7eb; padding: 3px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.sortable th { cursor: pointer; user-select: none; background: #f3f4f6; position: sticky; top: 0; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; }
tr.status-failed td { background: #fef2f2; }
tr.status-pending td, tr.status-running td { background: #fffbeb; }
.meta th { background: #f9fafb; width: 190px; }
.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 11.5px; word-break: break-all; }
.note { color: #6b7280; font-size: 12px; }
.table-wrap { overflow-x: auto; }
"""

# Sorting: click a header to sort by that column (numbers by their data-v value, text otherwise; empty cells
# last), click again to reverse. On load, every image is marked data-loaded="yes" or "no" (a broken plot gets a red
# outline and the page says so), which is also what the browser test reads back from the DOM.
JS = """
(function () {
  function key(td) {
    if (!td) return {empty: true};
    var v = td.getAttribute('data-v');
    var t = v !== null ? v : td.textContent.trim();
    if (t === '' || t === '-') return {empty: true};
    var n = Number(t);
    return isNaN(n) ? {s: t.toLowerCase()} : {n: n};
  }
  function cmp(a, b) {
    if (a.empty || b.empty) return a.empty === b.empty ? 0 : (a.empty ? 1 : -1);
    if (a.n !== undefined && b.n !== undefined) return a.n - b.n;
    var x = a.n !== undefined ? String(a.n) : a.s, y = b.n !== undefined ? String(b.n) : b.s;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  function sortBy(table, col, th) {
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var ka = key(r1.cells[col]), kb = key(r2.cells[col]);
      if (ka.empty || kb.empty) return cmp(ka, kb);
      var c = cmp(ka, kb);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('thead th').forEach(function (th, col) {
      th.title = 'click to sort';
      th.addEventListener('click', function () { sortBy(table, col, th); });
    });
  });
  document.documentElement.setAttribute('data-sortable-tables',
                                        String(document.querySelectorAll('table.sortable').length));
  window.addEventListener('load', function () {
    var bad = 0, imgs = document.querySelectorAll('img');
    imgs.forEach(function (img) {
      var ok = img.complete && img.naturalWidth > 0;
      img.setAttribute('data-loaded', ok ? 'yes' : 'no');
      if (!ok) { img.classList.add('broken'); bad++; }
    });
    document.documentElement.setAttribute('data-images', imgs.length + ' total, ' + bad + ' broken');
    if (bad) {
      var p = document.createElement('p');
      p.className = 'problems';
      p.textContent = bad + ' plot(s) failed to load in this browser.';
      document.querySelector('main').prepend(p);
    }
  });
})();
"""


def esc(s) -> str:
    return html.escape("" if s is None else str(s), quote=True)


def data_uri_png(path: str) -> str:
    with open(path, "rb") as f:
        return "data:image/png;base64," + base64.b64encode(f.read()).decode("ascii")


def figure_html(w, out_dir: str) -> str:
    svg = os.path.relpath(w.svg, out_dir)
    png = os.path.relpath(w.png, out_dir)
    return (f'<figure id="fig-{esc(w.slug)}"><img src="{data_uri_png(w.png)}" alt="{esc(w.title)}">'
            f'<figcaption>{esc(w.caption)} <a href="{esc(svg)}">SVG</a> · <a href="{esc(png)}">PNG</a>'
            f'</figcaption></figure>')


def table_html(table_id: str, headers, rows, *, sortable=True, row_classes=None, caption=None) -> str:
    """rows: lists of cells; a cell is text or a dict {text, v (sort value), title, cls}."""
    out = [f'<div class="table-wrap"><table id="{esc(table_id)}" class="{"sortable results" if sortable else "meta"}">']
    if caption:
        out.append(f"<caption class=\"note\">{esc(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr></thead><tbody>")
    for i, row in enumerate(rows):
        cls = (row_classes or [None] * len(rows))[i]
        out.append(f'<tr class="{esc(cls)}">' if cls else "<tr>")
        for cell in row:
            if isinstance(cell, dict):
                attrs = ""
                if cell.get("v") is not None:
                    attrs += f' data-v="{esc(cell["v"])}"'
                if cell.get("title"):
                    attrs += f' title="{esc(cell["title"])}"'
                if cell.get("cls"):
                    attrs += f' class="{esc(cell["cls"])}"'
                out.append(f"<td{attrs}>{esc(cell.get('text', ''))}</td>")
            else:
                out.append(f"<td>{esc(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def page(title: str, subtitle: str, nav, body: str) -> str:
    links = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in nav)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p><nav>{links}</nav></header>"
            f"<main>{body}</main><script>{JS}</script></body></html>\n")
