"""What it would take: the world behind a claim, checked against the truth it produces."""

import pytest

import commonfactors as cf
from commonfactors.errors import ClaimError
from commonfactors.simulation.truth import analytic_truth


def _truth(cfg, factor, estimand):
    t = analytic_truth(cfg, views=("change",))
    return float(t[(t.factor == factor) & (t.estimand == estimand)]["value"].iloc[0])


def test_eighty_percent_of_variance_needs_a_correlation_near_point_nine():
    w = cf.what_it_would_take("seed_relationship_high", estimand="share_total_variance")
    tab = w.table.set_index("quantity")
    assert tab.loc["share_total_variance", "implied"] == pytest.approx(0.80, abs=1e-6)
    assert tab.loc["correlation with improvement", "implied"] == pytest.approx(0.9, abs=0.02)
    assert tab.loc["correlation with improvement", "published"] == pytest.approx(0.278)
    # the config realises the claim: its truth says so
    assert _truth(w.config, "relationship", "share_total_variance") == pytest.approx(0.80, abs=1e-6)


def test_claim_read_with_its_registry_estimand():
    w = cf.what_it_would_take("seed_relationship_reserved")
    assert w.estimand == "share_therapy_variance"
    assert w.target == pytest.approx(0.45)
    assert _truth(w.config, "relationship", "share_therapy_variance") == pytest.approx(0.45, abs=1e-6)
    # 45% of therapy variance needs only a modest correlation, below the published .278
    r = w.table.set_index("quantity").loc["correlation with improvement", "implied"]
    assert 0.05 < r < 0.278


def test_the_config_can_be_simulated():
    w = cf.what_it_would_take("seed_relationship_low")
    sim = cf.simulate(w.config, n_therapists=3, seed=1)
    assert len(sim.data) == 3 * 15 * 10
    assert "correlation with improvement" in w.summary()


def test_errors_are_clear():
    with pytest.raises(ClaimError):
        cf.what_it_would_take("no_such_claim")
    with pytest.raises(ValueError, match="estimand"):
        cf.what_it_would_take("seed_relationship_low", estimand="vibes")
    with pytest.raises(ClaimError, match="factor"):
        cf.what_it_would_take("lambert_1992", factor="therapist")


def test_decompose_fit_accepts_variables_or_exact_interaction_columns():
    """A group may list the variable (interactions follow it) or the exact column name."""
    import numpy as np

    sim = cf.simulate("wampold_imel_2015", n_therapists=15, seed=1, truth=False)
    fit = cf.fit_mixed(sim.data, "outcome ~ session*arm + alliance + expectancy"
                                 " + (1|therapist) + (1|client)")
    base = {"relationship": ["alliance"], "expectancy": ["expectancy"],
            "extra_therapeutic": ["session"]}
    a = cf.decompose(fit, factors={"technique": ["arm"], **base}, view="growth", n_boot=0)
    b = cf.decompose(fit, factors={"technique": ["arm", "arm:session"], **base}, view="growth",
                     n_boot=0)
    assert np.allclose(a.table["estimate"], b.table["estimate"], equal_nan=True)
    with pytest.raises(ValueError, match="neither a variable"):
        cf.decompose(fit, factors={"technique": ["armx"], **base}, n_boot=0)


def test_mean_shares_average_over_orders_when_groups_interact():
    """With an alliance x arm interaction, C_g is the Shapley average over orders."""
    import numpy as np

    sim = cf.simulate("lambert_1992", n_therapists=30, seed=3, truth=False)
    chg = cf.change_view(sim.data)
    fit = cf.fit_mixed(chg, "improvement ~ alliance * arm + expectancy + (1 | therapist)")
    refs = {"relationship": {"alliance": 3.0}, "technique": {"arm": 0.0},
            "expectancy": {"expectancy": 3.0}}
    # the interaction column must be given to one group for the variance shares; the
    # counterfactual sets raw columns, so it responds to both groups' reference levels
    res = cf.decompose(fit, factors={"relationship": ["alliance", "alliance:arm"], "technique": ["arm"],
                                     "expectancy": ["expectancy"]},
                       view="change", n_boot=0, references=refs)
    share = res.table.set_index(["factor", "estimand"])["estimate"]

    def mean_pred(groups):
        new = fit.data.copy()
        for g in groups:
            for col, v in refs[g].items():
                new[col] = v
        return float((fit.design_matrix(new).to_numpy() @ fit.fixed.to_numpy()).mean())

    M = mean_pred([])
    order_avg = {}
    others = ["technique", "expectancy"]
    # relationship: average of its increment over the 4 subsets of the other two (weights 1/3, 1/6, 1/6, 1/3)
    w = {(): 1 / 3, ("technique",): 1 / 6, ("expectancy",): 1 / 6, tuple(others): 1 / 3}
    order_avg["relationship"] = sum(
        wt * (mean_pred(list(s)) - mean_pred(list(s) + ["relationship"])) for s, wt in w.items())
    assert share[("relationship", "share_mean_improvement")] == pytest.approx(order_avg["relationship"] / M, rel=1e-8)
    # the two orders give different answers here, so the average matters
    first = (M - mean_pred(["relationship"])) / M
    last = (mean_pred(others) - mean_pred(others + ["relationship"])) / M
    assert abs(first - last) > 1e-3
    total = sum(share[(g, "share_mean_improvement")] for g in
                ["relationship", "technique", "expectancy", "extra_therapeutic"])
    assert total == pytest.approx(1.0)
    assert np.isfinite(share[("model", "mean_improvement")])
