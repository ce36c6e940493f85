"""The simulator's truth: headline figures, analytic vs least squares, invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.decomposition.shapley import all_subsets, commonality, shapley_values
from commonfactors.sessions import change_view
from commonfactors.simulation.simulator import PRESETS, preset_config
from commonfactors.simulation.truth import (
    analytic_truth,
    empirical_truth,
    ols_mean_shares,
    sim_references,
)

VARIANCE_ESTIMANDS = ["share_total_variance", "share_explained_variance",
                      "share_therapy_variance", "part_r2", "r2_marginal", "r2_conditional",
                      "icc_therapist", "icc_therapist_adjusted", "icc_client",
                      "icc_client_adjusted", "correlation"]


def _value(table, factor, estimand, view):
    sel = table[(table.factor == factor) & (table.estimand == estimand) & (table.view == view)]
    assert len(sel) == 1, (factor, estimand, view)
    return float(sel["value"].iloc[0])


@pytest.mark.parametrize("preset", list(PRESETS))
def test_headline_figures_are_in_the_truth_table(preset):
    sim = cf.simulate(preset, n_therapists=4, seed=0)
    for factor, estimand, view, target in PRESETS[preset].targets:
        assert _value(sim.truth, factor, estimand, view) == pytest.approx(target, abs=0.005)
    assert np.allclose(sim.headline["value"], sim.headline["target"], atol=0.005)


def test_headlines_quoted_in_the_issue():
    t = cf.simulate("norcross_lambert_2011", n_therapists=4, seed=0).truth
    assert _value(t, "relationship", "share_total_variance", "change") == pytest.approx(0.12, abs=5e-3)
    assert _value(t, "technique", "share_total_variance", "change") == pytest.approx(0.08, abs=5e-3)
    assert _value(t, "therapist", "share_total_variance", "change") == pytest.approx(0.07, abs=5e-3)
    t = cf.simulate("lambert_1992", n_therapists=4, seed=0).truth
    got = [_value(t, g, "share_mean_improvement", "change")
           for g in ("extra_therapeutic", "relationship", "expectancy", "technique")]
    assert got == pytest.approx([0.40, 0.30, 0.15, 0.15], abs=5e-3)
    # 80% of variance needs an alliance-improvement correlation near .9 (sqrt(.8) = .894)
    t = cf.simulate("seed_relationship_high", n_therapists=4, seed=0).truth
    assert _value(t, "relationship", "correlation", "change") == pytest.approx(0.894, abs=0.01)
    # spurious: the published correlation with no causal share
    t = cf.simulate("spurious_alliance", n_therapists=4, seed=0).truth
    assert _value(t, "relationship", "correlation", "change") == pytest.approx(0.278, abs=5e-3)
    assert _value(t, "relationship", "share_mean_improvement", "change") == 0.0


def _batched_empirical(preset, view, n_batches=5, per=6000, **overrides):
    frames = []
    cfg = None
    for b in range(n_batches):
        sim = cf.simulate(preset, n_therapists=per, clients_per_therapist=10, n_sessions=4,
                          seed=100 + b, truth=False, **overrides)
        cfg = sim.config
        d = sim.data if view == "growth" else change_view(sim.data)
        e = empirical_truth(d, sim.factors, view, cfg=sim.config)
        frames.append(e.assign(batch=b))
    allb = pd.concat(frames)
    agg = allb.groupby(["factor", "estimand"])["value"].agg(["mean", "std"])
    agg["se"] = agg["std"] / np.sqrt(n_batches)
    return agg.reset_index(), cfg


@pytest.mark.slow
@pytest.mark.parametrize("view", ["change", "growth"])
@pytest.mark.parametrize("preset", list(PRESETS))
def test_least_squares_on_a_large_sample_reproduces_the_analytic_truth(preset, view):
    """300,000 clients: Monte Carlo error < 0.005, agreement within 0.01."""
    emp, cfg = _batched_empirical(preset, view)
    truth = analytic_truth(cfg, views=(view,))
    m = emp.merge(truth, on=["factor", "estimand"])
    m = m[m.estimand.isin(VARIANCE_ESTIMANDS) & m["value"].notna()]
    assert len(m) >= 15
    # ratios of two small shares (share of therapy / explained variance) are the noisiest: they
    # are functions of the Shapley values checked here, so for them allow 3 Monte Carlo SEs
    ratio = m.estimand.isin(["share_therapy_variance", "share_explained_variance"])
    direct = m[~ratio]
    assert (direct["se"] < 0.005).all(), direct.loc[direct["se"] >= 0.005, ["factor", "estimand", "se"]]
    tol = np.where(ratio, np.maximum(0.01, 3 * m["se"]), 0.01)
    bad = m[(m["mean"] - m["value"]).abs() > tol]
    assert bad.empty, bad[["factor", "estimand", "mean", "value", "se"]]


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["lambert_1992", "norcross_lambert_2011", "wampold_imel_2015"])
def test_counterfactual_least_squares_recovers_mean_shares_with_error_free_alliance(preset):
    # "true predictors": the alliance measured without error and without state fluctuation
    emp, cfg = _batched_empirical(preset, "change", n_batches=3, per=6000,
                                  alliance_reliability=1.0, alliance_state_sd=0.0)
    truth = analytic_truth(cfg, views=("change",))
    m = emp[emp.estimand == "share_mean_improvement"].merge(truth, on=["factor", "estimand"])
    assert len(m) == 4
    assert np.allclose(m["mean"], m["value"], atol=0.01), m


def test_reverse_causation_biases_the_counterfactual_share():
    """spurious_alliance: no causal share, but the naive model attributes a large one."""
    sim = cf.simulate("spurious_alliance", n_therapists=400, seed=5)
    shares = ols_mean_shares(change_view(sim.data), sim.factors, "change", sim_references(sim.config))
    assert _value(sim.truth, "relationship", "share_mean_improvement", "change") == 0.0
    assert shares["relationship"] > 0.25


def test_invariants_of_the_analytic_truth():
    cfg = preset_config("wampold_imel_2015")
    t = analytic_truth(cfg)
    for view in ("change", "growth"):
        v = t[t.view == view]
        groups = ["relationship", "technique", "expectancy", "extra_therapeutic"]
        phi = v[(v.estimand == "share_total_variance") & v.factor.isin(groups)]["value"].sum()
        assert phi == pytest.approx(_value(t, "model", "r2_marginal", view), abs=1e-10)
        # variance components and explained variance sum to the whole
        parts = v[(v.estimand == "share_total_variance")]["value"].sum()
        assert parts == pytest.approx(1.0, abs=1e-10)
        expl = v[(v.estimand == "share_explained_variance")]["value"].sum()
        assert expl == pytest.approx(1.0, abs=1e-10)
        ther = v[(v.estimand == "share_therapy_variance")]["value"].sum()
        assert ther == pytest.approx(1.0, abs=1e-10)
        mean = v[(v.estimand == "share_mean_improvement")]["value"].sum()
        assert mean == pytest.approx(1.0, abs=1e-12)


def test_truth_does_not_depend_on_the_outcome_scale():
    cfg = preset_config("wampold_imel_2015")
    base = analytic_truth(cfg)
    scaled = analytic_truth(cfg.replace(
        intake_mean=cfg.intake_mean * 3, intake_sd=cfg.intake_sd * 3, session_sd=cfg.session_sd * 3,
        natural_course=cfg.natural_course * 3, improvement_sd=cfg.improvement_sd * 3,
        therapist_effect_sd=cfg.therapist_effect_sd * 3, support_effect=cfg.support_effect * 3,
        alliance_effect=cfg.alliance_effect * 3, expectancy_effect=cfg.expectancy_effect * 3,
        technique_effect=cfg.technique_effect * 3))
    assert np.allclose(base["value"], scaled["value"], atol=1e-10, equal_nan=True)


def test_shapley_and_commonality_identities():
    rng = np.random.default_rng(1)
    groups = ["a", "b", "c", "d"]
    r2 = {s: 0.0 if not s else float(rng.uniform(0, 0.2) + 0.1 * len(s)) for s in all_subsets(groups)}
    phi = shapley_values(r2, groups)
    assert sum(phi.values()) == pytest.approx(r2[frozenset(groups)])
    # order of groups does not matter
    phi2 = shapley_values(r2, groups[::-1])
    assert all(phi[g] == pytest.approx(phi2[g]) for g in groups)
    com = commonality(r2, groups)
    assert sum(com.values()) == pytest.approx(r2[frozenset(groups)])
    full = frozenset(groups)
    assert com[frozenset("a")] == pytest.approx(r2[full] - r2[full - {"a"}])
    assert com[frozenset("ab")] == pytest.approx(
        r2[full - {"a"}] + r2[full - {"b"}] - r2[full - {"a", "b"}] - r2[full])
    # additive (independent) groups: Shapley = own R2, commonality shared parts = 0
    own = {"a": 0.1, "b": 0.2, "c": 0.05, "d": 0.0}
    add = {s: sum(own[g] for g in s) for s in all_subsets(groups)}
    assert shapley_values(add, groups) == pytest.approx(own)
    assert all(abs(v) < 1e-12 for k, v in commonality(add, groups).items() if len(k) > 1)


def test_monte_carlo_truth_with_dropout_reports_its_error():
    cfg = preset_config("wampold_imel_2015").replace(dropout="mcar", dropout_rate=0.1)
    assert not cfg.analytic
    t = cf.truth.monte_carlo_truth(cfg, n_therapists=400, n_batches=4, views=("change",))
    assert (t.loc[t.estimand != "share_mean_improvement", "method"] == "monte_carlo").all()
    assert (t.loc[t.estimand == "share_mean_improvement", "method"] == "analytic").all()
    assert (t["mc_se"] > 0).any() and t["mc_se"].max() < 0.1
    # MCAR dropout leaves the relationship's variance share of improvement roughly unchanged
    exact = analytic_truth(cfg.replace(dropout="none", dropout_rate=0.0), views=("change",))
    got = _value(t.assign(view="change"), "relationship", "share_mean_improvement", "change")
    assert got == pytest.approx(_value(exact, "relationship", "share_mean_improvement", "change"))
