"""The growth view's decomposition problem from per-client statistics (no row-sized arrays).

Every column of the growth model is, within a client, an affine function of one raw column of
the row: ``x_w = x - cm`` (``cm``: the client's mean of x), ``x_c = cm - tm`` and
``x_t = tm - g`` (``tm``: the therapist's row-weighted mean, ``g``: the grand mean) are
constants, ``x_time = (s - cm_s)(cm - g)`` is affine in the session ``s``, and the outcome is
itself. Writing column a of client i as ``alpha_ia + beta_ia w[j_a]`` (w: the row's raw values),
its cross-products over the client's rows are

    sum_r G_ra G_rb = n_i alpha_a alpha_b + alpha_a beta_b S_jb + beta_a alpha_b S_ja
                      + beta_a beta_b W_ja,jb

with ``S`` and ``W`` the client's sums and cross-products of the raw columns
(:mod:`._moments`). So the sufficient statistics of the variance model and of the mean model,
the improvement contrasts (rows at the first and last session), the correlations and the
reference levels all come from one row per client, and the result equals the row-level
construction of :func:`commonfactors.models.terms.build_terms` to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..models.nested import NestedStats
from ..models.terms import Term
from ._moments import ClientParts, canonical_order

_CHUNK_CLIENTS = 20_000  # clients per block when cross-products are formed (bounds memory)


@dataclass
class ClientTable:
    """Per-client statistics sorted by therapist (clients of one therapist are adjacent)."""

    raw: list[str]
    n: np.ndarray
    S: np.ndarray
    W: np.ndarray
    mn: np.ndarray
    mx: np.ndarray
    first: np.ndarray
    last: np.ndarray
    ids: np.ndarray
    therapist: np.ndarray | None
    tcode: np.ndarray | None  # therapist code (0..T-1, non-decreasing) per client
    tstart: np.ndarray | None  # first client of each therapist

    @classmethod
    def from_parts(cls, parts: ClientParts, raw: list[str]) -> ClientTable:
        order = canonical_order(parts.ids, parts.therapist)
        tcode = tstart = ther = None
        if parts.therapist is not None:
            ther = parts.therapist[order]
            tcode = pd.factorize(ther)[0]
            tstart = np.flatnonzero(np.r_[True, tcode[1:] != tcode[:-1]])
        return cls(raw=list(raw), n=parts["n"][order], S=parts["sum"][order],
                   W=parts["cross"][order], mn=parts["min"][order], mx=parts["max"][order],
                   first=parts["first"][order], last=parts["last"][order],
                   ids=parts.ids[order], therapist=ther, tcode=tcode, tstart=tstart)

    @property
    def m(self) -> int:
        return int(len(self.n))

    @property
    def n_rows(self) -> float:
        return float(self.n.sum())

    def j(self, col: str) -> int:
        return self.raw.index(col)

    def client_means(self) -> np.ndarray:
        return self.S / self.n[:, None]

    def grand_means(self) -> np.ndarray:
        return self.S.sum(axis=0) / self.n_rows

    def therapist_means(self) -> np.ndarray:
        """Row-weighted therapist means of the raw columns, one row per client."""
        assert self.tstart is not None and self.tcode is not None
        ts = np.add.reduceat(self.S, self.tstart, axis=0)
        tn = np.add.reduceat(self.n, self.tstart)
        return (ts / tn[:, None])[self.tcode]

    def within_ss(self, j: int) -> np.ndarray:
        """Sum of squares of column j around the client mean, per client (0 if it never varies)."""
        ss = self.W[:, j, j] - self.S[:, j] ** 2 / self.n
        return np.where(self.mn[:, j] == self.mx[:, j], 0.0, np.maximum(ss, 0.0))

    def row_var(self, j: int) -> float:
        """Variance over rows (ddof 0) of raw column j."""
        n = self.n_rows
        tot, sq = self.S[:, j].sum(), self.W[:, j, j].sum()
        return max(float(sq / n - (tot / n) ** 2), 0.0)


@dataclass
class Columns:
    """Columns of a design: ``alpha + beta * raw[j]`` per client, with their terms."""

    names: list = field(default_factory=list)
    terms: list = field(default_factory=list)
    alpha: list = field(default_factory=list)
    beta: list = field(default_factory=list)
    j: list = field(default_factory=list)

    def add(self, term: Term | None, name, alpha, beta, j) -> None:
        self.names.append(name)
        self.terms.append(term)
        self.alpha.append(alpha)
        self.beta.append(beta)
        self.j.append(j)

    def arrays(self, m: int):
        al = np.column_stack([np.broadcast_to(a, (m,)) for a in self.alpha])
        be = np.column_stack([np.broadcast_to(b, (m,)) for b in self.beta])
        return al, be, np.asarray(self.j, dtype=int)


def _var_const(t: ClientTable, alpha: np.ndarray) -> float:
    """Variance over rows of a column constant within clients (row-weighted over clients)."""
    w = t.n / t.n_rows
    mean = float(w @ alpha)
    return float(w @ (alpha - mean) ** 2)


def design_columns(t: ClientTable, factors: dict, *, pooled: bool, has_t: bool,
                   tol: float = 1e-12) -> Columns:
    """The growth design of :func:`commonfactors.models.terms.build_terms` (same names, order
    and rule for leaving out constant parts), as per-client affine coefficients; the first
    column is the intercept and the last the outcome."""
    cols = Columns()
    m = t.m
    one, zero = np.ones(m), np.zeros(m)
    cols.add(None, "Intercept", one, zero, 0)
    cm, g = t.client_means(), t.grand_means()
    tm = t.therapist_means() if has_t else np.zeros_like(cm)
    has_s = "session" in t.raw
    js = t.j("session") if has_s else 0
    ss_s = t.within_ss(js) if has_s else np.zeros(m)
    n = t.n_rows

    def keep(source: str, var: float) -> bool:
        return var > tol * max(t.row_var(t.j(source)), 1.0)

    for group, group_cols in factors.items():
        for col in group_cols:
            j = t.j(col)
            c = cm[:, j] - g[j]
            if pooled:
                var = t.row_var(j)
                if keep(col, var):
                    cols.add(Term(col, col, "raw", group, 0), col, np.full(m, -g[j]), one, j)
            else:
                ssw = t.within_ss(j)
                if keep(col, float(ssw.sum()) / n):
                    cols.add(Term(f"{col}_w", col, "w", group, 1), f"{col}_w", -cm[:, j], one, j)
                if has_t:
                    a_c, a_t = cm[:, j] - tm[:, j], tm[:, j] - g[j]
                    if keep(col, _var_const(t, a_c)):
                        cols.add(Term(f"{col}_c", col, "c", group, 2), f"{col}_c", a_c, zero, 0)
                    if keep(col, _var_const(t, a_t)):
                        cols.add(Term(f"{col}_t", col, "t", group, 3), f"{col}_t", a_t, zero, 0)
                elif keep(col, _var_const(t, c)):
                    cols.add(Term(f"{col}_c", col, "c", group, 2), f"{col}_c", c, zero, 0)
            if col != "session" and has_s:
                var = float((c**2 * ss_s).sum()) / n
                if keep(col, var):
                    level = 1
                    cols.add(Term(f"{col}_time", col, "time", group, level), f"{col}_time",
                             -cm[:, js] * c, c, js)
    cols.add(None, "outcome", zero, one, len(t.raw) - 1)
    return cols


def stats_of(t: ClientTable, cols: Columns, *, keep: str = "outer") -> NestedStats:
    """Sufficient statistics of ``[X, y]`` for random intercepts of client (and therapist).

    ``keep``: which cross-products ``G'G`` are kept besides the total: ``"total"`` (enough for
    fitting; a point decomposition), ``"outer"`` (per therapist: a bootstrap over therapists)
    or ``"inner"`` (per client: clients resampled; also what is resampled when there is no
    therapist level). They are formed in blocks of clients, so memory stays bounded.
    """
    al, be, jj = cols.arrays(t.m)
    gsum = t.n[:, None] * al + be * t.S[:, jj]
    k = al.shape[1]
    if t.tcode is None and keep == "outer":
        keep = "inner"  # the clients are the resampled units
    n_out = 0 if t.tcode is None or t.tstart is None else len(t.tstart)
    gg_i = np.empty((t.m, k, k)) if keep == "inner" else None
    gg_o = np.zeros((n_out, k, k)) if (keep == "outer" and n_out) else None
    total = np.zeros((k, k))
    beta_cols = np.flatnonzero(np.any(be != 0, axis=0))
    # blocks end at therapist boundaries, so that each block sums whole therapists
    if n_out and t.tstart is not None:
        bounds = t.tstart[::max(1, int(_CHUNK_CLIENTS // max(t.m / n_out, 1)))]
        bounds = np.r_[bounds, t.m]
    else:
        bounds = np.r_[np.arange(0, t.m, _CHUNK_CLIENTS), t.m]
    for a, b in zip(bounds[:-1], bounds[1:], strict=False):
        sl = slice(int(a), int(b))
        A, B = al[sl], be[sl]
        BS = B * t.S[sl][:, jj]
        # the total: a few matrix products, the same whatever else is kept (so the point
        # estimate does not depend on which bootstrap follows)
        cross = A.T @ BS
        total += (A * t.n[sl, None]).T @ A + cross + cross.T
        q = beta_cols
        Wq = t.W[sl][:, jj[q]][:, :, jj[q]]
        total[np.ix_(q, q)] += np.einsum("ia,ib,iab->ab", B[:, q], B[:, q], Wq)
        if gg_i is None and gg_o is None:
            continue
        gg = np.einsum("i,ia,ib->iab", t.n[sl], A, A)
        cross3 = A[:, :, None] * BS[:, None, :]
        gg += cross3 + np.swapaxes(cross3, 1, 2)
        gg += (B[:, :, None] * B[:, None, :]) * t.W[sl][:, jj][:, :, jj]
        if gg_i is not None:
            gg_i[sl] = gg
        if gg_o is not None and t.tstart is not None and t.tcode is not None:
            starts = t.tstart[(t.tstart >= a) & (t.tstart < b)] - a
            gg_o[t.tcode[a]:t.tcode[b - 1] + 1] = np.add.reduceat(gg, starts, axis=0)
    return NestedStats.from_groups(
        n_i=t.n, gsum_i=gsum, gg=total, gg_i=gg_i, gg_o=gg_o, inner_label=np.arange(t.m),
        outer_of=t.tcode, outer_label=None if t.tcode is None else np.arange(n_out))


@dataclass(frozen=True)
class MomentContrast:
    """Growth-view improvement contrasts of the pooled mean design from per-client first and
    last rows (the moment counterpart of :class:`._references.DataContrast`).

    ``rows(ref)``: per client, the design row at the first session minus the one at the last,
    with the raw columns in ``ref`` set to the given values; calling it gives their mean.
    """

    names: tuple  # pooled design columns (without the intercept)
    kinds: tuple  # "raw" or "time" per column
    sources: tuple  # raw column of each
    diff: np.ndarray = field(repr=False)  # (clients, raw): first minus last raw values
    ds: np.ndarray = field(repr=False)  # (clients,): first minus last session
    centred: np.ndarray = field(repr=False)  # (clients, raw): client mean minus grand mean
    grand: dict = field(repr=False)

    def rows(self, ref: dict) -> np.ndarray:
        pos = {s: i for i, s in enumerate(self.grand)}
        out = [np.zeros(len(self.ds))]
        for kind, src in zip(self.kinds, self.sources, strict=True):
            if kind == "raw":  # x - g: constant when x is set, so no first-last difference
                out.append(np.zeros(len(self.ds)) if src in ref else self.diff[:, pos[src]])
            else:  # (s - cm_s)(cm_x - g): the session difference times the centred level
                c = float(ref[src]) - self.grand[src] if src in ref else self.centred[:, pos[src]]
                out.append(self.ds * c)
        return np.column_stack(out)

    def __call__(self, ref: dict) -> np.ndarray:
        return self.rows(ref).mean(axis=0)


def mean_contrast(t: ClientTable, mcols: Columns) -> MomentContrast:
    names = tuple(mcols.names[1:-1])
    terms = mcols.terms[1:-1]
    g = t.grand_means()
    has_s = "session" in t.raw
    ds = (t.first[:, t.j("session")] - t.last[:, t.j("session")]) if has_s else np.zeros(t.m)
    return MomentContrast(names=names, kinds=tuple(tm.kind for tm in terms),
                          sources=tuple(tm.source for tm in terms), diff=t.first - t.last,
                          ds=ds, centred=t.client_means() - g,
                          grand={c: float(g[i]) for i, c in enumerate(t.raw)})


def build_growth(t: ClientTable, factors: dict, *, references, outside, categorical, reml: bool,
                 notes: list, keep: str = "outer"):
    """(Problem, Built) of the growth view from per-client statistics (see :func:`._change.build_change` for the change view)."""
    from ..models.terms import default_terms
    from . import _estimates as E
    from . import _inputs as AI
    from ._references import (
        Built,
        MeanModel,
        _default_references,
        _merged,
        _remainder_label,
        client_range,
    )

    has_t = t.tcode is not None and t.tstart is not None
    per = np.diff(np.r_[t.tstart, t.m]) if t.tstart is not None else None
    jy = len(t.raw) - 1
    AI.check_design_counts(view="growth", outcome="outcome",
                           y_range=(float(t.mn[:, jy].min()), float(t.mx[:, jy].max()))
                           if t.m else None,
                           first_y=float(t.first[0, jy]) if t.m else np.nan, n_units=t.m,
                           n_therapists=len(per) if per is not None else None,
                           clients_per_therapist=per)
    xcols = design_columns(t, factors, pooled=False, has_t=has_t)
    from ..errors import FactorGroupError

    present = {tm.group for tm in xcols.terms if tm is not None}
    for g in factors:
        if g not in present:
            raise FactorGroupError(
                f"`factors`: group {g!r} has no variation in the growth view (its columns "
                f"{factors[g]} are constant); remove it or give it a column that varies.")
    mcols = design_columns(t, factors, pooled=True, has_t=has_t)
    groups = tuple(factors)
    terms = xcols.terms[1:-1]
    names = xcols.names[:-1]
    col_group = np.array([-1] + [groups.index(tm.group) for tm in terms])
    lvmap = {1: "f1", 2: "f2", 3: "f3"} if has_t else {1: "f1", 2: "f2"}
    col_level = np.array([""] + [lvmap.get(tm.level, "f") for tm in terms])
    cm = t.client_means()

    def facts(col):
        j = t.j(col)
        is01 = bool(np.all(np.isin(t.mn[:, j], (0.0, 1.0)) & np.isin(t.mx[:, j], (0.0, 1.0))
                           & (t.W[:, j, j] == t.S[:, j])))
        return is01, cm[:, j]

    refs, ref_rows = _default_references(None, factors, references, "client", outside,
                                         categorical, facts=facts)
    contrast = mean_contrast(t, mcols)
    remainder = _remainder_label(outside, groups)
    mean_groups = tuple([g for g in groups if g in refs] + [remainder])
    ref_groups = [g for g in mean_groups if g != remainder]
    rows_c = contrast.rows({})
    cf = np.stack([rows_c] + [contrast.rows(_merged(refs, ref_groups, mask))
                              for mask in range(1, 2 ** len(ref_groups))])
    mnames = mcols.names[1:-1]
    multi = {d for inf in categorical.values() if len(inf["dummies"]) > 1 for d in inf["dummies"]}
    corr_cols = []
    for g, cols in factors.items():
        main = [c for c in cols if c != "session" and c in mnames]
        if main and main[0] not in multi:
            corr_cols.append((g, 1 + mnames.index(main[0])))
    stats = stats_of(t, xcols, keep=keep)
    AI.check_rank(stats.gg[:-1, :-1], names, "growth")
    mstats = stats_of(t, mcols, keep=keep)
    AI.check_rank(mstats.gg[:-1, :-1], ["Intercept"] + mnames, "growth view's mean")
    problem = E.Problem(stats=stats, rows=None, col_group=col_group, col_level=col_level,
                        groups=groups, inner_role="client",
                        outer_role="therapist" if has_t else None, reml=reml,
                        mean_stats=mstats, contrast_obs=rows_c, contrast_cf=cf,
                        contrast_n=np.ones(t.m), mean_groups=mean_groups,
                        corr_cols=tuple(corr_cols), corr_sign=-1.0, outside=tuple(outside),
                        remainder=remainder)
    rand = (("(1 | therapist)",) if has_t else ()) + ("(1 | client)",)
    formula = ("outcome ~ " + " + ".join(AI.formula_name(n) for n in names[1:])
               + " + " + " + ".join(rand))
    lo, med = client_range(None, refs, "client", means_of=lambda c: cm[:, t.j(c)])
    dummies = {d: c for c, inf in categorical.items() for d in inf["dummies"]}
    frame = pd.DataFrame({"client": t.ids})
    if has_t:
        frame.insert(0, "therapist", t.therapist)
    built = Built(frame=frame, names=names, formula=formula, ref_rows=ref_rows,
                  notes=tuple(notes), mean=MeanModel(refs, contrast, lo, med, dummies=dummies),
                  rand=rand, fit_frame=None, description=default_terms(factors, view="growth"),
                  categorical=categorical)
    return problem, built


CHUNK_ROWS = 1_000_000  # session rows per chunk when per-client statistics are read


def growth_raw_columns(factors: dict, columns) -> list[str]:
    """Raw columns of the growth view: ``session`` first (if present), ``outcome`` last."""
    cols = [c for cs in factors.values() for c in cs if c != "session"]
    return (["session"] if "session" in columns else []) + list(dict.fromkeys(cols)) + ["outcome"]


def growth_from_rows(data: pd.DataFrame, factors: dict, *, references, outside, categorical,
                     reml: bool, chunk_rows=None, keep: str = "outer"):
    """(Problem, Built, rows used) of session rows in memory, read in chunks."""
    from ._moments import chunks, combine, growth_part

    raw = growth_raw_columns(factors, data.columns)
    keys = [c for c in ("therapist", "client", "session") if c in data.columns]
    parts, used = [], 0
    for chunk in chunks(data, int(chunk_rows or CHUNK_ROWS)):
        part, n = growth_part(chunk, raw, keys)
        parts.append(part)
        used += n
    table = ClientTable.from_parts(combine(parts), raw)
    problem, built = build_growth(table, factors, references=references, outside=outside,
                                  categorical=categorical, reml=reml, notes=[],
                                  keep=keep)
    return problem, built, used
