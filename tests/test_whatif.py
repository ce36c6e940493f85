"""What it would take: the world behind a claim, checked against the truth it produces."""

import pytest

import commonfactors as cf
from commonfactors.errors import ClaimError
from commonfactors.truth import analytic_truth


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
