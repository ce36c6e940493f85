"""Interval methods per estimand family, bias-corrected estimates and the small-design warning."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.bootstrap import (
    bc_interval,
    bias_corrected,
    interval,
    logit_basic_interval,
    percentile_interval,
)
from commonfactors.decomposition.intervals import (
    CORRECTED_FAMILIES,
    DEFAULT_METHODS,
    METHODS,
    MIN_THERAPISTS,
    default_method,
    family,
)
from commonfactors.errors import SmallDesignWarning


# --------------------------------------------------------------------------------------
# interval functions (exact arithmetic on known replicates)
# --------------------------------------------------------------------------------------
def test_bc_equals_percentile_when_the_estimate_is_the_median():
    reps = (np.arange(400) / 1000)[:, None]  # 0.1995 has 200 replicates on each side: z0 = 0
    lo, hi = bc_interval(reps, np.array([0.1995]))
    plo, phi = percentile_interval(reps)
    np.testing.assert_allclose([lo[0], hi[0]], [plo[0], phi[0]], rtol=1e-12)


def test_bc_moves_against_an_upward_bootstrap_bias_and_stays_in_the_replicates():
    rng = np.random.default_rng(1)
    reps = rng.beta(4, 20, size=(2000, 1))  # mean ~.167
    est = np.array([0.12])  # the replicates sit above the estimate
    lo, hi = bc_interval(reps, est)
    plo, phi = percentile_interval(reps)
    assert lo[0] < plo[0] and hi[0] < phi[0]
    assert reps.min() <= lo[0] < hi[0] <= reps.max()


def test_logit_basic_stays_in_the_unit_interval_and_falls_back_outside_it():
    rng = np.random.default_rng(2)
    reps = np.column_stack([rng.beta(1, 60, 1000), rng.normal(0.0, 0.3, 1000)])
    est = np.array([0.01, -0.2])
    lo, hi = logit_basic_interval(reps, est)
    assert 0 < lo[0] < hi[0] < 1
    # the basic interval on the original scale crosses 0 here
    assert interval("basic", reps, est)[0][0] < 0
    # an estimate outside (0, 1) gets the percentile interval
    plo, phi = percentile_interval(reps)
    assert (lo[1], hi[1]) == (plo[1], phi[1])


def test_bias_corrected_is_twice_the_estimate_minus_the_replicate_mean():
    reps = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 4.0]])
    np.testing.assert_allclose(bias_corrected(reps, np.array([2.0, 2.0])), [1.0, 1.0])
    assert np.isnan(bias_corrected(np.empty((0, 2)), np.array([1.0, 1.0]))).all()


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match=r"`method`: expecting one of 'percentile'"):
        interval("studentized", np.ones((5, 1)), np.ones(1))


# --------------------------------------------------------------------------------------
# families and defaults
# --------------------------------------------------------------------------------------
def test_families():
    assert family("model", "r2_marginal") == "r2_marginal"
    assert family("model", "r2_conditional") == "r2"
    assert DEFAULT_METHODS["r2_marginal"] == "logit_basic"
    assert family("relationship", "share_total_variance") == "r2"
    assert family("therapist", "share_total_variance") == "therapist_variance"
    assert family("client", "share_total_variance") == "variance_component"
    assert family("client", "icc_client") == "variance_component"
    assert family("therapist", "d_therapist") == "therapist_variance"
    assert DEFAULT_METHODS["therapist_variance"] == "profile"
    assert family("relationship", "share_explained_variance") == "ratio"
    assert family("therapist", "icc_therapist") == "therapist_variance"
    assert family("technique", "share_mean_improvement") == "mean"
    assert family("relationship", "correlation") == "correlation"
    assert set(DEFAULT_METHODS.values()) <= set(METHODS)
    assert set(CORRECTED_FAMILIES) <= set(DEFAULT_METHODS)


@pytest.fixture(scope="module")
def sim():
    return cf.simulate("wampold_imel_2015", n_therapists=12, clients_per_therapist=6,
                       n_sessions=3, seed=5)


@pytest.fixture(scope="module")
def results(sim):
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallDesignWarning)
        for ci in ("percentile", "auto", "bc", "logit_basic"):
            out[ci] = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=40,
                                   seed=3, ci=ci, progress=False)
    return out


def test_every_row_names_its_method_and_estimates_do_not_move(results):
    base = results["percentile"].table
    for ci, res in results.items():
        t = res.table
        pd.testing.assert_series_equal(t["estimate"], base["estimate"])
        pd.testing.assert_frame_equal(res.replicates, results["percentile"].replicates)
        if ci == "auto":
            expected = [default_method(e, f) for f, e in zip(t["factor"], t["estimand"],
                                                              strict=True)]
            assert t["method"].tolist() == expected
        else:
            assert (t["method"] == ci).all()


def test_estimate_corrected_is_the_bootstrap_bias_correction(results):
    res = results["percentile"]
    t = res.table
    fam = [family(f, e) for f, e in zip(t["factor"], t["estimand"], strict=True)]
    has = np.array([x in CORRECTED_FAMILIES for x in fam])
    reps = res.replicates[[f"{f}|{e}" for f, e in zip(t["factor"], t["estimand"], strict=True)]]
    expect = 2 * t["estimate"] - reps.mean(axis=0).to_numpy()
    np.testing.assert_allclose(t.loc[has, "estimate_corrected"], expect[has], rtol=1e-12)
    assert t.loc[~has, "estimate_corrected"].isna().all()
    r2 = t.set_index(["factor", "estimand"]).loc[("model", "r2_marginal")]
    assert np.isfinite(r2["estimate_corrected"])


def test_without_bootstrap_no_method_and_no_correction(sim):
    res = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=0)
    assert (res.table["method"] == "none").all()
    assert res.table["estimate_corrected"].isna().all()


def test_small_designs_warn_and_note(sim):
    assert sim.data["therapist"].nunique() < MIN_THERAPISTS
    with pytest.warns(SmallDesignWarning, match=r"12 therapists resampled: fewer than the 40"):
        res = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=20, seed=1,
                           progress=False)
    assert any("fewer than the 40" in n for n in res.notes)
    # no intervals, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallDesignWarning)
        cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=0)


def test_designs_at_the_rule_do_not_warn():
    big = cf.simulate("wampold_imel_2015", n_therapists=MIN_THERAPISTS, clients_per_therapist=3,
                      n_sessions=3, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallDesignWarning)
        res = cf.decompose(big.data, factors=big.factors, view="change", n_boot=20, seed=1,
                           progress=False)
    assert not any("fewer than the" in n for n in res.notes)
