"""Profile-likelihood intervals of the variance-component estimands (decomposition._profile_ci).

Checked against R (``tests/reference/make_profile_reference.R``: lme4's REML criterion profiled
with ``optimize``/``uniroot``, shares computed at the limits), on the boundary (a singular fit
gets ``[0, upper]``, not a collapsed interval) and on how ``decompose`` reports the method.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.decomposition import _profile_ci as P
from commonfactors.decomposition.intervals import choose_intervals
from commonfactors.models.nested import NestedStats, ThetaProfile, fit_nested

REF = Path(__file__).parent / "reference"
GOLDEN = pd.read_csv(REF / "golden_profile.csv", keep_default_na=False)
CASES = pd.read_csv(REF / "cases.csv").set_index("case")
# R's limits come from uniroot/optimize at tol 1e-12 and ours from brentq at 1e-7 x theta and
# L-BFGS-B at ftol 1e-13 (deviance scale, about 1e3): both are optimiser precision, about
# 1e-7 relative on theta; the shares move by the same relative amount.
RTOL = 2e-6
ATOL = 1e-9


def _stats(case: str, model: str):
    row = CASES.loc[case]
    data = pd.read_csv(REF / row["file"])
    formula = row["formula"]
    lhs, rhs = (s.strip() for s in formula.split("~", 1))
    import re

    fixed = [t.strip() for t in re.sub(r"\([^()]*\|[^()]*\)", "", rhs).split("+") if t.strip()]
    cols = fixed if model == "full" else []
    X = np.column_stack([np.ones(len(data))] + [data[c].to_numpy(float) for c in cols])
    y = data[lhs].to_numpy(float)
    ones = np.ones((len(data), 1))
    codes_t = pd.factorize(data["therapist"])[0]
    if "(1 | client)" in rhs:
        codes_c = pd.factorize(data["client"])[0]
        stats = NestedStats.from_arrays(X, y, ones, ones, codes_c, codes_t)
        where = {"client": "in", "therapist": "out"}
    else:
        stats = NestedStats.from_arrays(X, y, ones, None, codes_t, None)
        where = {"therapist": "in"}
    return stats, where


@pytest.mark.parametrize("case", ["growth3_ri", "change2_ri", "singular_ri"])
@pytest.mark.parametrize("model", ["full", "null"])
def test_profile_limits_match_r(case, model):
    stats, where = _stats(case, model)
    core = fit_nested(stats, reml=True)
    crit = float(P.sps.chi2.ppf(0.95, 1))
    g = GOLDEN[(GOLDEN["case"] == case) & (GOLDEN["model"] == model)]
    assert set(g["group"]) == set(where)
    for group, w in where.items():
        r = g[g["group"] == group].set_index("bound")
        j = P._index(stats, w)
        prof = ThetaProfile(stats, True, core.theta, j)
        lo, hi = prof.limits(crit)
        np.testing.assert_allclose([lo, hi], r.loc[["low", "high"], "theta"], rtol=RTOL,
                                   atol=1e-7, err_msg=f"{case} {model} {group} theta limits")
        for bound, t in (("low", lo), ("high", hi)):
            share, adjusted = P._parts(stats, prof.at(t)[1], True, w)
            np.testing.assert_allclose(
                [share, adjusted], r.loc[bound, ["share_total_variance", "icc_adjusted"]]
                .to_numpy(float), rtol=RTOL, atol=ATOL, err_msg=f"{case} {model} {group} {bound}")


def _fixed(case):
    import re

    rhs = CASES.loc[case, "formula"].split("~", 1)[1]
    return [t.strip() for t in re.sub(r"\([^()]*\|[^()]*\)", "", rhs).split("+") if t.strip()]


PREFIX = {"alliance": "relationship", "arm": "technique", "expectancy": "expectancy",
          "support": "extra_therapeutic", "session": "extra_therapeutic"}


@pytest.mark.parametrize("case", ["growth3_ri", "change2_ri"])
def test_decompose_of_a_fit_reports_the_r_profile_limits(case):
    data = pd.read_csv(REF / CASES.loc[case, "file"])
    fit = cf.fit_mixed(data, CASES.loc[case, "formula"])
    factors: dict[str, list[str]] = {}
    for c in _fixed(case):
        factors.setdefault(PREFIX[c.rsplit("_", 1)[0]], []).append(c)
    res = cf.decompose(fit, factors=factors, n_boot=0, ci="profile")
    tab = res.table.set_index(["factor", "estimand"])
    g = GOLDEN[GOLDEN["case"] == case].set_index(["model", "group", "bound"])
    roles = ["therapist"] + (["client"] if case == "growth3_ri" else [])
    for role in roles:
        want = {
            "share_total_variance": g.loc[("full", role), "share_total_variance"],
            f"icc_{role}_adjusted": g.loc[("full", role), "icc_adjusted"],
            f"icc_{role}": g.loc[("null", role), "icc_adjusted"],
        }
        for estimand, col in want.items():
            row = tab.loc[(role, estimand)]
            assert row["method"] == "profile"
            np.testing.assert_allclose([row["ci_low"], row["ci_high"]],
                                       [col.min(), col.max()], rtol=RTOL, atol=ATOL,
                                       err_msg=f"{case} {role} {estimand}")
    # rows without a profile interval have none without replicates
    assert set(res.table.loc[res.table["method"] != "profile", "method"]) == {"none"}
    d = tab.loc[("therapist", "d_therapist")]
    icc = tab.loc[("therapist", "icc_therapist")]
    np.testing.assert_allclose(d[["ci_low", "ci_high"]].to_numpy(float),
                               2 * np.sqrt(icc[["ci_low", "ci_high"]].to_numpy(float)
                                           / (1 - icc[["ci_low", "ci_high"]].to_numpy(float))),
                               rtol=1e-12)


def test_a_singular_fit_gets_zero_to_an_upper_limit_not_a_collapsed_interval():
    sim = cf.simulate("wampold_imel_2015", seed=12, n_therapists=100, clients_per_therapist=10,
                      n_sessions=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cf.decompose(sim.data, factors=sim.factors, n_boot=40, seed=1, ci="auto")
        prof = cf.decompose(sim.data, factors=sim.factors, n_boot=0, ci="profile")
    t = res.table.set_index(["factor", "estimand"])
    p = prof.table.set_index(["factor", "estimand"])
    row = p.loc[("therapist", "share_total_variance")]
    assert t.loc[("therapist", "share_total_variance"), "estimate"] < 1e-12  # singular
    assert row["method"] == "profile" and row["ci_low"] == 0.0
    # the truth (0.0065) is inside; the bootstrap's percentile interval is far narrower
    assert 0.01 < row["ci_high"] < 0.05
    reps = res.replicates["therapist|share_total_variance"].to_numpy()
    assert np.quantile(reps, 0.975) < row["ci_high"] / 2


def test_random_slopes_on_a_role_fall_back_to_the_bootstrap_interval():
    data = pd.read_csv(REF / CASES.loc["growth3_slope", "file"])
    fit = cf.fit_mixed(data, CASES.loc["growth3_slope", "formula"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cf.decompose(fit, factors={"relationship": ["alliance_w"],
                                         "extra_therapeutic": ["session"]},
                           n_boot=20, seed=1, ci="profile")
    rows = res.table[res.table["factor"] == "client"].set_index("estimand")
    assert rows.loc["share_total_variance", "method"] == "percentile"
    assert np.isfinite(rows.loc["share_total_variance", "ci_low"])


def test_choose_intervals_uses_profile_limits_where_given_and_percentile_elsewhere():
    keys = [("therapist", "share_total_variance"), ("client", "share_total_variance"),
            ("model", "r2_marginal")]
    rng = np.random.default_rng(3)
    reps = rng.uniform(0.1, 0.2, size=(200, 3))
    point = np.array([0.15, 0.15, 0.15])
    lo, hi, methods = choose_intervals(keys, point, reps, "profile",
                                       profile={keys[0]: (0.0, 0.3)})
    assert methods == ["profile", "percentile", "percentile"]
    assert (lo[0], hi[0]) == (0.0, 0.3)
    q = np.quantile(reps[:, 1], [0.025, 0.975])
    np.testing.assert_allclose([lo[1], hi[1]], q, rtol=1e-12)


@pytest.mark.parametrize("view", ["change", "growth"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_profile_intervals_hold_the_estimate_and_stay_in_the_unit_interval(view, seed):
    sim = cf.simulate("norcross_lambert_2011", seed=seed, n_therapists=15,
                      clients_per_therapist=6, n_sessions=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cf.decompose(sim.data, factors=sim.factors, view=view, n_boot=0, ci="profile")
    t = res.table[res.table["method"] == "profile"]
    assert len(t) >= 4  # therapist share, both ICCs and d (and the client's in the growth view)
    eps = 1e-10  # the estimate and the limits come from separate optimisations of one deviance
    assert (t["ci_low"] <= t["estimate"] + eps).all() and (t["estimate"] <= t["ci_high"] + eps).all()
    shares = t[t["estimand"] != "d_therapist"]
    assert (shares["ci_low"] >= 0).all() and (shares["ci_high"] <= 1).all()


def test_random_client_slopes_keep_the_therapist_profile_from_the_random_intercept_null():
    data = pd.read_csv(REF / CASES.loc["growth3_ri", "file"])
    fit = cf.fit_mixed(data, "outcome ~ session_w + alliance_w + alliance_c + alliance_t + "
                             "(1 | therapist) + (1 + session_w | client)")
    res = cf.decompose(fit, factors={"relationship": ["alliance_w", "alliance_c", "alliance_t"],
                                     "extra_therapeutic": ["session_w"]}, n_boot=0, ci="profile")
    t = res.table.set_index(["factor", "estimand"])
    for estimand in ("share_total_variance", "icc_therapist", "icc_therapist_adjusted"):
        row = t.loc[("therapist", estimand)]
        assert row["method"] == "profile"
        assert row["ci_low"] <= row["estimate"] <= row["ci_high"] < 1
    # the client block is 2 x 2: no profile, and no bootstrap without replicates
    assert t.loc[("client", "share_total_variance"), "method"] == "none"
    # the ICC of the null model profiles that model, not the full one
    assert t.loc[("therapist", "icc_therapist"), "ci_high"] != \
        t.loc[("therapist", "icc_therapist_adjusted"), "ci_high"]
