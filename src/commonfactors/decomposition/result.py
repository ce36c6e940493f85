"""The result of :func:`commonfactors.decompose`: :class:`Decomposition` and its presentation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ColumnError, FactorGroupError
from ._references import LazyFit, MeanModel

__all__ = ["Decomposition"]


@dataclass(frozen=True)
class Decomposition:
    """Result of :func:`decompose` (see its docstring for every field)."""

    table: pd.DataFrame
    components: pd.DataFrame
    commonality: pd.DataFrame
    references: pd.DataFrame
    subsets: pd.DataFrame
    view: str
    formula: str
    fit: Any = field(repr=False)  # a MixedFit, or a LazyFit resolved on first access
    n_obs: int
    n_clients: int
    n_therapists: int
    data_summary: dict | None
    n_boot: int
    n_boot_failed: int
    ci: str
    seed: object
    notes: tuple
    replicates: pd.DataFrame = field(repr=False)
    _mean: MeanModel | None = field(repr=False, default=None)
    level: float = 0.95

    def __getattribute__(self, name: str):
        value = object.__getattribute__(self, name)
        if name == "fit" and isinstance(value, LazyFit):  # fitted once, when first asked for
            value = value()
            object.__setattr__(self, "fit", value)
        return value

    # ------------------------------------------------------------------ presentation
    def summary(self) -> str:
        lines = [f"commonfactors decomposition ({self.view} view)",
                 f"model: {self.formula}",
                 f"rows {self.n_obs}, clients {self.n_clients}, therapists {self.n_therapists}; "
                 f"bootstrap {self.n_boot} replicates ({self.ci}), {self.n_boot_failed} failed"]
        for note in self.notes:
            lines.append(f"note: {note}")
        t = self.table.copy()
        for c in ("estimate", "ci_low", "ci_high", "estimate_corrected"):
            t[c] = t[c].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
        lines.append(t.to_string(index=False))
        if len(self.references):
            lines.append("reference levels for shares of mean improvement:")
            for r in self.references.itertuples():
                ref = f"{r.reference:g}" if isinstance(r.reference, (int, float)) else r.reference
                lines.append(f"  {r.factor}: {r.column} = {ref} ({r.note})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_table(self, style: str = "apa", **kwargs):
        """The table a paper prints: shares with intervals, ICCs and R², notes.

        ``style``: "apa", "latex", "markdown" or "html"; see :func:`commonfactors.to_table`.
        """
        from ..tables import to_table

        return to_table(self, style=style, **kwargs)

    def to_excel(self, path, **kwargs):
        """Write the table and the unrounded estimates to ``path`` (.xlsx; needs openpyxl)."""
        from ..tables import to_excel

        return to_excel(self, path, **kwargs)

    def _repr_html_(self) -> str:
        head = (f"<p><b>commonfactors decomposition</b> ({self.view} view): "
                f"<code>{_esc(self.formula)}</code><br>{self.n_obs} rows, {self.n_clients} clients,"
                f" {self.n_therapists} therapists; {self.n_boot} bootstrap replicates "
                f"({self.ci}), {self.n_boot_failed} failed</p>")
        notes = "".join(f"<p>note: {_esc(n)}</p>" for n in self.notes)
        return head + notes + self.table.to_html(index=False, float_format=lambda v: f"{v:.3f}")

    def compare_claims(self, claims=None, **kwargs) -> pd.DataFrame:
        """Each published claim beside the estimate of the same estimand (see claims module)."""
        from ..claims.registry import compare_claims

        return compare_claims(self.table, claims=claims, **kwargs)

    def plot(self, estimand: str = "share_total_variance", ax=None, claims=None):
        """Shares of one estimand with intervals, beside the claims about it.

        ``claims``: claim ids to draw (default: every claim of that estimand that can be
        compared here); ``claims=[]`` draws none.
        """
        from ..plots.figures import plot_shares

        t = self.table[self.table["estimand"] == estimand]
        cc = self.compare_claims()
        cc = cc[(cc["estimand"] == estimand) & (cc["verdict"] != "not estimable here")]
        if claims is not None:
            cc = cc[cc["claim"].isin(list(claims))]
        return plot_shares(t, claims=cc, estimand=estimand, ax=ax)

    def sensitivity(self, factor: str = "relationship", column: str | None = None,
                    values=None) -> pd.DataFrame:
        """The share of mean improvement as the factor's reference level moves.

        Default grid: 11 values from the lowest client mean of the column to its median. The
        model's coefficients are held at the point estimate.
        """
        m = self._mean
        if m is None or factor not in m.refs:
            raise FactorGroupError(
                f"`factor`: no share of mean improvement for {factor!r}; available: "
                f"{', '.join(m.refs if m is not None else {}) or 'none (no reference levels)'}.")
        refs = m.refs[factor]
        dummies = m.dummies
        column = column or next((c for c in refs if c not in dummies), None)
        if column is None or column in dummies:
            src = dummies.get(column) or next(iter({dummies[c] for c in refs if c in dummies}))
            raise FactorGroupError(
                f"`column`: {src!r} of {factor!r} is categorical; its reference is a level, not "
                "a value on a scale. Compare levels by rerunning decompose with "
                f"references={{{factor!r}: {{{src!r}: <level>}}}}.")
        if column not in refs:
            raise ColumnError(f"`column`: {column!r} is not a column of {factor!r} ({', '.join(refs)}).")
        if values is None:
            values = np.linspace(m.client_min[column], m.client_median[column], 11)
        rows = []
        for v in np.asarray(values, dtype=float):
            a_cf = m.contrast({**refs, column: v})
            c = m.M - float(a_cf @ m.beta)
            rows.append({"factor": factor, "column": column, "reference": v, "share": c / m.M})
        return pd.DataFrame(rows)


def _esc(s) -> str:
    import html

    return html.escape(str(s))
