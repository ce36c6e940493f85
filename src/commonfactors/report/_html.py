"""HTML building blocks of the report: page frame, style, number formats, tables, figures.

Plain string templates; every value that comes from data passes through :func:`esc`. Numbers
are printed with 3 decimals (shares as percentages with 1 decimal, i.e. 3 decimals of the
fraction); the full-precision value of every estimate is kept in ``data-*`` attributes of its
table cell, so the page can be read back by a program without parsing printed text.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from ..estimands import ESTIMANDS
from ..estimands import ICC_ESTIMANDS as _ICCS
from ..estimands import SHARE_ESTIMANDS as _SHARES
from ..plots.style import estimand_label, factor_label

# estimands of the factor-shares table, in column order, with their denominators in words
SHARE_ESTIMANDS: tuple[tuple[str, str, str], ...] = tuple(
    (n, ESTIMANDS[n].label, ESTIMANDS[n].denominator) for n in _SHARES)

# rows of the ICC / R2 table, in order, with their labels
ICC_ESTIMANDS: tuple[tuple[str, str], ...] = tuple((n, ESTIMANDS[n].label) for n in _ICCS)

COMPONENT_LABELS: dict[str, str] = {
    "f1": "fixed effects of within-client predictors (f1)",
    "f2": "fixed effects of between-client predictors (f2)",
    "f3": "fixed effects of between-therapist predictors (f3)",
    "f": "all fixed effects (f)",
    "v": "random slopes (v)",
    "m_client": "client intercepts (m, client)",
    "m_therapist": "therapist intercepts (m, therapist)",
    "residual": "residual (\u03c3\u00b2)",
}

MEASURE_LABELS: dict[str, str] = {
    "variance": "variance (outcome units\u00b2)",
    "total": "share of total variance",
    "within_client": "share of within-client variance",
    "between_client": "share of between-client variance",
    "between_therapist": "share of between-therapist variance",
}

VERDICT_CLASS = {
    "consistent": "v-ok",
    "inconsistent": "v-bad",
    "not estimable here": "v-na",
}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0 auto;max-width:1180px;padding:1em 1.5em 3em;color:#222;line-height:1.45}
h1{font-size:1.8em;margin-bottom:.2em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;
margin-top:2.2em}h3{margin-top:1.6em;color:#0b4f7a}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .55em;vertical-align:top;text-align:left}
th{background:#f0f4f8}td.num,td.est{text-align:right}
.ci,.truth{white-space:nowrap}td,th{overflow-wrap:anywhere}
th small,td small{display:block;font-weight:normal;color:#555;font-size:.8em;white-space:normal}
.ci{color:#555;font-size:.85em}.truth{display:block;color:#1a7a50;font-size:.85em}
.na{color:#999}
.box{border-left:5px solid;padding:.6em 1em;margin:.8em 0;border-radius:3px}
.warn{background:#fff4e5;border-color:#e69f00}.error{background:#fdecea;border-color:#d55e00}
.info{background:#eef6fc;border-color:#0072B2}
.v-ok{background:#e3f4ea;color:#0d5c36;font-weight:600}
.v-bad{background:#fdecea;color:#a3300b;font-weight:600}.v-na{background:#f2f2f2;color:#666}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#444}nav ol{margin:.2em 0}nav li{margin:.15em 0}
nav ol ol{list-style:none;padding-left:.8em}nav ol ol li{display:inline;margin-right:1em;font-size:.9em}
code{background:#f5f5f5;padding:0 .25em;border-radius:2px}
footer{margin-top:3em;font-size:.85em;color:#444;border-top:1px solid #ccc}
details summary{cursor:pointer;color:#0b4f7a}
table.wide{width:100%}table.wide td:last-child{min-width:18em}
"""


# --------------------------------------------------------------------------------------------
# escaping and numbers
# --------------------------------------------------------------------------------------------
def esc(value: Any) -> str:
    """HTML-escape ``str(value)`` (quotes included)."""
    return html.escape(str(value), quote=True)


def as_float(value: Any) -> float:
    """``value`` as a float, NaN when missing or not a number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v


def is_fraction(estimand: str) -> bool:
    """Whether an estimand is a proportion (printed as a percentage)."""
    name = str(estimand)
    return name.startswith(("share_", "icc_", "r2_")) or name in ("part_r2", "total",
                                                                  "within_client",
                                                                  "between_client",
                                                                  "between_therapist")


def fmt(value: Any, percent: bool = False) -> str:
    """A number with 3 decimals, or a percentage with 1 decimal; a dash when missing."""
    v = as_float(value)
    if not math.isfinite(v):
        return "\u2014"
    if percent:
        return f"{100.0 * v:.1f}%"
    return f"{v:.3f}"


def fmt_ci(low: Any, high: Any, percent: bool = False) -> str:
    """``[low, high]``, or an empty string when the interval is missing."""
    lo, hi = as_float(low), as_float(high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    return f"[{fmt(lo, percent)}, {fmt(hi, percent)}]"


def attr_number(value: Any) -> str:
    """Full-precision text of a number for a ``data-*`` attribute (``nan`` when missing)."""
    v = as_float(value)
    return repr(v) if math.isfinite(v) else "nan"


# --------------------------------------------------------------------------------------------
# cells and tables
# --------------------------------------------------------------------------------------------
def estimate_cell(row: Mapping[str, Any] | None, *, factor: str, estimand: str,
                  truth: float | None = None, percent: bool | None = None) -> str:
    """A ``<td>`` with estimate, interval and (optionally) the truth, and data attributes."""
    pct = is_fraction(estimand) if percent is None else percent
    truth_html = ""
    truth_attr = ""
    if truth is not None and math.isfinite(as_float(truth)):
        truth_html = f'<span class="truth">truth {fmt(truth, pct)}</span>'
        truth_attr = f' data-truth="{attr_number(truth)}"'
    if row is None:
        return (f'<td class="est na" data-factor="{esc(factor)}" data-estimand="{esc(estimand)}"'
                f'{truth_attr}>not estimated{truth_html}</td>')
    est, lo, hi = row.get("estimate"), row.get("ci_low"), row.get("ci_high")
    ci = fmt_ci(lo, hi, pct)
    ci_html = f' <span class="ci">{ci}</span>' if ci else ""
    return (
        f'<td class="est" data-factor="{esc(factor)}" data-estimand="{esc(estimand)}" '
        f'data-estimate="{attr_number(est)}" data-ci-low="{attr_number(lo)}" '
        f'data-ci-high="{attr_number(hi)}"{truth_attr}>{fmt(est, pct)}{ci_html}{truth_html}</td>'
    )


def blank_cell(note: str = "not defined") -> str:
    return f'<td class="na">{esc(note)}</td>'


def simple_table(header: Sequence[str], rows: Iterable[Sequence[str]], *,
                 cls: str = "", attrs: str = "") -> str:
    """A table from pre-rendered cells (header texts are escaped; row cells are HTML)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    cls_attr = f' class="{cls}"' if cls else ""
    return f"<table{cls_attr}{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def td(value: Any, cls: str = "") -> str:
    cls_attr = f' class="{cls}"' if cls else ""
    return f"<td{cls_attr}>{esc(value)}</td>"


def box(kind: str, title: str, items: Sequence[str] | str) -> str:
    """A visible box (``warn``, ``error`` or ``info``) holding escaped text items."""
    if isinstance(items, str):
        inner = f"<p>{esc(items)}</p>"
    else:
        inner = "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"
    return f'<div class="box {kind}" role="note"><strong>{esc(title)}</strong>{inner}</div>'


def factor_words(factor: Any) -> str:
    return factor_label(factor)


def estimand_words(estimand: Any) -> str:
    return estimand_label(estimand)


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
def new_figure(width: float, height: float) -> Figure:
    """A figure not registered with pyplot (no global state; freed with its last reference)."""
    return Figure(figsize=(width, height), layout="constrained")


# no time stamps in saved figures, so the same report gives the same files
_REPRODUCIBLE_METADATA: dict[str, dict[str, Any]] = {"svg": {"Date": None},
                                                      "pdf": {"CreationDate": None}}


class FigureFiles:
    """Where :func:`figure_html` also saves each figure (SVG/PDF/PNG files), while active.

    ``names`` maps a figure-id prefix (the section anchor) to a readable file-name prefix.
    """

    active: FigureFiles | None = None

    def __init__(self, folder: Path, formats: Sequence[str], names: Mapping[str, str]) -> None:
        self.folder, self.formats, self.names = folder, tuple(formats), dict(names)
        self.written: list[Path] = []

    def __enter__(self) -> FigureFiles:
        FigureFiles.active = self
        return self

    def __exit__(self, *exc: object) -> None:
        FigureFiles.active = None

    def save(self, fig: Figure, fig_id: str) -> None:
        if not self.formats:
            return
        stem = fig_id
        for prefix, name in self.names.items():
            if fig_id.startswith(prefix + "-fig-"):
                stem = f"{name}_{fig_id[len(prefix) + 5:]}"
        self.folder.mkdir(parents=True, exist_ok=True)
        for fmt in self.formats:
            path = self.folder / f"{stem}.{fmt}"
            fig.savefig(path, format=fmt, dpi=300 if fmt == "png" else None,
                        metadata=_REPRODUCIBLE_METADATA.get(fmt))
            self.written.append(path)


def figure_html(fig: Figure, caption: str, alt: str, *, fig_id: str) -> str:
    """The figure as an embedded base64 PNG inside ``<figure>`` with an escaped caption."""
    if FigureFiles.active is not None:
        FigureFiles.active.save(fig, fig_id)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<figure id="{esc(fig_id)}"><img src="data:image/png;base64,{data}" '
            f'alt="{esc(alt)}"><figcaption>{esc(caption)}</figcaption></figure>')


# --------------------------------------------------------------------------------------------
# page
# --------------------------------------------------------------------------------------------
INTRO = """
<section id="why"><h2>Why 12%, 40&ndash;50% and 80% are different questions</h2>
<p>The field quotes very different figures for what the therapeutic relationship contributes
to outcome. They need not contradict each other: each is a share of a <em>different
whole</em> (a different denominator).</p>
<ul>
<li><strong>About 12%</strong> is a <em>share of total outcome variance</em>: of all the
differences between clients' outcomes (including therapist, client and residual variance),
the part that goes with the relationship (Norcross &amp; Lambert 2011).</li>
<li><strong>40&ndash;50%</strong> is a <em>share of therapy-attributable variance</em>: the
same part divided by only what therapy factors explain (e.g. 12/30), leaving out the
extra-therapeutic factors and the unexplained rest.</li>
<li><strong>Up to 80%</strong> is closest to a <em>share of mean improvement</em>: a part of
the <em>average</em> change, counted against a reference level that stands for
&ldquo;absent&rdquo; (poor alliance, control arm). A factor with little spread between clients
can carry much of the average change; the share moves with the reference level.</li>
</ul>
<p>Every number below names its estimand. Shares with different denominators are never added
or compared with each other; each published claim is set only beside an estimate of the same
estimand.</p></section>
"""

REFERENCES = """
<footer><h2>References</h2><ol>
<li>Rights, J. D., &amp; Sterba, S. K. (2019). Quantifying explained variance in multilevel
models: an integrative framework for defining R-squared measures. Psychological Methods, 24(3),
309&ndash;338.</li>
<li>Lai, J., Zou, Y., Zhang, J., &amp; Peres-Neto, P. R. (2022). Generalizing hierarchical and
variation partitioning in multiple regression and canonical analyses using the rdacca.hp R
package. Methods in Ecology and Evolution, 13(4), 782&ndash;788.</li>
<li>Stoffel, M. A., Nakagawa, S., &amp; Schielzeth, H. (2021). partR2: partitioning R2 in
generalized linear mixed models. PeerJ, 9, e11414.</li>
<li>Norcross, J. C., &amp; Lambert, M. J. (2011). Psychotherapy relationships that work II.
Psychotherapy, 48(1), 4&ndash;8.</li>
<li>Lambert, M. J. (1992). Psychotherapy outcome research. In J. C. Norcross &amp;
M. R. Goldfried (Eds.), Handbook of psychotherapy integration (pp. 94&ndash;129).</li>
<li>Nakagawa, S., Johnson, P. C. D., &amp; Schielzeth, H. (2017). The coefficient of
determination R2 and intra-class correlation coefficient from generalized linear mixed-effects
models revisited and expanded. Journal of the Royal Society Interface, 14, 20170213.</li>
</ol></footer>
"""


def page(title: str, header_html: str, toc_html: str, sections_html: str) -> str:
    """The whole self-contained document (inline CSS, no scripts, no external resources)."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1>{header_html}</header>"
        f"{INTRO}{toc_html}{sections_html}{REFERENCES}</body></html>\n"
    )
