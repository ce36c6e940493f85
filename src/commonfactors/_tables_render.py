"""Renderers of :class:`commonfactors.tables.PaperTable`: APA (HTML), LaTeX, Markdown, HTML."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

PaperTable = Any  # commonfactors.tables.PaperTable (not imported: tables imports this module)


def _panel(row: Sequence[str], n: int) -> bool:
    return len(row) == 1 and n > 1


def _span(row: Sequence[str]) -> tuple[list[str], int]:
    """Cells up to the last non-empty one, and how many columns the last of them spans."""
    cells = list(row)
    k = len(cells)
    while k > 2 and cells[k - 1] == "":
        k -= 1
    return cells[:k], len(cells) - k + 1


def render_markdown(tab: PaperTable) -> str:
    n = len(tab.columns)

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    out = [f"**Table {tab.number}**", "", f"*{tab.title}*", "", line(tab.columns),
           "|" + "|".join([":---"] + ["---:"] * (n - 1)) + "|"]
    for row in tab.rows:
        out.append(line([f"*{row[0]}*"] + [""] * (n - 1)) if _panel(row, n) else line(row))
    if tab.notes:
        out += ["", "*Note.* " + " ".join(tab.notes)]
    return "\n".join(out) + "\n"


def render_html(tab: PaperTable) -> str:
    n = len(tab.columns)
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in tab.columns)
    body = []
    for row in tab.rows:
        if _panel(row, n):
            body.append(f'<tr class="panel"><th colspan="{n}" scope="rowgroup">{e(row[0])}'
                        "</th></tr>")
        else:
            cells, span = _span(row)
            tds = [f"<td>{e(c)}</td>" for c in cells]
            if span > 1:
                tds[-1] = f'<td colspan="{span}">{e(cells[-1])}</td>'
            body.append("<tr>" + "".join(tds) + "</tr>")
    notes = " ".join(e(x) for x in tab.notes)
    return (f'<table class="commonfactors-table">\n<caption>Table {tab.number}. '
            f"{e(tab.title)}</caption>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
            + "\n".join(body) + f'\n</tbody>\n<tfoot><tr><td colspan="{n}"><em>Note.</em> '
            f"{notes}</td></tr></tfoot>\n</table>\n")


_APA_FONT = "font-family:'Times New Roman',Times,serif;font-size:12pt"
_RULE = "1px solid #000"


def render_apa(tab: PaperTable) -> str:
    n = len(tab.columns)
    e = html.escape
    cell = "padding:2pt 8pt;text-align:{align};vertical-align:top"
    head = "".join(
        f'<th style="{cell.format(align="left" if j == 0 else "center")};font-weight:normal;'
        f'border-top:{_RULE};border-bottom:{_RULE}">{e(c)}</th>'
        for j, c in enumerate(tab.columns))
    body = []
    last = len(tab.rows) - 1
    for i, row in enumerate(tab.rows):
        bottom = f";border-bottom:{_RULE}" if i == last else ""
        if _panel(row, n):
            body.append(f'<tr><td colspan="{n}" style="{cell.format(align="left")};'
                        f'font-style:italic{bottom}">{e(row[0])}</td></tr>')
        else:
            cells, span = _span(row)
            tds = [f'<td style="{cell.format(align="left" if j == 0 else "center")}{bottom}">'
                   f"{e(c)}</td>" for j, c in enumerate(cells)]
            if span > 1:  # a model-level row: its one value spans the share columns
                tds[-1] = (f'<td colspan="{span}" style="{cell.format(align="left")}{bottom}">'
                           f"{e(cells[-1])}</td>")
            body.append("<tr>" + "".join(tds) + "</tr>")
    notes = " ".join(e(x) for x in tab.notes)
    return (f'<div class="commonfactors-apa" style="{_APA_FONT};line-height:1.5">\n'
            f'<p style="margin:0;font-weight:bold">Table {tab.number}</p>\n'
            f'<p style="margin:0 0 6pt;font-style:italic">{e(tab.title)}</p>\n'
            f'<table style="border-collapse:collapse;{_APA_FONT}">\n<thead><tr>{head}</tr>'
            "</thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>\n"
            f'<p style="margin:6pt 0 0"><em>Note.</em> {notes}</p>\n</div>\n')


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}
_LATEX_UNICODE = {"\u00b2": r"\textsuperscript{2}", "\u2014": "---", "\u2212": "$-$",
                  "\u00b1": r"$\pm$", "\u221a": r"$\surd$", "\u03c3": r"$\sigma$"}


def _tex(text: Any) -> str:
    s = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))
    for k, v in _LATEX_UNICODE.items():
        s = s.replace(k, v)
    return s


def render_latex(tab: PaperTable) -> str:
    n = len(tab.columns)
    out = [r"\begin{table}[htbp]", r"\centering", r"\small",
           rf"\caption{{{_tex(tab.title)}}}", r"\begin{tabular}{l" + "c" * (n - 1) + "}",
           r"\toprule", " & ".join(_tex(c) for c in tab.columns) + r" \\", r"\midrule"]
    for row in tab.rows:
        if _panel(row, n):
            out.append(rf"\multicolumn{{{n}}}{{l}}{{\textit{{{_tex(row[0])}}}}} \\")
        else:
            cells, span = _span(row)
            tex = [_tex(c) for c in cells]
            if span > 1:
                tex[-1] = rf"\multicolumn{{{span}}}{{l}}{{{tex[-1]}}}"
            out.append(" & ".join(tex) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    if tab.notes:
        out.append(r"\par\smallskip\parbox{\linewidth}{\footnotesize\textit{Note.} "
                   + " ".join(_tex(x) for x in tab.notes) + "}")
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"
