"""Tests of commonfactors.models.lagged (lagged_effects): naive, forward and reverse paths."""

from __future__ import annotations

import warnings

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
    return sim, cf.lagged_effects(sim.data, se="model").set_index("path")


@pytest.fixture(scope="module")
def state_effect():
    # alliance lowers symptoms in the same session; states persist (AR .8); no reverse causation
    sim = cf.simulate("wampold_imel_2015", alliance_state_effect=2.0, alliance_state_ar=0.8,
                      **DESIGN)
    return sim, cf.lagged_effects(sim.data, se="model").set_index("path")


def test_table_shape_and_wald_intervals(spurious):
    sim, tab = spurious
    assert list(tab.reset_index().columns) == COLUMNS
    assert list(tab.index) == ["naive", "forward", "reverse"]
    assert list(tab["term"]) == ["alliance", "alliance_w_lag1", "improvement_lag1"]
    assert (tab["se_method"] == "model").all() and (tab["ci_method"] == "wald").all()
    assert (tab["n_boot"] == 0).all() and (tab["n_failed"] == 0).all()
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
    tab = cf.lagged_effects(sim.data, se="model").set_index("path")
    assert tab.loc["forward", "ci_low"] > 0
    assert tab.loc["naive", "ci_high"] < 0


def test_outcome_direction_flips_signs_consistently(state_effect):
    sim, tab = state_effect
    flipped = sim.data.assign(outcome=-sim.data["outcome"])
    tab2 = cf.lagged_effects(flipped, higher_is_worse=False, se="model").set_index("path")
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
                            therapist=None, se="model")
    pd.testing.assert_frame_equal(d, before)
    assert "therapist" not in "".join(tab["formula"])
    assert tab["term"].tolist() == ["wai", "wai_w_lag1", "improvement_lag1"]
    # the default therapist column is simply absent here: same as therapist=None
    tab2 = cf.lagged_effects(d, x="wai", outcome="phq", client="pid", session="week",
                             se="model")
    pd.testing.assert_frame_equal(tab, tab2)


def test_row_order_does_not_matter(spurious):
    sim, tab = spurious
    shuffled = sim.data.sample(frac=1.0, random_state=0)
    tab2 = cf.lagged_effects(shuffled, se="model").set_index("path")
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


# --------------------------------------------------------------------------------------
# cluster-bootstrap standard errors and intervals
# --------------------------------------------------------------------------------------
SMALL = dict(n_therapists=12, clients_per_therapist=4, n_sessions=6)


@pytest.fixture(scope="module")
def small_boot():
    sim = cf.simulate("spurious_alliance", seed=4, **SMALL)
    return sim, cf.lagged_effects(sim.data, n_boot=25, seed=11)


def test_bootstrap_is_the_default_and_says_so(small_boot):
    sim, tab = small_boot
    assert list(tab.columns) == COLUMNS
    assert (tab["se_method"] == "cluster_bootstrap").all()
    assert (tab["ci_method"] == "percentile").all()
    assert (tab["n_boot"] == 25).all()
    assert tab["n_failed"].dtype.kind == "i" and (tab["n_failed"] >= 0).all()
    assert "cluster bootstrap over 12 therapist clusters (25 replicates" in tab.attrs["notes"][0]
    assert (tab["std_error"] > 0).all() and (tab["ci_low"] < tab["ci_high"]).all()
    # the point estimates do not depend on where the standard errors come from
    model = cf.lagged_effects(sim.data, se="model")
    pd.testing.assert_series_equal(tab["estimate"], model["estimate"])
    assert (model["std_error"] != tab["std_error"]).all()


def test_bootstrap_is_seeded(small_boot):
    sim, tab = small_boot
    again = cf.lagged_effects(sim.data, n_boot=25, seed=11)
    pd.testing.assert_frame_equal(tab, again)
    other = cf.lagged_effects(sim.data, n_boot=25, seed=12)
    assert not np.allclose(tab["std_error"], other["std_error"])


def test_few_clusters_fall_back_to_model_errors_with_a_note():
    sim = cf.simulate("spurious_alliance", seed=1, n_therapists=6, clients_per_therapist=3,
                      n_sessions=5)
    tab = cf.lagged_effects(sim.data)
    assert (tab["se_method"] == "model").all()
    assert "6 therapist clusters, fewer than the 10" in tab.attrs["notes"][0]
    forced = cf.lagged_effects(sim.data, se="bootstrap", n_boot=20, seed=1)
    assert (forced["se_method"] == "cluster_bootstrap").all()
    with pytest.raises(ValueError, match=r"`n_boot`"):
        cf.lagged_effects(sim.data, se="bootstrap", n_boot=5)
    with pytest.raises(ValueError, match=r"`se`: expecting one of 'auto', 'bootstrap', 'model'"):
        cf.lagged_effects(sim.data, se="robust")


def test_without_therapists_the_clients_are_resampled():
    sim = cf.simulate("spurious_alliance", seed=2, n_therapists=3, clients_per_therapist=4,
                      n_sessions=5)
    d = sim.data.drop(columns="therapist")
    tab = cf.lagged_effects(d, n_boot=20, seed=3)
    assert (tab["se_method"] == "cluster_bootstrap").all()
    assert "over 12 client clusters" in tab.attrs["notes"][0]


@pytest.mark.slow
def test_bootstrap_se_matches_the_sampling_sd_of_the_estimate():
    # Monte Carlo check at a small design: the SD of the estimates over 16 simulated datasets
    # against the bootstrap SE averaged over 3 of them (30 replicates each). The SD of 16
    # estimates has a relative SE of about 1/sqrt(2 * 15) = 18%; the averaged bootstrap SE about
    # 12% (replicate noise and dataset-to-dataset spread); the ratio should be within about
    # 2.5 combined SEs (22%) of 1: [0.55, 1.6].
    design = dict(n_therapists=10, clients_per_therapist=5, n_sessions=8)
    est = [cf.lagged_effects(cf.simulate("spurious_alliance", seed=s, **design).data,
                             se="model")["estimate"].to_numpy() for s in range(1, 17)]
    sd = np.std(est, axis=0, ddof=1)
    boot = [cf.lagged_effects(cf.simulate("spurious_alliance", seed=s, **design).data,
                              se="bootstrap", n_boot=30, seed=s)["std_error"].to_numpy()
            for s in range(1, 4)]
    ratio = np.mean(boot, axis=0) / sd
    assert np.all((ratio > 0.55) & (ratio < 1.6)), ratio


def test_bootstrap_keeps_the_copies_of_a_drawn_therapist_apart_whatever_the_client_column():
    # a therapist drawn twice must bring two sets of clients; with a client column not called
    # "client" the copies would merge (and the estimates move) unless they are relabelled
    sim = cf.simulate("spurious_alliance", seed=3, n_therapists=10, clients_per_therapist=4,
                      n_sessions=5)
    kw = dict(se="bootstrap", n_boot=20, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = cf.lagged_effects(sim.data, **kw)
        b = cf.lagged_effects(sim.data.rename(columns={"client": "patient"}), client="patient",
                              **kw)
    np.testing.assert_allclose(b["std_error"], a["std_error"], rtol=1e-9)
    np.testing.assert_allclose(b["ci_low"], a["ci_low"], rtol=1e-9)
