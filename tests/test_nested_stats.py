"""Sufficient statistics of the nested engine: built from rows, from per-group aggregates, blocked.

Tolerances: the two constructors sum the same products in different orders (per row and then
per group, or per group directly), so statistics, deviances and gradients agree to rounding,
1e-10 relative; fits are separate optimisations, compared at the precision of their final
Newton steps.
"""

from __future__ import annotations

import numpy as np
import pytest

from commonfactors.errors import DataValidationError, EstimationError
from commonfactors.models import nested as _nested
from commonfactors.models._nested_deviance import _dev_grad

RTOL = 1e-10


def _rows(seed=0, n_t=9, p=3):
    """Unbalanced rows: therapists with 1..6 clients with 1..8 sessions, ids not in order."""
    rng = np.random.default_rng(seed)
    th, cl = [], []
    c = 0
    for t in range(n_t):
        for _ in range(rng.integers(1, 7)):
            s = rng.integers(1, 9)
            th += [t] * s
            cl += [c] * s
            c += 1
    th, cl = np.array(th) * 7 + 3, np.array(cl) * 5 + 1
    n = th.size
    perm = rng.permutation(n)
    th, cl = th[perm], cl[perm]
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    u_t = rng.standard_normal(th.max() + 1) * 0.6
    u_c = rng.standard_normal(cl.max() + 1) * 0.8
    y = X @ rng.standard_normal(p) + u_t[th] + u_c[cl] + rng.standard_normal(n)
    return X, y, cl, th


def _aggregates(X, y, cl, th):
    """Per-client counts, sums and cross-products, sorted by (therapist, client), by loops."""
    G = np.column_stack([X, y])
    keys = sorted(set(zip(th.tolist(), cl.tolist(), strict=True)))
    t_lab = np.unique(th)
    n_i, gsum, gg_i, outer_of = [], [], [], []
    for t, c in keys:
        Gi = G[(cl == c) & (th == t)]
        n_i.append(len(Gi))
        gsum.append(Gi.sum(0))
        gg_i.append(Gi.T @ Gi)
        outer_of.append(int(np.searchsorted(t_lab, t)))
    gg_i = np.array(gg_i)
    outer_of = np.array(outer_of)
    gg_o = np.array([gg_i[outer_of == j].sum(0) for j in range(t_lab.size)])
    return dict(n_i=np.array(n_i), gsum_i=np.array(gsum), gg_i=gg_i, gg_o=gg_o,
                gg=gg_i.sum(0), inner_label=np.array([c for _, c in keys]), outer_of=outer_of,
                outer_label=t_lab)


def _close(a, b):
    if a is None or b is None:
        assert a is None and b is None
        return
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=RTOL,
                               atol=RTOL * max(1.0, float(np.max(np.abs(b)))))


FIELDS = ["n_i", "gsum_i", "zz_i", "zg_i", "zsum_i", "zio_i", "oo_i", "og_i", "osum_i",
          "outer_of", "ostart", "inner_label", "outer_label", "gg", "gsum", "gg_o"]


def _same_stats(a, b, gg_i=True):
    """Every field of ``a`` equals ``b``'s (``a`` may lack the cross-products it was not given)."""
    assert (a.n, a.p, a.q_in, a.q_out) == (b.n, b.p, b.q_in, b.q_out)
    for f in FIELDS:
        if f == "gg_o" and a.gg_o is None and a.gg_i is None:
            continue
        _close(getattr(a, f), getattr(b, f))
    if gg_i:
        _close(a.inner_gg(), b.inner_gg())
    for meth in ("g_cov", "x_cov", "x_mean", "y_var", "z_mean", "z_cov"):
        _close(getattr(a, meth)(), getattr(b, meth)())
    if a.q_out:
        for meth in ("z_mean", "z_cov"):
            _close(getattr(a, meth)("outer"), getattr(b, meth)("outer"))


def _same_model(a, b):
    for reml in (True, False):
        for theta in ([0.8, 0.4], [0.0, 1.3], [2.0, 0.0])[: 1 + 2 * bool(a.q_out)]:
            theta = np.array(theta[: 1 + a.q_out])
            fa, ga = _dev_grad(a, theta, reml)
            fb, gb = _dev_grad(b, theta, reml)
            assert fa == pytest.approx(fb, rel=RTOL)
            np.testing.assert_allclose(ga, gb, rtol=1e-9, atol=1e-9 * abs(fb))
    # separate optimisations whose deviances differ by rounding: both end with Newton steps to
    # |gradient| < 1e-12 |deviance|, which fixes theta to about 1e-12 / (Hessian / |deviance|),
    # far below the 1e-8 allowed; the deviance is flat there (second order): equal to rounding
    fa, fb = _nested.fit_nested(a), _nested.fit_nested(b)
    np.testing.assert_allclose(fa.theta, fb.theta, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fa.beta, fb.beta, rtol=1e-8, atol=1e-10)
    assert fa.deviance == pytest.approx(fb.deviance, rel=RTOL)


@pytest.mark.parametrize("keep", ["gg_i", "gg_o", "gg"])
def test_from_groups_equals_from_arrays(keep):
    X, y, cl, th = _rows()
    one = np.ones((len(y), 1))
    ref = _nested.NestedStats.from_arrays(X, y, one, one, cl, th)
    agg = _aggregates(X, y, cl, th)
    kw = {k: agg[k] for k in ("n_i", "gsum_i", "inner_label", "outer_of", "outer_label")}
    kw[keep] = agg[keep]
    st = _nested.NestedStats.from_groups(**kw)
    assert (st.gg_i is None) == (keep != "gg_i")
    assert (st.gg_o is None) == (keep == "gg")
    _same_stats(st, ref, gg_i=keep == "gg_i")
    _same_model(st, ref)
    _same_model(st.select([0, 2]), ref.select([0, 2]))
    if keep == "gg_o":
        _close(st.select([2]).gg_o, ref.select([2]).gg_o)
    idx = np.array([3, 3, 0, 8, 1, 1, 1, 5, 2])
    if keep == "gg":
        with pytest.raises(EstimationError, match="were not kept"):
            st.resample(idx)
        return
    rs, rr = st.resample(idx), ref.resample(idx)
    assert rs.gg_i is None and rr.gg_i is None  # an outer draw keeps gg_o only
    _same_stats(rs, rr, gg_i=False)
    _same_model(rs, rr)
    # the same draw after selecting columns (what the decomposition's subsets see)
    _same_stats(st.select([1]).resample(idx), ref.select([1]).resample(idx), gg_i=False)
    inner = [ref.inner_groups_of(j)[::-1][:2] for j in idx]
    if keep == "gg_i":
        _same_stats(st.resample(idx, inner), ref.resample(idx, inner))
    else:
        with pytest.raises(EstimationError, match="per-client cross-products"):
            st.resample(idx, inner)
        with pytest.raises(EstimationError, match="per-client cross-products"):
            st.draw(np.random.default_rng(0), inner=True)


def test_from_groups_one_level():
    X, y, cl, _ = _rows(seed=3)
    ref = _nested.NestedStats.from_arrays(X, y, np.ones((len(y), 1)), inner_codes=cl)
    agg = _aggregates(X, y, cl, np.zeros_like(cl))
    st = _nested.NestedStats.from_groups(n_i=agg["n_i"], gsum_i=agg["gsum_i"], gg_i=agg["gg_i"],
                                         inner_label=agg["inner_label"])
    _same_stats(st, ref)
    _same_model(st, ref)
    idx = np.array([4, 4, 0, 1, 7])
    _same_stats(st.resample(idx), ref.resample(idx))
    only_total = _nested.NestedStats.from_groups(n_i=agg["n_i"], gsum_i=agg["gsum_i"],
                                                 gg=agg["gg"], inner_label=agg["inner_label"])
    _same_model(only_total, ref)
    with pytest.raises(EstimationError, match="per-client cross-products"):
        only_total.resample(idx)


def test_from_groups_bad_inputs():
    X, y, cl, th = _rows(seed=4)
    agg = _aggregates(X, y, cl, th)
    base = {k: agg[k] for k in ("n_i", "gsum_i", "inner_label", "outer_of", "outer_label", "gg_o")}

    def bad(match, **change):
        kw = {**base, **change}
        with pytest.raises(DataValidationError, match=match):
            _nested.NestedStats.from_groups(**{k: v for k, v in kw.items() if v is not None})

    o = agg["outer_of"]
    bad("non-decreasing", outer_of=o[::-1].copy())
    bad("first code is not 0", outer_of=o + 1)
    bad("no gaps", outer_of=np.where(o > 2, o + 1, o))
    bad("one per inner group", outer_of=o[1:])
    bad("outer_label", outer_label=agg["outer_label"][1:])
    bad("unique labels", inner_label=np.r_[agg["inner_label"][1:], agg["inner_label"][0]]
        [np.r_[0, np.arange(len(o) - 1)]])
    bad("whole row counts", n_i=np.r_[0, agg["n_i"][1:]])
    bad("whole row counts", n_i=agg["n_i"] + 0.5)
    bad(r"`gsum_i`: expecting shape", gsum_i=agg["gsum_i"][:, :, None])
    bad("finite", gsum_i=np.where(agg["gsum_i"] > 1e9, 0, np.nan))
    bad(r"`gg_o`: expecting shape", gg_o=agg["gg_o"][1:])
    bad("at least one", gg_o=None)
    bad("does not equal the sum", gg=agg["gg"] * (1 + 1e-6))
    bad("does not equal the sum", gg_i=agg["gg_i"], gg_o=agg["gg_o"] * 1.01)
    with pytest.raises(DataValidationError, match="without `outer_of`"):
        _nested.NestedStats.from_groups(n_i=agg["n_i"], gsum_i=agg["gsum_i"], gg_o=agg["gg_o"],
                                        inner_label=agg["inner_label"])


@pytest.mark.parametrize("block", [1, 5, 64, 1 << 17])
def test_from_arrays_blocks_equal_direct_sums(block, monkeypatch):
    """Row blocks of any size (smaller than one group, than several, or all rows) give the
    per-group sums of row products computed directly."""
    from commonfactors.models import _nested_sums

    monkeypatch.setattr(_nested_sums, "_BLOCK_ROWS", block)
    X, y, cl, th = _rows(seed=5)
    rng = np.random.default_rng(6)
    Zi = np.column_stack([np.ones(len(y)), rng.standard_normal(len(y))])
    Zo = np.column_stack([np.ones(len(y)), rng.standard_normal(len(y))])
    st = _nested.NestedStats.from_arrays(X, y, Zi, Zo, cl, th)
    G = np.column_stack([X, y])
    for pos, (c, t) in enumerate(zip(st.inner_label, st.outer_label[st.outer_of], strict=True)):
        r = (cl == c) & (th == t)
        for name, A, B in (("gg_i", G, G), ("zz_i", Zi, Zi), ("zg_i", Zi, G), ("zio_i", Zi, Zo),
                           ("oo_i", Zo, Zo), ("og_i", Zo, G)):
            np.testing.assert_allclose(getattr(st, name)[pos], A[r].T @ B[r], rtol=RTOL, atol=1e-12)
            if name == "gg_i":
                sub = st.select([2, 0])
                np.testing.assert_allclose(sub.inner_gg()[pos], (G[r].T @ G[r])[np.ix_([2, 0, 3], [2, 0, 3])],
                                           rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(st.gsum_i[pos], G[r].sum(0), rtol=RTOL, atol=1e-12)
    assert st.n_i.sum() == len(y)


def test_intercept_z_g_shares_column_sums_through_select_and_resample():
    """A random intercept's Z'G is gsum_i exactly; it is stored once, also after select and
    resample (a slope's is not)."""
    X, y, cl, th = _rows(seed=7)
    one = np.ones((len(y), 1))
    slope = np.random.default_rng(8).standard_normal((len(y), 1))
    st = _nested.NestedStats.from_arrays(X, y, one, one, cl, th)
    for s in (st, st.select([0, 2]), st.select([0, 2]).select([1]), st.select([2]).resample([1, 1, 4])):
        for a in (s.zg_i, s.og_i):
            assert np.shares_memory(a, s.gsum_i)
            np.testing.assert_array_equal(a[:, 0, :], s.gsum_i)
    sl = _nested.NestedStats.from_arrays(X, y, slope, one, cl, th)
    assert not np.shares_memory(sl.zg_i, sl.gsum_i) and np.shares_memory(sl.og_i, sl.gsum_i)
    assert not np.shares_memory(sl.select([1]).zg_i, sl.select([1]).gsum_i)
