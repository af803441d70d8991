"""The page: sections, tables whose cells carry their exact values (data-value), and the
notices at the top. Inline CSS only: the file is read offline, from disk or an e-mail."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from html import escape

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #1d2330; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #d8dde6; padding-bottom: 0.2em; }
.meta { color: #5b6475; }
.notices { background: #fff4e0; border-left: 5px solid #e0a030; padding: 0.6em 1em; }
.notices.ok { background: #e8f5ea; border-left-color: #3a9a4a; }
.missing { color: #8a5a00; font-style: italic; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.92em; }
th, td { border: 1px solid #d8dde6; padding: 0.2em 0.6em; text-align: right; }
th { background: #f1f3f7; } td.text { text-align: left; }
tr.warn td { background: #fff4e0; } tr.error td { background: #fde4e4; }
img { max-width: 100%; } details { margin-bottom: 1em; } section { overflow-x: auto; }
"""


@dataclass
class Section:
    """One part of the report: its anchor, title, HTML body, and what it found missing."""

    key: str
    title: str
    body: str
    missing: list[str] = field(default_factory=list)


def missing_section(key: str, title: str, *reasons: str) -> Section:
    """A section with nothing to draw: it says why, and so does the top of the page."""
    body = "".join(f'<p class="missing" data-missing="{escape(r)}">{escape(r)}</p>' for r in reasons)
    return Section(key, title, body, list(reasons))


def show(value) -> str:
    """A cell as people read it (the exact value is in data-value)."""
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return str(value)


def exact(value) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def _cell(column: str, value) -> str:
    align = "" if isinstance(value, int | float) else ' class="text"'
    return f'<td data-col="{escape(column)}" data-value="{escape(exact(value))}"{align}>{escape(show(value))}</td>'


def table(key: str, rows: list[dict], columns: list[str] | None = None, row_class=None) -> str:
    """An HTML table of `rows`: id=`key`, each cell data-col (its column) and data-value (the
    value, floats in full precision), each row class `row_class(row)` when given."""
    columns = columns or (list(rows[0]) if rows else [])
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cls = f' class="{escape(row_class(row))}"' if row_class else ""
        cells = "".join(_cell(c, row[c]) for c in columns)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f'<table id="{escape(key)}" data-rows="{len(rows)}"><tr>{head}</tr>{"".join(body)}</table>'


# Run by the browser once the page has loaded: marks each figure decoded or not, and the page
# rendered, so a headless browser's DOM shows whether the inline images really draw.
ON_LOAD = """
window.addEventListener("load", () => {
  for (const img of document.images) img.dataset.decoded = img.naturalWidth > 0 ? "yes" : "no";
  document.body.dataset.rendered = "yes";
});
"""


def page(title: str, subtitle: str, sections: list[Section], glance: list[tuple[str, str]] = ()) -> str:
    """The whole report: a heading, the list of what is missing (or that nothing is), the findings
    at a glance (what, finding), the sections."""
    missing = [(s, m) for s in sections for m in s.missing]
    if missing:
        items = "".join(
            f'<li data-missing="{escape(m)}"><a href="#{escape(s.key)}">{escape(s.title)}</a>: {escape(m)}</li>'
            for s, m in missing
        )
        notices = f'<div class="notices" id="missing-data"><strong>Data missing</strong><ul>{items}</ul></div>'
    else:
        notices = '<div class="notices ok" id="missing-data">Every section has its data.</div>'
    if glance:
        rows = "".join(f'<tr><th>{escape(what)}</th><td class="text">{escape(line)}</td></tr>' for what, line in glance)
        notices += f'<h2>At a glance</h2><table id="at-a-glance">{rows}</table>'
    contents = "".join(f'<li><a href="#{escape(s.key)}">{escape(s.title)}</a></li>' for s in sections)
    parts = "".join(
        f'<section id="{escape(s.key)}" data-section="{escape(s.key)}"><h2>{escape(s.title)}</h2>{s.body}</section>'
        for s in sections
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{CSS}</style><script>{ON_LOAD}</script></head><body><h1>{escape(title)}</h1>"
        f'<p class="meta">{escape(subtitle)}</p>{notices}<ul class="contents">{contents}</ul>{parts}</body></html>'
    )
