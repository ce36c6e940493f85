"""The class-summed deviance of the scalar nested path equals the per-group one.

Tolerances: the two paths sum the same terms grouped differently (per class and per (outer,
class) pair, or per inner group), so deviances and gradients agree to rounding, 1e-10 relative
(the gradient relative to its largest entry and to the deviance, since entries can cancel to
near zero); finite differences of the deviance (central, step 1e-5) agree with the analytic
gradient to their truncation error, 1e-5 relative; fits are separate optimisations, compared at
the precision of the final Newton steps.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from commonfactors.models import _nested_compact as _compact
from commonfactors.models import nested as _nested
from commonfactors.models._nested_compact import compact_of
from commonfactors.models._nested_deviance import _dev_grad, _dev_grad_groups, _omega

RTOL = 1e-10


def _data(design, seed=0, n_t=30, p=3):
    """Rows of clients in therapists; ``design`` sets the cluster sizes and the random effects."""
    rng = np.random.default_rng(seed)
    th, cl, sess = [], [], []
    c = 0
    for t in range(n_t):
        for _ in range(rng.integers(4, 12)):
            s = 6 if design == "balanced" else int(rng.integers(1, 13))
            th += [t] * s
            cl += [c] * s
            sess += list(range(s))
            c += 1
    th, cl, sess = np.array(th), np.array(cl), np.array(sess, float)
    n = th.size
    X = np.column_stack([np.ones(n), sess, rng.standard_normal((n, p - 2))])
    y = (X @ rng.standard_normal(p) + rng.standard_normal(n_t)[th] * 0.5
         + rng.standard_normal(c)[cl] * (0.3 * sess if design == "slope" else 0.8)
         + rng.standard_normal(n))
    one = np.ones((n, 1))
    if design == "one level":
        return _nested.NestedStats.from_arrays(X, y, one, inner_codes=cl)
    Zi = sess[:, None] if design == "slope" else one
    return _nested.NestedStats.from_arrays(X, y, Zi, one, cl, th)


def _groups_only(st):
    out = replace(st)
    object.__setattr__(out, "_compact", False)
    return out


DESIGNS = ["balanced", "unbalanced", "one level", "slope"]
THETAS = [[0.8, 0.5], [0.0, 1.2], [1.7, 0.0], [0.05, 3.0]]


@pytest.fixture(params=["dense", "pairs"])
def layout(request, monkeypatch):
    """The (outer, class) sums kept dense or as a list of the pairs present."""
    monkeypatch.setattr(_compact, "_DENSE_MIN", 10**9 if request.param == "dense" else 0)
    return request.param


def _check_layout(st, layout):
    cp = compact_of(st)
    if st.q_out:
        assert (cp.Pd is not None) == (layout == "dense") and (cp.P is not None) == (layout == "pairs")


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("reml", [True, False])
def test_compact_equals_per_group(design, reml, layout):
    st = _data(design)
    cp = compact_of(st)
    assert cp is not None, "the compact path must be the one under test"
    _check_layout(st, layout)
    assert cp.cnt.size <= {"balanced": 1, "one level": 12}.get(design, 12)
    ref = _groups_only(st)
    assert compact_of(ref) is None
    for theta in THETAS:
        theta = np.array(theta[: 1 + st.q_out])
        f, g = _dev_grad(st, theta, reml)
        f0, g0 = _dev_grad_groups(ref, theta, reml)
        assert f == pytest.approx(f0, rel=RTOL)
        np.testing.assert_allclose(g, g0, rtol=RTOL, atol=RTOL * max(abs(f0), np.abs(g0).max()))
        ld, om = _omega(st, theta)
        ld0, om0 = _omega(ref, theta)
        assert ld == pytest.approx(ld0, rel=RTOL, abs=RTOL)
        np.testing.assert_allclose(om, om0, rtol=RTOL, atol=RTOL * np.abs(om0).max())
        assert _nested.profiled_deviance(st, theta, reml) == pytest.approx(f0, rel=RTOL)


@pytest.mark.parametrize("design", DESIGNS)
def test_compact_gradient_matches_differences(design, layout):
    st = _data(design, seed=1)
    assert compact_of(st) is not None
    _check_layout(st, layout)
    theta = np.array([0.7, 0.4][: 1 + st.q_out])
    f, g = _dev_grad(st, theta, True)
    h = 1e-5
    fd = [(_nested.profiled_deviance(st, theta + h * e) - _nested.profiled_deviance(st, theta - h * e))
          / (2 * h) for e in np.eye(theta.size)]
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-5 * np.abs(fd).max())


@pytest.mark.parametrize("design", DESIGNS)
def test_compact_fits_and_carries_through_select_and_resample(design, layout):
    st = _data(design, seed=2)
    _check_layout(st, layout)
    # separate optimisations whose deviances differ by rounding: both end with Newton steps to
    # |gradient| < 1e-12 |deviance| (theta, beta to far below the 1e-8 allowed), the deviance
    # (flat at the optimum) to rounding
    for cols in ([0, 1, 2], [0, 2]):
        a, b = _nested.fit_nested(st.select(cols)), _nested.fit_nested(_groups_only(st).select(cols))
        np.testing.assert_allclose(a.theta, b.theta, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(a.beta, b.beta, rtol=1e-8, atol=1e-10)
        assert a.deviance == pytest.approx(b.deviance, rel=RTOL)
    # the class sums selected from the parent equal those built on the selected statistics
    sub = st.select([2, 0])
    fresh = compact_of(_fresh(sub))
    for f in ("S", "P", "Pd", "Nd", "OGs", "cnt", "zz", "zio", "pair_n", "pair_c", "pstart", "OOs"):
        x, y = getattr(compact_of(sub), f), getattr(fresh, f)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_allclose(x, y, rtol=RTOL, atol=RTOL * np.abs(y).max())
    # a resample builds its own class sums
    top = st.n_outer or st.n_inner
    rs = st.resample(np.random.default_rng(3).integers(0, top, top))
    assert "_compact" not in rs.__dict__
    theta = np.array([0.6, 0.9][: 1 + st.q_out])
    f, g = _dev_grad(rs, theta, True)
    f0, g0 = _dev_grad_groups(_groups_only(rs), theta, True)
    assert f == pytest.approx(f0, rel=RTOL)
    np.testing.assert_allclose(g, g0, rtol=RTOL, atol=RTOL * max(abs(f0), np.abs(g0).max()))


def _fresh(st):
    out = replace(st)
    out.__dict__.pop("_compact", None)
    return out


def test_many_classes_use_the_per_group_path():
    rng = np.random.default_rng(4)
    n = 400
    cl = np.repeat(np.arange(40), 10)
    sess = rng.standard_normal(n)  # a slope with a different Z'Z in every client
    st = _nested.NestedStats.from_arrays(np.ones((n, 1)), rng.standard_normal(n), sess[:, None],
                                         np.ones((n, 1)), cl, cl // 4)
    assert compact_of(st) is None
    f, g = _dev_grad(st, np.array([0.5, 0.5]), True)
    assert np.isfinite(f) and np.all(np.isfinite(g))
