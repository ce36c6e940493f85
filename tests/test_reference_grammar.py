"""Completeness and internal consistency of the grammar / inference goldens.

Written by ``tests/reference/make_grammar_reference.R``; CI has no R, so these checks catch a
broken or partial regeneration: a missing case, two spellings of one model that do not give
one fit, components that do not add up, exact profile bounds far from lme4's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REF = Path(__file__).resolve().parent / "reference"
CASES = ["egsingle_slopes", "pastes_nested", "pastes_expanded", "penicillin_crossed",
         "sleepstudy_uncorrelated", "sleepstudy_split", "sleepstudy_correlated",
         "sleepstudy_correlated_ml", "psy4_slope"]
# egsingle is not profiled (see the script header)
PROFILED = [c for c in CASES if c != "egsingle_slopes"]


def _read(name):
    return pd.read_csv(REF / name, keep_default_na=False, na_values=["NA"])


@pytest.mark.parametrize("name", ["grammar_cases.csv", "grammar_fixed.csv", "grammar_variance.csv",
                                  "grammar_fit.csv", "grammar_components.csv"])
def test_every_case_present(name):
    assert set(_read(name)["case"]) == set(CASES)


def test_profiles_and_versions_present():
    assert set(_read("grammar_profile.csv")["case"]) == set(PROFILED)
    v = _read("grammar_versions.csv").set_index("software")["version"]
    for p in ("R", "lme4", "lmerTest", "pbkrtest", "performance", "mlmRev"):
        assert v[p]


def test_fits_converged_cleanly():
    fit = _read("grammar_fit.csv")
    assert fit["converged"].astype(str).str.upper().eq("TRUE").all()


@pytest.mark.parametrize(("a", "b"), [("pastes_nested", "pastes_expanded"),
                                      ("sleepstudy_uncorrelated", "sleepstudy_split")])
def test_two_spellings_one_model(a, b):
    # lme4 expands `/` and `||` into exactly these terms: the same deviance function, but the
    # terms come in another order, so the optimiser takes another path (grammar_fit.csv:
    # lme4's optimisers agree to 3.5e-7 on these variances)
    fx = _read("grammar_fixed.csv").set_index("case")
    np.testing.assert_allclose(fx.loc[a, "estimate"], fx.loc[b, "estimate"], rtol=1e-8)
    np.testing.assert_allclose(fx.loc[a, "df_satterthwaite"], fx.loc[b, "df_satterthwaite"],
                               rtol=1e-6)
    fit = _read("grammar_fit.csv").set_index("case")
    assert fit.loc[a, "loglik"] == pytest.approx(fit.loc[b, "loglik"], abs=1e-9)  # flat optimum
    va = _read("grammar_variance.csv").query("case == @a")["estimate"].to_numpy()
    vb = _read("grammar_variance.csv").query("case == @b")["estimate"].to_numpy()
    np.testing.assert_allclose(np.sort(va), np.sort(vb), rtol=1e-6)


def test_information_criteria_consistent():
    fit = _read("grammar_fit.csv")
    np.testing.assert_allclose(fit["aic"], -2 * fit["loglik"] + 2 * fit["npar"], rtol=1e-12)
    np.testing.assert_allclose(fit["bic"], -2 * fit["loglik"] + np.log(fit["n_obs"]) * fit["npar"],
                               rtol=1e-12)
    np.testing.assert_allclose(fit["deviance_criterion"], -2 * fit["loglik"], rtol=1e-12)


def test_components_add_up():
    comp = _read("grammar_components.csv")
    for case, d in comp.groupby("case"):
        var = d.query("measure == 'variance'").set_index("component")["value"]
        parts = var[[c for c in var.index if c in ("f", "v", "residual") or c.startswith("m_")]]
        assert parts.sum() == pytest.approx(var["total"], rel=1e-12), case
        flev = [c for c in var.index if c[0] == "f" and c[1:].isdigit()]
        if flev:  # level-pure: the level parts of f are orthogonal and add up to f
            assert var[flev].sum() == pytest.approx(var["f"], rel=1e-9, abs=1e-12), case
        vf = [c for c in var.index if c.startswith("v_")]
        if vf:
            assert var[vf].sum() == pytest.approx(var["v"], rel=1e-12), case
        for measure, dm in d.groupby("measure"):
            if measure.startswith(("within_", "between_")):
                assert dm["value"].sum() == pytest.approx(1.0, rel=1e-12), (case, measure)


def test_exact_profile_bounds_near_lme4_spline():
    prof = _read("grammar_profile.csv")
    for side in ("lower", "upper"):
        ex, sp = prof[f"{side}_exact"], prof[f"{side}_lme4"]
        ok = ex.notna() & sp.notna()
        # lme4 interpolates a spline through about 20 profile points per parameter
        np.testing.assert_allclose(ex[ok], sp[ok], rtol=2e-3, atol=1e-6)
        # the estimate lies inside its interval
        assert (prof["lower_exact"] <= prof["estimate_ml"] + 1e-12).all()
        assert (prof["upper_exact"] >= prof["estimate_ml"] - 1e-12).all()


def test_anova_rows():
    a = _read("grammar_anova.csv")
    for comp, d in a.groupby("comparison"):
        small, large = d.set_index("model").loc["small"], d.set_index("model").loc["large"]
        assert large["npar"] > small["npar"], comp
        assert large["chisq"] == pytest.approx(small["deviance"] - large["deviance"], abs=1e-8)
