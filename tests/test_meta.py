"""Tests for commonfactors.meta: REML meta-regression (against metafor) and design-based shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from commonfactors.errors import (
    ColumnError,
    CommonFactorsError,
    ConfigError,
    DataValidationError,
    EstimationError,
    ModelSpecError,
)
from commonfactors.meta import design_based_shares, pre_post_variance, random_effects_metareg

REF = Path(__file__).parent / "reference_meta"
GOLDEN = pd.read_csv(REF / "golden_meta.csv")
ARM_MEANS = {"waitlist": 0.50, "placebo": 1.25, "active": 1.50}  # shares 1/3, 1/2, 1/6


def golden(model: str) -> pd.Series:
    return GOLDEN[GOLDEN["model"] == model].set_index("quantity")["value"]


def simulate_arms(n_studies, *, seed, means=ARM_MEANS, tau=0.25, arm_sd=0.0, p_both=0.3):
    """Trials with an active arm and a waitlist and/or placebo arm; pre-post d per arm."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_studies):
        kind = rng.choice(3, p=[(1 - p_both) / 2, (1 - p_both) / 2, p_both])
        arms = ["active"] + [["waitlist"], ["placebo"], ["waitlist", "placebo"]][kind]
        u = rng.normal(0.0, tau)
        for arm in arms:
            n = int(rng.integers(20, 120))
            v = float(pre_post_variance(means[arm], n))
            d = means[arm] + u + rng.normal(0.0, arm_sd) + rng.normal(0.0, np.sqrt(v))
            rows.append({"trial": f"t{s}", "arm": arm, "n": n, "d": d})
    out = pd.DataFrame(rows)
    out["v"] = pre_post_variance(out["d"], out["n"])
    return out


# --- REML meta-regression against metafor (golden values: tests/reference_meta) -------------


def _check(fit, g, names, rel):
    # metafor and this package's Fisher scoring (stops at a 1e-10 change) each reach the REML
    # optimum to their own precision; `rel` per case says what metafor's stopping rule allows;
    # the loglik is flat at the optimum (second order), hence 1e-8
    for name in names:
        key = "intrcpt" if name == "intercept" else name
        assert fit.coef[name] == pytest.approx(g[f"b_{key}"], rel=rel)
        assert fit.se[name] == pytest.approx(g[f"se_{key}"], rel=rel)
    assert fit.loglik == pytest.approx(g["loglik"], rel=1e-8)
    assert fit.converged


@pytest.mark.r_reference
def test_konstantopoulos_district_intercept():
    dat = pd.read_csv(REF / "konstantopoulos2011.csv")
    # rma.mv(yi, vi, random = ~ 1 | district, data = dat)
    fit = random_effects_metareg(dat["yi"], dat["vi"], None, dat["district"])
    g = golden("konst_district")
    _check(fit, g, ["intercept"], rel=1e-5)
    assert fit.tau2 == pytest.approx(g["var1"], rel=1e-5)
    assert (fit.k, fit.n_studies, fit.sigma2) == (56, 11, 0.0)


@pytest.mark.r_reference
def test_konstantopoulos_district_year():
    dat = pd.read_csv(REF / "konstantopoulos2011.csv")
    X = pd.DataFrame({"intrcpt": 1.0, "year": dat["year"]})
    # rma.mv(yi, vi, mods = ~ year, random = ~ 1 | district, data = dat)
    fit = random_effects_metareg(dat["yi"], dat["vi"], X, dat["district"])
    g = golden("konst_district_year")
    _check(fit, g, ["intrcpt", "year"], rel=1e-5)
    assert fit.tau2 == pytest.approx(g["var1"], rel=1e-5)


@pytest.mark.r_reference
def test_konstantopoulos_two_components():
    dat = pd.read_csv(REF / "konstantopoulos2011.csv")
    # rma.mv(yi, vi, random = ~ 1 | district/school, data = dat)
    fit = random_effects_metareg(dat["yi"], dat["vi"], None, dat["district"], arm_level=True)
    g = golden("konst_district_school")
    _check(fit, g, ["intercept"], rel=1e-6)
    assert fit.tau2 == pytest.approx(g["var1"], rel=1e-6)
    assert fit.sigma2 == pytest.approx(g["var2"], rel=1e-6)


@pytest.mark.r_reference
@pytest.mark.parametrize("knha", [False, True])
def test_bcg_ablat_with_and_without_knapp_hartung(knha):
    bcg = pd.read_csv(REF / "bcg.csv")
    X = pd.DataFrame({"intrcpt": 1.0, "ablat": bcg["ablat"]})
    # rma(yi, vi, mods = ~ ablat, method = "REML", test = "knha" or "z")
    fit = random_effects_metareg(bcg["yi"], bcg["vi"], X, knapp_hartung=knha)
    g = golden("bcg_ablat_knha" if knha else "bcg_ablat")
    # metafor stops at a change in tau2 < 1e-5; the REML gradient is ~1e-8 here
    _check(fit, g, ["intrcpt", "ablat"], rel=2e-4)
    assert fit.tau2 == pytest.approx(g["var1"], rel=2e-4)
    assert fit.df == 11
    tab = fit.table
    assert list(tab["term"]) == ["intrcpt", "ablat"]
    assert tab["p_value"].between(0, 1).all()


@pytest.mark.r_reference
@pytest.mark.parametrize("model, arm_level", [("arms_study", False), ("arms_study_arm", True)])
def test_arm_type_means_and_shares_match_metafor(model, arm_level):
    arms = pd.read_csv(REF / "arms_example.csv")
    g = golden(model)
    X = pd.DataFrame({"natural_course": (arms["arm"] == "waitlist").astype(float),
                      "placebo": (arms["arm"] == "placebo").astype(float),
                      "active": (arms["arm"] == "active").astype(float)})
    # rma.mv(d, v, mods = ~ 0 + type, random = ~ 1 | study  (or ~ 1 | study/arm_id))
    fit = random_effects_metareg(arms["d"], arms["v"], X, arms["study"], arm_level=arm_level)
    _check(fit, g, ["natural_course", "placebo", "active"], rel=1e-6)
    assert fit.tau2 == pytest.approx(g["var1"], rel=1e-6)
    if arm_level:  # metafor: 3e-11, a boundary estimate
        assert fit.sigma2 == pytest.approx(0.0, abs=1e-8)
    out = design_based_shares(arms, arm_col="arm", change_col="d", study_col="study",
                              var_col="v", arm_level=arm_level, n_boot=0)
    for rec in out.to_dict("records"):
        assert rec["estimate"] == pytest.approx(g[f"share_{rec['factor']}"], rel=1e-6)


# --- REML meta-regression: invariants and errors ---------------------------------------------


def test_knapp_hartung_scales_covariance():
    arms = simulate_arms(30, seed=3)
    y, v = arms["d"], arms["v"]
    plain = random_effects_metareg(y, v, None, arms["trial"])
    kh = random_effects_metareg(y, v, None, arms["trial"], knapp_hartung=True)
    ratio = kh.se.iloc[0] / plain.se.iloc[0]
    assert ratio > 0 and ratio != pytest.approx(1.0, abs=1e-6)
    assert kh.coef.iloc[0] == pytest.approx(plain.coef.iloc[0])
    assert kh.tau2 == pytest.approx(plain.tau2)


def test_shift_and_scale_invariance():
    arms = simulate_arms(40, seed=4)
    X = np.column_stack([np.ones(len(arms)), (arms["arm"] == "active").astype(float)])
    base = random_effects_metareg(arms["d"], arms["v"], X, arms["trial"])
    shifted = random_effects_metareg(arms["d"] + 3.0, arms["v"], X, arms["trial"])
    # separate optimisations, each converged to a 1e-10 change of the variance components:
    # 1e-6 / 1e-5 leave a wide margin for the path the optimiser takes
    assert shifted.coef.iloc[0] == pytest.approx(base.coef.iloc[0] + 3.0, rel=1e-6)
    assert shifted.coef.iloc[1] == pytest.approx(base.coef.iloc[1], rel=1e-6)
    assert shifted.tau2 == pytest.approx(base.tau2, rel=1e-6)
    scaled = random_effects_metareg(2.0 * arms["d"], 4.0 * arms["v"], X, arms["trial"])
    np.testing.assert_allclose(scaled.coef, 2.0 * base.coef, rtol=1e-6)
    assert scaled.tau2 == pytest.approx(4.0 * base.tau2, rel=1e-5)


def test_homogeneous_data_gives_boundary_tau2():
    k = 30
    v = np.full(k, 0.04)
    y = np.linspace(-0.01, 0.01, k)  # far less spread than the sampling variance
    fit = random_effects_metareg(y, v)
    assert fit.tau2 == 0.0 and fit.converged
    # with tau2 = 0 the estimate is the inverse-variance weighted mean
    assert fit.coef.iloc[0] == pytest.approx(np.mean(y))
    assert fit.se.iloc[0] == pytest.approx(np.sqrt(0.04 / k))


def test_study_labels_and_row_order_do_not_matter():
    arms = simulate_arms(25, seed=5)
    X = (arms["arm"] == "active").astype(float).to_frame().assign(c=1.0)
    a = random_effects_metareg(arms["d"], arms["v"], X, arms["trial"])
    perm = np.random.default_rng(0).permutation(len(arms))
    relabel = arms["trial"].map(lambda s: f"study_{s[::-1]}")
    b = random_effects_metareg(arms["d"].iloc[perm], arms["v"].iloc[perm], X.iloc[perm],
                               relabel.iloc[perm])
    # the same problem up to summation order; Fisher scoring stops at a 1e-10 change
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-8)
    assert a.tau2 == pytest.approx(b.tau2, rel=1e-8)


def test_metareg_errors():
    y, v = [0.1, 0.2, 0.3, 0.4], [0.01, 0.01, 0.01, 0.01]
    with pytest.raises(ModelSpecError, match=r"`v`: expecting 4 sampling variances"):
        random_effects_metareg(y, v[:3])
    with pytest.raises(DataValidationError, match=r"`v`: expecting finite sampling variances > 0"):
        random_effects_metareg(y, [0.01, 0.0, 0.01, 0.01])
    with pytest.raises(DataValidationError, match=r"`y`: expecting finite"):
        random_effects_metareg([0.1, np.nan, 0.3, 0.4], v)
    with pytest.raises(ModelSpecError, match=r"`X`: the design has 2 columns but rank 1"):
        random_effects_metareg(y, v, np.column_stack([np.ones(4), 2 * np.ones(4)]))
    with pytest.raises(ModelSpecError, match=r"`X`: expecting a 2-D design with 4 rows"):
        random_effects_metareg(y, v, np.ones((3, 1)))
    with pytest.raises(ModelSpecError, match=r"`arm_level=True` needs studies with several"):
        random_effects_metareg(y, v, arm_level=True)
    with pytest.raises(ModelSpecError, match=r"too few degrees of freedom"):
        random_effects_metareg(y[:2], v[:2], np.eye(2))
    with pytest.raises(ModelSpecError, match=r"`study`: expecting 4 labels"):
        random_effects_metareg(y, v, None, [1, 2])


# --- design-based shares ---------------------------------------------------------------------


def test_pre_post_variance_formula():
    # 2(1 - r)/n + d^2/(2n)
    assert float(pre_post_variance(0.5, 50)) == pytest.approx(2 * 0.5 / 50 + 0.25 / 100)
    assert float(pre_post_variance(1.0, 20, r=0.7)) == pytest.approx(2 * 0.3 / 20 + 1 / 40)
    with pytest.raises(DataValidationError, match=r"`n`: expecting arm sizes > 1"):
        pre_post_variance([0.5, 0.5], [30, 1])
    with pytest.raises(ConfigError, match=r"`r`: expecting a number in \(-1.0, 1.0\)"):
        pre_post_variance(0.5, 30, r=1.0)


@pytest.mark.slow
def test_recovers_known_shares_at_large_k():
    arms = simulate_arms(600, seed=11, arm_sd=0.05)
    out = design_based_shares(arms, arm_col="arm", change_col="d", study_col="trial",
                              n_col="n", n_boot=0, arm_level=True)
    truth = {"extra_therapeutic": 1 / 3, "nonspecific": 1 / 2, "technique": 1 / 6}
    est = dict(zip(out["factor"], out["estimate"], strict=True))
    for factor, value in truth.items():
        assert est[factor] == pytest.approx(value, abs=0.02), factor
    assert sum(est.values()) == pytest.approx(1.0, abs=1e-12)
    assert out["ci_low"].isna().all() and (out["n_boot"] == 0).all()


def test_bootstrap_intervals_cover_truth_and_are_reproducible():
    arms = simulate_arms(60, seed=12)
    kw = dict(arm_col="arm", change_col="d", study_col="trial", var_col="v", n_boot=60)
    a = design_based_shares(arms, seed=7, **kw)
    b = design_based_shares(arms, seed=7, **kw)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["factor", "estimand", "estimate", "ci_low", "ci_high", "n_boot",
                               "n_failed"]
    assert list(a["factor"]) == ["extra_therapeutic", "nonspecific", "technique"]
    assert (a["estimand"] == "share_mean_improvement").all()
    assert (a["ci_low"] < a["estimate"]).all() and (a["estimate"] < a["ci_high"]).all()
    truth = np.array([1 / 3, 1 / 2, 1 / 6])
    assert ((a["ci_low"] <= truth) & (truth <= a["ci_high"])).all()
    assert (a["n_failed"] == 0).all() and (a["n_boot"] == 60).all()
    c = design_based_shares(arms, seed=8, **kw)
    assert not np.allclose(a["ci_low"], c["ci_low"])
    # parallel replicates give the same numbers
    par = design_based_shares(arms, seed=7, n_jobs=2, **kw)
    pd.testing.assert_frame_equal(a, par)


def test_failed_replicates_are_counted():
    # only one trial has a placebo arm: resamples that miss it cannot be fitted
    arms = simulate_arms(12, seed=13, p_both=0.0)
    arms = arms[arms["arm"] != "placebo"]
    extra = pd.DataFrame({"trial": ["t0"], "arm": ["placebo"], "n": [50], "d": [1.2],
                          "v": [0.03]})
    arms = pd.concat([arms, extra], ignore_index=True)
    out = design_based_shares(arms, arm_col="arm", change_col="d", study_col="trial",
                              var_col="v", n_boot=40, seed=1)
    n_failed = int(out["n_failed"].iloc[0])
    # P(resample misses t0) = (11/12)^12, about 0.35
    assert 3 <= n_failed <= 30


def test_scale_invariance_and_order_of_arms():
    arms = simulate_arms(40, seed=14)
    kw = dict(arm_col="arm", change_col="d", study_col="trial", var_col="v", n_boot=0)
    base = design_based_shares(arms, **kw)
    scaled = arms.assign(d=arms["d"] * 3.0, v=arms["v"] * 9.0)
    np.testing.assert_allclose(design_based_shares(scaled, **kw)["estimate"], base["estimate"],
                               rtol=1e-6)
    shuffled = arms.sample(frac=1.0, random_state=0)
    np.testing.assert_allclose(design_based_shares(shuffled, **kw)["estimate"],
                               base["estimate"], rtol=1e-8)


def test_mapping_labels_drop_and_caller_frame_untouched():
    arms = simulate_arms(30, seed=15)
    labels = {"waitlist": "WL", "placebo": "Attention control", "active": "CBT"}
    renamed = arms.assign(arm=arms["arm"].map(labels))
    usual = pd.DataFrame({"trial": ["t0"], "arm": ["usual care"], "n": [40], "d": [0.9],
                          "v": [0.03]})
    data = pd.concat([renamed, usual], ignore_index=True)
    before = data.copy()
    kw = dict(arm_col="arm", change_col="d", study_col="trial", var_col="v", n_boot=0)
    with pytest.raises(ColumnError, match=r"'cbt', 'usual_care'.*mapping=\{'usual_care'"):
        design_based_shares(data, **kw)
    out = design_based_shares(data, mapping={"CBT": "active", "usual care": None}, **kw)
    ref = design_based_shares(arms, **kw)
    np.testing.assert_allclose(out["estimate"], ref["estimate"], rtol=1e-10)
    pd.testing.assert_frame_equal(data, before)
    with pytest.raises(CommonFactorsError, match=r"`mapping\['CBT'\]`: expecting one of"):
        design_based_shares(data, mapping={"CBT": "specific"}, **kw)


def test_n_col_and_var_col_give_same_answer_when_consistent():
    arms = simulate_arms(30, seed=16)
    a = design_based_shares(arms, arm_col="arm", change_col="d", study_col="trial",
                            var_col="v", n_boot=0)
    b = design_based_shares(arms, arm_col="arm", change_col="d", study_col="trial",
                            n_col="n", n_boot=0)
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-10)


def test_design_based_errors():
    arms = simulate_arms(20, seed=17)
    kw = dict(arm_col="arm", change_col="d", study_col="trial")
    with pytest.raises(ColumnError, match=r"give exactly one"):
        design_based_shares(arms, n_boot=0, **kw)
    with pytest.raises(ColumnError, match=r"give exactly one"):
        design_based_shares(arms, var_col="v", n_col="n", n_boot=0, **kw)
    with pytest.raises(ColumnError, match=r"`arms`: column\(s\) 'se' not found"):
        design_based_shares(arms, var_col="se", n_boot=0, **kw)
    with pytest.raises(DataValidationError, match=r"no arm of type 'placebo'"):
        design_based_shares(arms[arms["arm"] != "placebo"], var_col="v", n_boot=0, **kw)
    gap = arms.copy()
    gap.loc[gap.index[0], "d"] = np.nan
    with pytest.raises(DataValidationError, match=r"1 arm\(s\) have a missing 'd'"):
        design_based_shares(gap, var_col="v", n_boot=0, **kw)
    with pytest.raises(EstimationError, match=r"mean change of active arms is .* <= 0"):
        design_based_shares(arms.assign(d=-arms["d"]), var_col="v", n_boot=0, **kw)
    with pytest.raises(ConfigError, match=r"`n_boot`: expecting an integer >= 0"):
        design_based_shares(arms, var_col="v", n_boot=-1, **kw)


# --- one outcome per study ------------------------------------------------------------------


def _multi_outcome_arms():
    return pd.DataFrame({
        "study": ["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"],
        "instrument": ["bdi", "bdi", "hdrs", "hdrs", "phq", "cesd", "cesd", "x", "y", "y"],
        "rank": [3, 3, 0, 0, 5, 5, 5, 9, 9, 9],
        "change": np.arange(10, dtype=float),
    })


def test_one_outcome_per_study_picks_by_priority_then_coverage_then_name():
    from commonfactors.meta import one_outcome_per_study

    arms = _multi_outcome_arms()
    before = arms.copy()
    kw = dict(study_col="study", outcome_col="instrument", priority_col="rank")
    out = one_outcome_per_study(arms, **kw)
    pd.testing.assert_frame_equal(arms, before)  # the caller's frame is not modified
    # a: hdrs (rank 0); b: cesd (tie on rank, more arms); c: y (tie, more arms)
    assert out["instrument"].tolist() == ["hdrs", "hdrs", "cesd", "cesd", "y", "y"]
    assert out.index.tolist() == [2, 3, 5, 6, 8, 9]  # input rows, input order
    # every study keeps exactly one outcome, whatever the row order
    shuffled = arms.sample(frac=1.0, random_state=3)
    again = one_outcome_per_study(shuffled, **kw)
    assert sorted(again.index) == sorted(out.index)
    assert (again.groupby("study")["instrument"].nunique() == 1).all()
    # a full tie falls back to alphabetical order
    tie = pd.DataFrame({"study": ["s", "s"], "instrument": ["zung", "bdi"], "rank": [1, 1]})
    assert one_outcome_per_study(tie, **kw)["instrument"].tolist() == ["bdi"]


def test_one_outcome_per_study_errors():
    from commonfactors.meta import one_outcome_per_study

    arms = _multi_outcome_arms()
    kw = dict(study_col="study", outcome_col="instrument", priority_col="rank")
    with pytest.raises(ColumnError, match="rank_x"):
        one_outcome_per_study(arms, **{**kw, "priority_col": "rank_x"})
    with pytest.raises(DataValidationError, match="missing 'study'"):
        one_outcome_per_study(arms.assign(study=[None] + ["a"] * 9), **kw)
    with pytest.raises(DataValidationError, match="expecting numbers in 'rank'"):
        one_outcome_per_study(arms.assign(rank="1"), **kw)


# --- the Metapsy main analysis against metafor ------------------------------------------------


@pytest.mark.r_reference
def test_metapsy_main_analysis_matches_metafor():
    """661 arms of 411 trials (make_metapsy_arms.py), trial and arm random effects."""
    import importlib.util

    arms = pd.read_csv(REF / "metapsy_arms.csv")
    # the golden's input is what the shipped dataset gives today (15+ significant digits)
    spec = importlib.util.spec_from_file_location("make_metapsy_arms",
                                                  REF / "make_metapsy_arms.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    now = mod.metapsy_arms()
    assert now[["study", "arm_type"]].equals(arms[["study", "arm_type"]])
    np.testing.assert_allclose(now[["n", "change", "v"]], arms[["n", "change", "v"]],
                               rtol=1e-15)
    g = golden("metapsy_main")
    X = pd.DataFrame({"natural_course": (arms["arm_type"] == "natural_course").astype(float),
                      "placebo": (arms["arm_type"] == "nonspecific").astype(float),
                      "active": (arms["arm_type"] == "active").astype(float)})
    # rma.mv(change, v, mods = ~ 0 + type, random = ~ 1 | study/arm_id, data = mp)
    fit = random_effects_metareg(arms["change"], arms["v"], X, arms["study"], arm_level=True)
    # both optimisers reach the same interior REML optimum (observed agreement ~1e-9)
    _check(fit, g, ["natural_course", "placebo", "active"], rel=1e-6)
    assert fit.tau2 == pytest.approx(g["var1"], rel=1e-6)
    assert fit.sigma2 == pytest.approx(g["var2"], rel=1e-6)
    out = design_based_shares(arms, arm_col="arm_type", change_col="change",
                              study_col="study", var_col="v", arm_level=True, n_boot=0)
    for rec in out.to_dict("records"):
        assert rec["estimate"] == pytest.approx(g[f"share_{rec['factor']}"], rel=1e-6)
