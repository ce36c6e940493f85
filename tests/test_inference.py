"""Tests of the inference layer: lmerTest t-tests, Kenward-Roger, profile intervals, anova, AIC/BIC.

Golden values: tests/reference/make_grammar_reference.R (lme4, lmerTest, pbkrtest). Only the
cases the nested engine fits are compared here (``nested_formula`` non-empty in
grammar_cases.csv: the same model written with unique ids and one term per factor).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.errors import ModelSpecError
from commonfactors.models import ConvergenceWarning
from commonfactors.models import inference as inf

REF = Path(__file__).parent / "reference"


def _read(name):
    return pd.read_csv(REF / name, keep_default_na=False, na_values=["NA"])


CASES = _read("grammar_cases.csv")
NESTED = CASES[CASES["nested_formula"] != ""]
_FITS: dict = {}


def _fit(case):
    if case not in _FITS:
        row = CASES.set_index("case").loc[case]
        data = pd.read_csv(REF / row["file"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _FITS[case] = cf.fit_mixed(data, row["nested_formula"],
                                       reml=str(row["reml"]).upper() == "TRUE")
    return _FITS[case]


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-300)


CASE_IDS = list(NESTED["case"])


# --------------------------------------------------------------------------- fit itself
@pytest.mark.r_reference
@pytest.mark.parametrize("case", CASE_IDS)
def test_fit_and_information_criteria_match_lme4(case):
    fit = _fit(case)
    gf = _read("grammar_fit.csv").set_index("case").loc[case]
    fx = _read("grammar_fixed.csv").query("case == @case").set_index("term")
    # optimiser precision: lme4's own two optimisers differ by up to 1e-6 (grammar_fit.csv)
    np.testing.assert_allclose(fit.fixed[fx.index], fx["estimate"], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(fit.std_errors[fx.index], fx["std_error"], rtol=1e-5)
    gv = _read("grammar_variance.csv").query("case == @case")
    # egsingle's REML criterion is flat enough that lme4's two optimisers disagree on its
    # variances by 2.9e-5 (alt_optimizer_max_rel_diff_variance); elsewhere by <= 1.1e-6
    rtol_var = max(1e-5, 4 * gf["alt_optimizer_max_rel_diff_variance"])
    for r in gv.itertuples():
        if r.factor == "residual":
            est = fit.residual_variance
        else:
            est = float(fit.random_cov[r.factor].loc[r.term1, r.term2])
        assert est == pytest.approx(float(r.estimate), rel=rtol_var, abs=1e-9), (r.factor, r.term1)
    # log-likelihoods at an optimum are flat in the parameters: agreement to rounding
    ic = inf.information_criteria(fit)
    assert ic["loglik"] == pytest.approx(gf["loglik"], abs=1e-6)
    assert ic["npar"] == gf["npar"]
    assert fit.aic == pytest.approx(gf["aic"], abs=2e-6)
    assert fit.bic == pytest.approx(gf["bic"], abs=2e-6)
    ml = inf.adapter(fit).refit_ml()
    assert ml.loglik == pytest.approx(gf["loglik_ml_refit"], abs=1e-6)


# --------------------------------------------------------------------------- t-tests
@pytest.mark.r_reference
@pytest.mark.parametrize("case", CASE_IDS)
def test_satterthwaite_matches_lmertest(case):
    fit = _fit(case)
    fx = _read("grammar_fixed.csv").query("case == @case").set_index("term")
    tab = fit.fixed_effects()
    # df: numerical second derivatives here and in lmerTest (numDeriv) at optima that agree to
    # about 1e-6 (egsingle: 3e-5 in the variances); measured worst: 2.3e-6 (README). p-values
    # far in the tail (egsingle: 1e-47) magnify those differences: measured worst 2.1e-5
    np.testing.assert_allclose(tab.loc[fx.index, "df"], fx["df_satterthwaite"], rtol=1e-5)
    np.testing.assert_allclose(tab.loc[fx.index, "t"], fx["t_value"], rtol=1e-5)
    np.testing.assert_allclose(tab.loc[fx.index, "p_value"], fx["p_satterthwaite"], rtol=1e-4,
                               atol=1e-300)


@pytest.mark.r_reference
@pytest.mark.parametrize("case", [c for c in CASE_IDS if not c.endswith("_ml")])
def test_kenward_roger_matches_pbkrtest(case):
    fit = _fit(case)
    fx = _read("grammar_fixed.csv").query("case == @case").set_index("term")
    tab = fit.fixed_effects(ddf="Kenward-Roger")
    # closed-form matrix algebra at the optimum: only the optimum's precision enters
    np.testing.assert_allclose(tab.loc[fx.index, "std_error"], fx["std_error_kr"], rtol=1e-5)
    np.testing.assert_allclose(tab.loc[fx.index, "df"], fx["df_kr"], rtol=1e-5)
    np.testing.assert_allclose(tab.loc[fx.index, "p_value"], fx["p_kr"], rtol=1e-4, atol=1e-300)


def test_kenward_roger_needs_reml():
    fit = _fit("sleepstudy_correlated_ml")
    with pytest.raises(ModelSpecError, match="REML"):
        fit.fixed_effects(ddf="Kenward-Roger")


def test_confidence_interval_and_bad_options():
    fit = _fit("sleepstudy_correlated")
    tab = fit.fixed_effects(level=0.9)
    from scipy import stats
    q = stats.t.ppf(0.95, tab["df"])
    np.testing.assert_allclose(tab["ci_high"] - tab["estimate"], q * tab["std_error"], rtol=1e-12)
    with pytest.raises(ValueError, match="`ddf`"):
        fit.fixed_effects(ddf="KR")
    with pytest.raises(ValueError, match="`level`"):
        fit.fixed_effects(level=95)


def test_satterthwaite_balanced_design_is_exact():
    # balanced one-way random intercept: the Satterthwaite df of the intercept is exactly
    # (number of groups - 1) (the classical ANOVA result); this checks the derivatives without R
    fit = _fit("pastes_nested")
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(12), 4)
    df = pd.DataFrame({"g": g, "y": rng.normal(size=12)[g] + rng.normal(size=48)})
    one = cf.fit_mixed(df, "y ~ 1 + (1 | g)")
    assert one.fixed_effects().loc["Intercept", "df"] == pytest.approx(11, rel=1e-6)
    assert one.fixed_effects("Kenward-Roger").loc["Intercept", "df"] == pytest.approx(11, rel=1e-6)
    assert fit.fixed_effects().loc["Intercept", "df"] == pytest.approx(9, rel=1e-6)


# --------------------------------------------------------------------------- profile intervals
PROFILE_CASES = ["pastes_nested", "sleepstudy_correlated"]


@pytest.mark.r_reference
@pytest.mark.slow
@pytest.mark.parametrize("case", PROFILE_CASES)
def test_profile_intervals_match_lme4(case):
    fit = _fit(case)
    gp = _read("grammar_profile.csv").query("case == @case").copy()
    ci = fit.confint_variance()
    names = [p.replace("|cask:batch", "|sample").replace("|batch:cask", "|sample")
             for p in gp["parameter"]]
    assert set(names) == set(ci.index)
    got = ci.loc[names]
    # both are exact roots of the same ML profile; precision of the inner optimisations
    np.testing.assert_allclose(got["estimate_ml"], gp["estimate_ml"], rtol=1e-5)
    np.testing.assert_allclose(got["ci_low"], gp["lower_exact"], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(got["ci_high"], gp["upper_exact"], rtol=1e-5, atol=1e-8)
    # lme4's confint interpolates a spline through the profile: agreement to its error
    np.testing.assert_allclose(got["ci_low"], gp["lower_lme4"], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(got["ci_high"], gp["upper_lme4"], rtol=1e-3, atol=1e-6)


# --------------------------------------------------------------------------- anova
ANOVA_NESTED = {  # comparison -> the two models in the nested engine's notation
    "egsingle_fixed": ("egsingle_slopes",
                       "math ~ year + male + black + hispanic + (year | childid) + (year | schoolid)"),
    "egsingle_random": ("egsingle_slopes",
                        "math ~ year + male + black + hispanic + lowinc + (year | childid)"
                        " + (1 | schoolid)"),
    "pastes_batch": ("pastes_nested", "strength ~ 1 + (1 | sample)"),
}


@pytest.mark.r_reference
@pytest.mark.parametrize("comparison", list(ANOVA_NESTED))
def test_anova_matches_lme4(comparison):
    large_case, small_formula = ANOVA_NESTED[comparison]
    large = _fit(large_case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small = cf.fit_mixed(large.data, small_formula)
    ga = _read("grammar_anova.csv").query("comparison == @comparison").set_index("model")
    tab = cf.anova(large, small)  # any order: sorted by npar as lme4 does
    assert list(tab["npar"]) == list(ga["npar"])
    for col in ("aic", "bic", "loglik", "deviance"):
        np.testing.assert_allclose(tab[col], ga[col], rtol=1e-9, atol=2e-6)
    assert tab["chisq"].iloc[1] == pytest.approx(ga.loc["large", "chisq"], abs=4e-6)
    assert tab["df"].iloc[1] == ga.loc["large", "df"]
    assert tab["p_value"].iloc[1] == pytest.approx(ga.loc["large", "p_value"], rel=1e-4)
    assert np.isnan(tab["chisq"].iloc[0])
    assert large.compare(small)["chisq"].iloc[1] == pytest.approx(tab["chisq"].iloc[1])


def test_anova_refuses_different_rows_and_single_model():
    fit = _fit("sleepstudy_correlated")
    other = cf.fit_mixed(fit.data.iloc[:120], "Reaction ~ Days + (Days | Subject)")
    with pytest.raises(ModelSpecError, match="different numbers of rows"):
        cf.anova(fit, other)
    with pytest.raises(ModelSpecError, match="at least two"):
        cf.anova(fit)


def test_anova_without_refit_keeps_reml():
    fit = _fit("sleepstudy_correlated")
    small = cf.fit_mixed(fit.data, "Reaction ~ Days + (1 | Subject)")
    tab = cf.anova(small, fit, refit=False)
    assert tab["loglik"].iloc[1] == pytest.approx(fit.loglik)


# --------------------------------------------------------------------------- display
def test_summary_layout_and_html_escaping():
    fit = _fit("sleepstudy_correlated")
    text = fit.summary()
    for part in ("Linear mixed model fit by REML", "Satterthwaite", "REML criterion at convergence",
                 "Scaled residuals", "Random effects", "Number of obs: 180", "Fixed effects",
                 "Pr(>|t|)", "Signif. codes"):
        assert part in text, part
    assert "Kenward-Roger" in fit.summary(ddf="Kenward-Roger")
    # a user-supplied level name with markup ends up in a term name: it must be escaped
    df = fit.data.assign(arm=np.where(fit.data["Subject"].str[-1].isin(list("02468")),
                                      "z<b>x</b>", "a"))
    weird = cf.fit_mixed(df, "Reaction ~ Days + arm + (1 | Subject)")
    page = weird._repr_html_()
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_protocol_refuses_statsmodels_fits():
    d = _fit("sleepstudy_correlated").data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm = cf.fit_mixed(d, "Reaction ~ Days + (1 | Subject)", engine="statsmodels")
    with pytest.raises(ModelSpecError, match="engine"):
        sm.fixed_effects()
    assert "Fixed effects" in sm.summary()  # the summary still shows the estimates


def test_parametric_bootstrap_intervals():
    fit = _fit("pastes_nested")
    a = fit.confint_variance(method="boot", n_boot=60, seed=3)
    b = fit.confint_variance(method="boot", n_boot=60, seed=3)
    pd.testing.assert_frame_equal(a, b)  # seeded
    assert list(a.columns) == ["estimate", "ci_low", "ci_high", "n_boot", "n_failed"]
    assert (a["n_boot"] + a["n_failed"] == 60).all()
    assert (a["ci_low"] <= a["estimate"]).all() and (a["estimate"] <= a["ci_high"]).all()
    # the REML estimates themselves, lme4's VarCorr (sdcor), to optimiser precision
    gv = _read("grammar_variance.csv").query("case == 'pastes_nested'")
    np.testing.assert_allclose(np.sort(a["estimate"]), np.sort(gv["sdcor"]), rtol=1e-5)
    with pytest.raises(ValueError, match="`method`"):
        fit.confint_variance(method="wald")
    with pytest.raises(ValueError, match="`n_boot`"):
        fit.confint_variance(method="boot", n_boot=1)
