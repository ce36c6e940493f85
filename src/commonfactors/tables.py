"""Tables as a paper prints them: APA, LaTeX, Markdown and HTML, and Excel workbooks.

:func:`to_table` turns a decomposition (:func:`commonfactors.decompose`), a fitted model
(:func:`commonfactors.fit_mixed`) or a claim comparison (:func:`commonfactors.compare_claims`,
``Decomposition.compare_claims()``) into a :class:`PaperTable`: a numbered table with a title,
every estimand labelled in words, intervals in brackets and the notes a reader needs (the
interval method and replicates, denominators, reference levels, failed fits, sources). The same
table renders in four styles:

``"apa"``
    APA 7 layout as HTML with inline styles (table number in bold, title in italics, horizontal
    rules only, *Note.* below, no leading zero for values that cannot exceed 1); pasting it
    into Word or LibreOffice keeps the layout.
``"latex"``
    A ``table`` float with a ``booktabs`` tabular (``\\usepackage{booktabs}``).
``"markdown"``
    A pipe table with the title above and the notes below.
``"html"``
    A plain ``<table>`` with caption and footer, for web pages.

:func:`to_excel` writes the formatted table and the unrounded numbers to an ``.xlsx`` workbook
(needs ``openpyxl``: ``pip install "commonfactors[excel]"``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ._validation import check_option
from .errors import CommonFactorsError

__all__ = ["PaperTable", "to_table", "to_excel", "STYLES"]

#: The output styles of :func:`to_table`.
STYLES = ("apa", "latex", "markdown", "html")

_DASH = "\u2014"

# factor-share columns, in order: estimand, column heading, note on its denominator
_SHARE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("share_total_variance", "Share of total variance",
     "share of total variance = of all outcome variance (therapist, client and residual "
     "included)"),
    ("share_explained_variance", "Share of explained variance",
     "share of explained variance = of the variance the predictors explain (marginal R\u00b2)"),
    ("share_therapy_variance", "Share of therapy-attributable variance",
     "share of therapy-attributable variance = of the explained variance of the groups other "
     "than extra-therapeutic"),
    ("part_r2", "Part R\u00b2",
     "part R\u00b2 = what the marginal R\u00b2 loses when the group is left out (over total "
     "variance)"),
    ("share_mean_improvement", "Share of mean improvement",
     "share of mean improvement = of the average improvement, each group moved from its "
     "reference level (below) to its observed values"),
)

# model-level rows, in order: estimand, label, bounded by 1 (APA: no leading zero)
_MODEL_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("icc_therapist", "Therapist ICC, null model", True),
    ("icc_therapist_adjusted", "Therapist ICC, adjusted for the factors", True),
    ("icc_client", "Client ICC, null model", True),
    ("icc_client_adjusted", "Client ICC, adjusted for the factors", True),
    ("d_therapist", "Therapist effect, d = 2\u221a(ICC/(1\u2212ICC))", False),
    ("r2_marginal", "Marginal R\u00b2", True),
    ("r2_conditional", "Conditional R\u00b2", True),
    ("mean_improvement", "Mean improvement (outcome units)", False),
)

_FACTOR_NAMES = {"extra_therapeutic": "Extra-therapeutic"}

_ESTIMAND_WORDS = {est: head.lower() if not head.startswith("Part") else head
                   for est, head, _ in _SHARE_COLUMNS}
_ESTIMAND_WORDS.update({est: label[:1].lower() + label[1:] for est, label, _ in _MODEL_ROWS})
_ESTIMAND_WORDS["correlation"] = "correlation with improvement"


def _factor_name(name: Any) -> str:
    s = str(name)
    if s in _FACTOR_NAMES:
        return _FACTOR_NAMES[s]
    words = s.replace("_", " ")
    return words[:1].upper() + words[1:]


def _estimand_words(name: Any) -> str:
    return _ESTIMAND_WORDS.get(str(name), str(name).replace("_", " "))


# --------------------------------------------------------------------------------------------
# the table object
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class PaperTable:
    """A formatted table: title, column headings, rows of printed cells and notes.

    Rows whose only entry is a string are panel headings (e.g. "Fixed effects"). ``str()`` of
    the table (and :meth:`render`) gives the text in its ``style``; in Jupyter the APA and HTML
    styles display as HTML, Markdown as Markdown.

    Attributes
    ----------
    title : str
        Title (printed in italics under "Table N" in the APA style).
    columns : list of str
        Column headings.
    rows : list
        Each row a list of printed cells, or a one-element list: a panel heading.
    notes : list of str
        General notes, printed after *Note.* in order.
    style : {"apa", "latex", "markdown", "html"}
        The default style of :meth:`render`.
    number : int
        The table number.
    data : DataFrame
        The unrounded numbers behind the printed cells.
    """

    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str]
    style: str = "apa"
    number: int = 1
    data: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def render(self, style: str | None = None) -> str:
        """Return the table as text in ``style`` (default: the table's own style)."""
        style = self.style if style is None else style
        check_option("style", style, STYLES)
        from . import _tables_render as R

        return {"apa": R.render_apa, "latex": R.render_latex, "markdown": R.render_markdown,
                "html": R.render_html}[style](self)

    def to_frame(self) -> pd.DataFrame:
        """The printed cells as a DataFrame (panel headings as rows with the other cells empty)."""
        body = [r if len(r) == len(self.columns) else [r[0]] + [""] * (len(self.columns) - 1)
                for r in self.rows]
        return pd.DataFrame(body, columns=self.columns)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return (f"<PaperTable: Table {self.number}, {self.title!r}; {len(self.rows)} rows, "
                f"{len(self.notes)} notes; style {self.style!r}>")

    def _repr_html_(self) -> str | None:
        if self.style in ("apa", "html"):
            return self.render()
        return None

    def _repr_markdown_(self) -> str | None:
        return self.render() if self.style == "markdown" else None

    def _repr_latex_(self) -> str | None:
        return self.render() if self.style == "latex" else None


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------
def to_table(obj: Any, style: str = "apa", *, number: int = 1, title: str | None = None,
             digits: int = 2) -> PaperTable:
    """Format a decomposition, a fitted model or a claim comparison as a paper's table.

    Parameters
    ----------
    obj : Decomposition, MixedFit or DataFrame
        The result of :func:`commonfactors.decompose`, of :func:`commonfactors.fit_mixed`, or a
        claim comparison (:func:`commonfactors.compare_claims` /
        ``Decomposition.compare_claims()``).
    style : {"apa", "latex", "markdown", "html"}, default "apa"
        How ``str(table)`` renders (:meth:`PaperTable.render` takes any style later).
    number : int, default 1
        The table number ("Table 1").
    title : str, optional
        The title; default: one that says what the table holds.
    digits : int, default 2
        Decimals of model coefficients and variances (shares are percentages with 1 decimal,
        ICCs, R² and correlations have 3 decimals).

    Returns
    -------
    PaperTable
        The formatted table; ``.data`` holds the unrounded numbers.

    Raises
    ------
    CommonFactorsError
        ``obj`` is none of the three kinds, or ``style`` is unknown.

    Notes
    -----
    Decomposition tables have one row per factor group and one column per estimand (shares as
    percentages, interval in brackets), a second panel with the ICCs, R² and mean improvement,
    and notes with the interval method and level, replicates run and failed, the denominators,
    the model, the reference levels of the shares of mean improvement and every note of the
    decomposition (singular fits, failed replicates). A dash marks an estimand that is not
    defined for a group (extra-therapeutic factors are outside the therapy-attributable
    variance by definition).

    Examples
    --------
    >>> import commonfactors as cf
    >>> sim = cf.simulate("norcross_lambert_2011", n_therapists=6, clients_per_therapist=5,
    ...                   n_sessions=4, seed=1)
    >>> res = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=0)
    >>> tab = cf.to_table(res, style="markdown")
    >>> tab.columns[:2]
    ['Factor', 'Share of total variance']
    >>> print(tab.render("markdown").splitlines()[0])
    **Table 1**
    """
    check_option("style", style, STYLES)
    number = int(number)
    # recognised by what they hold (no import of the result classes: they import this module)
    if all(hasattr(obj, a) for a in ("table", "components", "n_boot", "n_boot_failed")):
        return _decomposition_table(obj, style, number, title)
    if all(hasattr(obj, a) for a in ("fixed", "std_errors", "variance", "reml", "loglik")):
        return _fit_table(obj, style, number, title, digits)
    if isinstance(obj, pd.DataFrame) and {"claim", "estimand", "verdict"} <= set(obj.columns):
        return _claims_table(obj, style, number, title)
    raise CommonFactorsError(
        "`obj`: expecting a Decomposition (cf.decompose), a MixedFit (cf.fit_mixed) or a claim "
        "comparison table (cf.compare_claims); got "
        f"{type(obj).__name__}" + (f" with columns {list(obj.columns)}"
                                   if isinstance(obj, pd.DataFrame) else "") + "."
    )


def to_excel(obj: Any, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Write a table and its unrounded numbers to an Excel workbook (``.xlsx``).

    Parameters
    ----------
    obj : Decomposition, MixedFit, claim comparison DataFrame or PaperTable
        What to write (see :func:`to_table`).
    path : str or path
        The ``.xlsx`` file (its folder is created if needed).
    title : str, optional
        The table's title (default as in :func:`to_table`).

    Returns
    -------
    pathlib.Path
        ``path``. Sheet ``table``: the title, the printed table and the notes, as in a paper;
        sheet ``data``: the unrounded numbers.

    Raises
    ------
    CommonFactorsError
        ``openpyxl`` is not installed, or ``path`` does not end in ``.xlsx``.

    Examples
    --------
    >>> import commonfactors as cf, tempfile, pathlib
    >>> sim = cf.simulate("norcross_lambert_2011", n_therapists=6, clients_per_therapist=5,
    ...                   n_sessions=4, seed=1)
    >>> res = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=0)
    >>> out = cf.to_excel(res, pathlib.Path(tempfile.mkdtemp()) / "shares.xlsx")
    >>> out.suffix
    '.xlsx'
    """
    out = Path(path)
    if out.suffix.lower() != ".xlsx":
        raise CommonFactorsError(f"`path`: expecting a file name ending in .xlsx; got {out.name!r}.")
    try:
        import openpyxl  # noqa: F401
    except ImportError as err:
        raise CommonFactorsError(
            "Excel export needs the openpyxl package, which is not installed; install it with "
            '`pip install "commonfactors[excel]"` (or `pip install openpyxl`).'
        ) from err
    tab = obj if isinstance(obj, PaperTable) else to_table(obj, title=title)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame = tab.to_frame()
    with pd.ExcelWriter(out, engine="openpyxl") as xl:
        frame.to_excel(xl, sheet_name="table", index=False, startrow=2)
        tab.data.to_excel(xl, sheet_name="data", index=False)
        sheet = xl.sheets["table"]
        sheet.cell(row=1, column=1, value=f"Table {tab.number}")
        sheet.cell(row=2, column=1, value=tab.title)
        row = 3 + len(frame) + 2
        for i, note in enumerate(tab.notes):
            sheet.cell(row=row + i, column=1, value=("Note. " if i == 0 else "") + note)
        from openpyxl.styles import Font

        sheet.cell(row=1, column=1).font = Font(bold=True)
        sheet.cell(row=2, column=1).font = Font(italic=True)
        for j in range(len(frame.columns)):
            width = max([len(str(frame.columns[j]))] + [len(str(v)) for v in frame.iloc[:, j]])
            sheet.column_dimensions[_excel_column(j)].width = min(60, width + 2)
    return out


def _excel_column(j: int) -> str:
    name = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        name = chr(65 + r) + name
    return name


# --------------------------------------------------------------------------------------------
# number formats
# --------------------------------------------------------------------------------------------
def _isnum(v: Any) -> bool:
    try:
        return v is not None and not pd.isna(v) and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _num(v: Any, digits: int, *, bounded: bool = False, style: str = "apa") -> str:
    if not _isnum(v):
        return _DASH
    s = f"{float(v):.{digits}f}"
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    if bounded and style == "apa":  # APA: no leading zero when the value cannot exceed 1
        s = s.replace("0.", ".", 1) if s.startswith(("0.", "-0.")) else s
    return s.replace("-", "\u2212") if style in ("apa", "html") else s


def _pct(v: Any) -> str:
    return _DASH if not _isnum(v) else f"{100 * float(v):.1f}"


def _with_ci(est: str, lo: Any, hi: Any, fmt) -> str:
    if est == _DASH or not (_isnum(lo) and _isnum(hi)):
        return est
    return f"{est} [{fmt(lo)}, {fmt(hi)}]"


# --------------------------------------------------------------------------------------------
# decomposition
# --------------------------------------------------------------------------------------------
def _decomposition_table(res: Any, style: str, number: int, title: str | None) -> PaperTable:
    t = res.table
    level = float(getattr(res, "level", 0.95))
    has_ci = res.n_boot > 0 and t[["ci_low", "ci_high"]].notna().any(axis=None)
    cell = {(r.factor, r.estimand): r for r in t.itertuples(index=False)}
    share_cols = [c for c in _SHARE_COLUMNS if (t["estimand"] == c[0]).any()]
    with_r = (t["estimand"] == "correlation").any()
    factors = [f for f in dict.fromkeys(t["factor"]) if f not in ("model", "therapist", "client",
                                                                  "residual")]
    columns = ["Factor"] + [head for _, head, _ in share_cols]
    if with_r:
        columns.append("r with improvement")
    rows: list[list[str]] = [["Factor shares (%)"]]
    for f in factors:
        row = [_factor_name(f)]
        for est, _, _ in share_cols:
            r = cell.get((f, est))
            row.append(_DASH if r is None else _with_ci(_pct(r.estimate), r.ci_low, r.ci_high,
                                                        _pct))
        if with_r:
            r = cell.get((f, "correlation"))

            def fmt_r(v: Any) -> str:
                return _num(v, 3, bounded=True, style=style)

            row.append(_DASH if r is None else _with_ci(fmt_r(r.estimate), r.ci_low, r.ci_high,
                                                        fmt_r))
        rows.append(row)
    model_rows = []
    for est, label, bounded in _MODEL_ROWS:
        sel = t[t["estimand"] == est]
        if sel.empty:
            continue
        r = sel.iloc[0]
        digits = 3 if bounded else 2

        def fmt(v: Any, digits: int = digits, bounded: bool = bounded) -> str:
            return _num(v, digits, bounded=bounded, style=style)

        model_rows.append([label, _with_ci(fmt(r["estimate"]), r["ci_low"], r["ci_high"], fmt)]
                          + [""] * (len(columns) - 2))
    if model_rows:
        rows.append(["Model"])
        rows.extend(model_rows)

    ci_words = {"percentile": "percentile", "basic": "basic", "bca": "bias-corrected and "
                "accelerated (BCa)", "auto": "(method per estimand family, ci='auto')"
                }.get(str(res.ci), str(res.ci))
    notes = []
    if has_ci:
        notes.append(
            f"Estimates with {level:.0%} {ci_words} cluster-bootstrap intervals in brackets "
            f"({res.n_boot} replicates resampling therapists; {res.n_boot_failed} failed and "
            "left out of the intervals)."
        )
    else:
        notes.append("Point estimates only: no bootstrap intervals were computed (n_boot = 0).")
    if has_ci and "method" in t.columns:  # model rows whose interval is not a bootstrap one
        prof = set(t.loc[t["method"] == "profile", "estimand"])
        words = [label[:1].lower() + label[1:] for est, label, _ in _MODEL_ROWS if est in prof]
        if words:
            notes.append("Profile-likelihood intervals, not bootstrap ones: " + "; ".join(words)
                         + " (a bootstrap cannot cover a therapist variance near zero).")
    notes.append("Shares are percentages: " + "; ".join(n for _, _, n in share_cols) + ".")
    if with_r:
        notes.append("r = correlation of the group's linear predictor with improvement.")
    if (t["estimate"].isna()).any():
        notes.append(f"{_DASH} = not defined for this group (extra-therapeutic factors are "
                     "outside the therapy-attributable variance by definition) or not estimable "
                     "from these data.")
    notes.append(
        f"Model ({res.view} view): {res.formula}; {res.n_obs} rows, {res.n_clients} clients, "
        f"{res.n_therapists} therapists."
    )
    refs = getattr(res, "references", None)
    if refs is not None and len(refs):
        parts = [f"{_factor_name(r.factor).lower()}: {r.column} = {r.reference:g}"
                 + (f" ({r.note})" if str(r.note) else "") for r in refs.itertuples()]
        notes.append("Reference levels of the shares of mean improvement: " + "; ".join(parts)
                     + ".")
    notes.extend(f"{n[:1].upper()}{n[1:]}" + ("" if str(n).endswith(".") else ".")
                 for n in res.notes)
    data = t.assign(label=t["estimand"].map(_estimand_words))
    return PaperTable(
        title=title or "Shares of psychotherapy outcome attributed to each factor group",
        columns=columns, rows=rows, notes=notes, style=style, number=number, data=data)


# --------------------------------------------------------------------------------------------
# fitted model
# --------------------------------------------------------------------------------------------
def _fit_table(fit: Any, style: str, number: int, title: str | None, digits: int) -> PaperTable:
    from scipy.stats import norm

    z = float(norm.ppf(0.975))

    def fmt(v: Any) -> str:
        return _num(v, digits, style=style)

    columns = ["Parameter", "Estimate", "SE", "95% CI"]
    rows: list[list[str]] = [["Fixed effects"]]
    data_rows = []
    for term, b in fit.fixed.items():
        se = float(fit.std_errors[term])
        lo, hi = b - z * se, b + z * se
        rows.append([str(term), fmt(b), fmt(se), f"[{fmt(lo)}, {fmt(hi)}]"])
        data_rows.append({"part": "fixed", "parameter": str(term), "estimate": float(b),
                          "std_error": se, "ci_low": lo, "ci_high": hi})
    rows.append(["Random effects (variances and covariances)"])
    for r in fit.variance.itertuples(index=False):
        if r.group == "residual":
            label = "Residual variance"
        elif r.term1 == r.term2:
            label = f"{r.group}: Var({r.term1})"
        else:
            label = f"{r.group}: Cov({r.term1}, {r.term2})"
        rows.append([label, fmt(r.estimate), "", ""])
        data_rows.append({"part": "random", "parameter": label, "estimate": float(r.estimate),
                          "std_error": float("nan"), "ci_low": float("nan"),
                          "ci_high": float("nan")})
    groups = ", ".join(f"{n} {g}s" for g, n in getattr(fit, "n_groups", {}).items())
    notes = [
        f"Linear mixed model {fit.formula}, fitted by {'REML' if fit.reml else 'ML'} "
        f"({fit.engine} engine); {fit.n_obs} observations" + (f", {groups}" if groups else "")
        + f"; log-likelihood {fit.loglik:.2f}.",
        "CI = Wald interval, estimate \u00b1 1.96 SE (normal approximation).",
        "Converged." if fit.converged else "The optimiser did NOT converge: do not interpret.",
    ]
    if fit.singular:
        notes.append("Boundary (singular) fit: a variance is estimated at 0 or a correlation "
                     "at \u00b11.")
    if getattr(fit, "n_dropped", 0):
        notes.append(f"{fit.n_dropped} rows with missing values were dropped.")
    notes.extend(str(w) for w in getattr(fit, "warnings", ()) if str(w) not in " ".join(notes))
    return PaperTable(title=title or "Linear mixed model of the outcome", columns=columns,
                      rows=rows, notes=notes, style=style, number=number,
                      data=pd.DataFrame(data_rows))


# --------------------------------------------------------------------------------------------
# claim comparison
# --------------------------------------------------------------------------------------------
def _claims_table(cmp: pd.DataFrame, style: str, number: int, title: str | None) -> PaperTable:
    columns = ["Claim", "Factor", "Estimand", "Claimed", "Estimate", "Verdict"]
    rows = []
    sources: dict[str, str] = {}
    for r in cmp.itertuples(index=False):
        share = str(r.estimand).startswith(("share_", "part_r2"))

        def fmt(v: Any, share: bool = share) -> str:
            return _pct(v) + "%" if share and _isnum(v) else _num(v, 3, bounded=True,
                                                                  style=style)

        est = _with_ci(fmt(r.estimate), r.ci_low, r.ci_high, fmt)
        rows.append([str(r.claim), _factor_name(r.factor), _estimand_words(r.estimand),
                     str(r.claimed), est, str(r.verdict)])
        sources.setdefault(str(r.claim), _claim_source(str(r.claim)))
    notes = [
        "Verdict: consistent when the claimed value (or range) lies within the interval of the "
        "estimate; inconsistent when it lies outside; not estimable here when the data cannot "
        "speak to the estimand. Estimates with their intervals in brackets.",
    ]
    notes += [f"{cid}: {src}." for cid, src in sources.items() if src]
    return PaperTable(title=title or "Published claims beside the estimates of the same "
                      "estimand", columns=columns, rows=rows, notes=notes, style=style,
                      number=number, data=cmp.copy())


def _claim_source(claim_id: str) -> str:
    try:
        from .claims import get_claim

        parts = get_claim(claim_id)
    except CommonFactorsError:
        return ""
    return str(parts[0].source).rstrip(".") if parts else ""
