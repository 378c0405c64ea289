"""Markdown and self-contained HTML (inline CSS and SVG, no script, a CSP that forbids fetching).

Everything that came from outside (table cells, `Data` parts, the plan's names) passes the
untrusted-text boundary: escaped for Markdown (`untrusted.md`) or HTML (`html.escape` of
`untrusted.inert`), with controls made visible, so a note reads exactly as it was typed.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from ..untrusted import BLOCK_LIMIT, inert, md
from .document import Chart, Document, Table
from .inline import Data, Paragraph

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _parts(paragraph: Paragraph) -> tuple[str | Data, ...]:
    return (paragraph,) if isinstance(paragraph, str) else paragraph


def _md_paragraph(paragraph: Paragraph) -> str:
    return "".join(
        part if isinstance(part, str) else md(part.value, multiline=part.multiline)
        for part in _parts(paragraph)
    )


def markdown(doc: Document) -> str:
    out = [f"# {md(doc.title)}", "", f"*{md(doc.subtitle)}*", ""]
    for section in doc.sections:
        out += [f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            out += [_md_paragraph(paragraph), ""]
        for chart in section.charts:
            out += [
                f"*{chart.title}* (final values): "
                + ", ".join(
                    f"{md(name)} {points[-1][1]:g} %" for name, points in chart.series.items()
                ),
                "",
            ]
        for table in section.tables:
            out += [*_md_table(table), ""]
    return "\n".join(out).rstrip() + "\n"


def _md_table(table: Table) -> list[str]:
    lines = ["| " + " | ".join(table.headers) + " |", "|" + "---|" * len(table.headers)]
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in table.rows]
    return lines


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:70em;
color:#1b1b1b;line-height:1.45;padding:0 1em}
h1{margin-bottom:0}.sub{color:#555;margin-top:.2em}
h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;width:100%;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ccc;padding:.25em .45em;text-align:left;vertical-align:top}
th{background:#f2f2f2}tr:nth-child(even) td{background:#fafafa}code{background:#f4f4f4;
padding:0 .2em;word-break:break-all}svg{max-width:100%;height:auto;border:1px solid #ddd}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}tr{page-break-inside:avoid}}
"""


def _html(value: str, *, multiline: bool = False) -> str:
    """Untrusted text as HTML: controls visible, every character literal."""
    escaped = html.escape(inert(value, limit=BLOCK_LIMIT, multiline=multiline))
    return escaped.replace("\n", "<br>") if multiline else escaped


def _inline(text: str) -> str:
    """The report's own words: `**bold**` and `code` only."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _html_paragraph(paragraph: Paragraph) -> str:
    return "".join(
        _inline(part) if isinstance(part, str) else _html(part.value, multiline=part.multiline)
        for part in _parts(paragraph)
    )


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_html(c)}</td>" for c in row) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _svg(chart: Chart) -> str:
    width, height, pad = 720, 260, 40
    x = lambda s: pad + (width - 2 * pad) * s / chart.span_s  # noqa: E731
    y = lambda p: height - pad - (height - 2 * pad) * p / 100  # noqa: E731
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{html.escape(chart.title)}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
    ]
    for p in (0, 50, 100):
        parts.append(
            f'<line x1="{pad}" y1="{y(p):.1f}" x2="{width - pad}" y2="{y(p):.1f}" '
            f'stroke="#ddd"/><text x="4" y="{y(p) + 4:.1f}" font-size="11">{p}%</text>'
        )
    parts.append(
        f'<text x="{width - pad}" y="{height - 8}" font-size="11" text-anchor="end">'
        f"{chart.span_s / 60:.0f} min after {html.escape(chart.start_label)}</text>"
    )
    for index, (name, points) in enumerate(chart.series.items()):
        colour = COLOURS[index % len(COLOURS)]
        # a step line: a percentage holds until the next observation changes it
        stepped: list[tuple[float, float]] = []
        for at, percent in points:
            if stepped:
                stepped.append((at, stepped[-1][1]))
            stepped.append((at, percent))
        if stepped:
            stepped.append((chart.span_s, stepped[-1][1]))
        coords = " ".join(f"{x(s):.1f},{y(p):.1f}" for s, p in stepped)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>'
        )
        parts.append(
            f'<text x="{pad + 6}" y="{16 + 14 * index}" font-size="11" fill="{colour}">'
            f"{_html(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def html_document(doc: Document) -> str:
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    body = [f"<h1>{_html(doc.title)}</h1>", f'<p class="sub">{_html(doc.subtitle)}</p>']
    for section in doc.sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        body += [f"<p>{_html_paragraph(p)}</p>" for p in section.paragraphs]
        body += [
            f"<figure>{_svg(c)}<figcaption>{html.escape(c.title)}</figcaption></figure>"
            for c in section.charts
        ]
        body += [_html_table(t) for t in section.tables]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f"<title>{_html(doc.title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def write_both(doc: Document, directory: Path) -> list[Path]:
    """`report.html` and `report.md` of one document, side by side (the export, the demo)."""
    html_file, md_file = directory / "report.html", directory / "report.md"
    html_file.write_text(html_document(doc), encoding="utf-8")
    md_file.write_text(markdown(doc), encoding="utf-8")
    return [html_file, md_file]
