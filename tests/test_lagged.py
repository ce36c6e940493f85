"""Tests of commonfactors.models.lagged (lagged_effects): naive, forward and reverse paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.errors import ColumnError, DataValidationError
from commonfactors.models.lagged import COLUMNS

DESIGN = dict(n_therapists=60, clients_per_therapist=15, n_sessions=10, seed=3)


@pytest.fixture(scope="module")
def spurious():
    sim = cf.simulate("spurious_alliance", **DESIGN)
    return sim, cf.lagged_effects(sim.data).set_index("path")


@pytest.fixture(scope="module")
def state_effect():
    # alliance lowers symptoms in the same session; states persist (AR .8); no reverse causation
    sim = cf.simulate("wampold_imel_2015", alliance_state_effect=2.0, alliance_state_ar=0.8,
                      **DESIGN)
    return sim, cf.lagged_effects(sim.data).set_index("path")


def test_table_shape_and_wald_intervals(spurious):
    sim, tab = spurious
    assert list(tab.reset_index().columns) == COLUMNS
    assert list(tab.index) == ["naive", "forward", "reverse"]
    assert list(tab["term"]) == ["alliance", "alliance_w_lag1", "improvement_lag1"]
    np.testing.assert_allclose(tab["ci_high"] - tab["estimate"], 1.959964 * tab["std_error"],
                               rtol=1e-6)
    np.testing.assert_allclose(tab["estimate"] - tab["ci_low"], 1.959964 * tab["std_error"],
                               rtol=1e-6)
    n_rows, n_clients = len(sim.data), sim.data["client"].nunique()
    assert tab.loc["naive", "n_obs"] == n_rows
    assert tab.loc["forward", "n_obs"] == tab.loc["reverse", "n_obs"] == n_rows - n_clients
    assert tab["converged"].all()
    assert "(1 | therapist) + (1 | client)" in tab.loc["forward", "formula"]


def test_spurious_alliance_has_no_forward_effect_and_a_clear_reverse_path(spurious):
    sim, tab = spurious
    kappa = sim.config.reverse_effect
    assert kappa > 0.1
    # no causal alliance effect: the lagged within-client effect covers 0
    assert tab.loc["forward", "ci_low"] < 0 < tab.loc["forward", "ci_high"]
    # alliance responds to improvement so far, with slope kappa in the generator
    assert tab.loc["reverse", "ci_low"] > 0
    assert tab.loc["reverse", "estimate"] == pytest.approx(kappa, abs=0.015)
    # ... which alone makes the concurrent association look protective
    assert tab.loc["naive", "ci_high"] < 0


def test_state_alliance_effect_gives_a_negative_forward_path(state_effect):
    sim, tab = state_effect
    assert sim.config.reverse_effect == 0.0
    assert tab.loc["forward", "ci_high"] < 0
    assert tab.loc["naive", "ci_high"] < 0
    # no reverse causation: the reverse slope is small (state persistence leaks a little)
    assert abs(tab.loc["reverse", "estimate"]) < 0.02


def test_serially_independent_states_make_the_lag1_coefficient_positive():
    # The state alliance acts on the same session only. With AR = 0 last session's alliance
    # says nothing about this session's state, and holding last session's outcome (which that
    # alliance lowered) makes a high past alliance flag a client whose outcome level is higher:
    # the lag-1 coefficient is positive although the alliance lowers symptoms.
    sim = cf.simulate("wampold_imel_2015", alliance_state_effect=2.0, alliance_state_ar=0.0,
                      **DESIGN)
    tab = cf.lagged_effects(sim.data).set_index("path")
    assert tab.loc["forward", "ci_low"] > 0
    assert tab.loc["naive", "ci_high"] < 0


def test_outcome_direction_flips_signs_consistently(state_effect):
    sim, tab = state_effect
    flipped = sim.data.assign(outcome=-sim.data["outcome"])
    tab2 = cf.lagged_effects(flipped, higher_is_worse=False).set_index("path")
    assert tab2.loc["reverse", "estimate"] == pytest.approx(tab.loc["reverse", "estimate"],
                                                            rel=1e-6)
    assert tab2.loc["forward", "estimate"] == pytest.approx(-tab.loc["forward", "estimate"],
                                                            rel=1e-5)
    assert tab2.loc["naive", "estimate"] == pytest.approx(-tab.loc["naive", "estimate"],
                                                          rel=1e-5)


def test_without_therapists_and_with_other_names():
    sim = cf.simulate("spurious_alliance", n_therapists=10, clients_per_therapist=10, seed=1)
    d = sim.data.rename(columns={"alliance": "wai", "outcome": "phq", "client": "pid",
                                 "session": "week"}).drop(columns="therapist")
    before = d.copy()
    tab = cf.lagged_effects(d, x="wai", outcome="phq", client="pid", session="week",
                            therapist=None)
    pd.testing.assert_frame_equal(d, before)
    assert "therapist" not in "".join(tab["formula"])
    assert tab["term"].tolist() == ["wai", "wai_w_lag1", "improvement_lag1"]
    # the default therapist column is simply absent here: same as therapist=None
    tab2 = cf.lagged_effects(d, x="wai", outcome="phq", client="pid", session="week")
    pd.testing.assert_frame_equal(tab, tab2)


def test_row_order_does_not_matter(spurious):
    sim, tab = spurious
    shuffled = sim.data.sample(frac=1.0, random_state=0)
    tab2 = cf.lagged_effects(shuffled).set_index("path")
    # Row order changes only the order of floating-point sums, but the estimates come from a
    # numerically optimised REML fit: the optimiser stops at a gradient tolerance, so two runs
    # agree to the optimiser's precision (about 1e-6 relative in theta), not to machine
    # precision. Compare in units of the standard error: 1e-3 SE is far below any difference
    # that matters and far above what the optimiser's tolerance can produce.
    np.testing.assert_array_less(np.abs(tab2["estimate"] - tab["estimate"]),
                                 1e-3 * tab["std_error"])
    np.testing.assert_allclose(tab2["std_error"], tab["std_error"], rtol=1e-4)


def test_errors_name_the_problem():
    d = cf.simulate("spurious_alliance", n_therapists=4, clients_per_therapist=3, seed=1).data
    with pytest.raises(ColumnError, match=r"`data`: column\(s\) 'wai' not found"):
        cf.lagged_effects(d, x="wai")
    with pytest.raises(ColumnError, match=r"`x`: column 'alliance' must be numeric"):
        cf.lagged_effects(d.assign(alliance=d["alliance"].astype(str)))
    with pytest.raises(ColumnError, match=r"`x`: the column name 'my alliance' cannot be used"):
        cf.lagged_effects(d.rename(columns={"alliance": "my alliance"}), x="my alliance")
    with pytest.raises(DataValidationError, match=r"lagged effects need at least two sessions"):
        cf.lagged_effects(d[d["session"] == 0])
    with pytest.raises(ValueError, match=r"`higher_is_worse`: expecting one of True, False"):
        cf.lagged_effects(d, higher_is_worse="yes")
