"""Tests of commonfactors.planning (plan_precision): precision of shares by simulation."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.errors import ConfigError
from commonfactors.planning import COLUMNS

REL = ("relationship", "share_total_variance")
ICC = ("therapist", "icc_therapist")


@pytest.fixture(scope="module")
def small_vs_large():
    return cf.plan_precision("wampold_imel_2015", n_therapists=[8, 80], clients_per_therapist=5,
                             n_sessions=3, n_datasets=20, estimands=(REL, ICC), seed=2,
                             progress=False)


def test_columns_and_one_row_per_design_and_estimand(small_vs_large):
    tab = small_vs_large
    assert list(tab.columns) == COLUMNS
    assert len(tab) == 2 * 2
    assert tab[["n_therapists", "factor"]].values.tolist() == [
        [8, "relationship"], [8, "therapist"], [80, "relationship"], [80, "therapist"]]
    np.testing.assert_allclose(tab["ci_width"], 2 * 1.96 * tab["sd_estimate"], rtol=1e-12)
    np.testing.assert_allclose(tab["bias"], tab["mean_estimate"] - tab["truth"], rtol=1e-12)
    assert (tab["n_datasets"] == 20).all()
    assert (tab["n_failed"] == 0).all()


def test_truth_comes_from_the_simulator_truth_table(small_vs_large):
    sim = cf.simulate("wampold_imel_2015", n_therapists=8, clients_per_therapist=5, n_sessions=3,
                      seed=0)
    t = sim.truth.query("view == 'change'").set_index(["factor", "estimand"])["value"]
    row = small_vs_large.iloc[0]
    assert row["truth"] == pytest.approx(t[REL], abs=1e-12)
    # the preset is calibrated so that the relationship explains d = .57 as a variance share
    assert row["truth"] == pytest.approx((0.57 / np.sqrt(0.57**2 + 4)) ** 2, abs=1e-6)


def test_sd_shrinks_with_more_therapists(small_vs_large):
    sd = small_vs_large.set_index(["n_therapists", "factor"])["sd_estimate"]
    # about sqrt(80 / 8) = 3.2 times narrower; ask for a clear drop
    assert sd[(80, "relationship")] < 0.6 * sd[(8, "relationship")]
    assert sd[(80, "therapist")] < 0.6 * sd[(8, "therapist")]


def test_mean_estimate_near_truth_at_a_moderately_large_design():
    tab = cf.plan_precision("norcross_lambert_2011", n_therapists=60, clients_per_therapist=10,
                            n_sessions=3, n_datasets=8, seed=5)
    row = tab.iloc[0]
    assert row["truth"] == pytest.approx(0.12, abs=1e-4)
    se_mean = row["sd_estimate"] / np.sqrt(row["n_datasets"])
    assert abs(row["bias"]) < max(4 * se_mean, 0.01)
    assert abs(row["bias"]) < 0.03


def test_same_results_for_one_and_two_jobs_and_reproducible():
    kw = dict(n_therapists=[5, 8], clients_per_therapist=4, n_sessions=3, n_datasets=4,
              estimands=(REL, ("relationship", "share_mean_improvement")), seed=11)
    one = cf.plan_precision("lambert_1992", n_jobs=1, **kw)
    two = cf.plan_precision("lambert_1992", n_jobs=2, **kw)
    pd.testing.assert_frame_equal(one, two)
    again = cf.plan_precision("lambert_1992", n_jobs=1, **kw)
    pd.testing.assert_frame_equal(one, again)
    other = cf.plan_precision("lambert_1992", n_jobs=1, **{**kw, "seed": 12})
    assert not np.allclose(one["mean_estimate"], other["mean_estimate"])


def test_share_of_mean_improvement_uses_the_simulator_references():
    # Lambert's pie: 30% of the mean improvement is the relationship's (alliance 3 = absent)
    tab = cf.plan_precision("lambert_1992", n_therapists=40, clients_per_therapist=10,
                            n_sessions=3, n_datasets=6, seed=3,
                            estimands=[("relationship", "share_mean_improvement")])
    row = tab.iloc[0]
    assert row["truth"] == pytest.approx(0.30, abs=1e-9)
    assert abs(row["bias"]) < 0.08


def test_simconfig_and_overrides_change_the_world():
    cfg = cf.simulate("seed_relationship_low", n_therapists=10, seed=0).config
    base = cf.plan_precision(cfg, n_therapists=10, clients_per_therapist=15, n_sessions=3,
                             n_datasets=3, seed=1)
    low = cf.plan_precision(cfg, n_therapists=10, clients_per_therapist=15, n_sessions=3,
                            n_datasets=3, seed=1, alliance_reliability=0.5)
    # lower reliability attenuates the population share
    assert low["truth"].iloc[0] < base["truth"].iloc[0]


def test_failed_datasets_are_counted_and_left_out(monkeypatch):
    module = sys.modules["commonfactors.decomposition.api"]
    real = module.decompose
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            raise np.linalg.LinAlgError("singular matrix")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "decompose", flaky)
    tab = cf.plan_precision("lambert_1992", n_therapists=6, clients_per_therapist=4,
                            n_sessions=3, n_datasets=6, seed=1)
    assert tab["n_failed"].iloc[0] == 3
    assert np.isfinite(tab["sd_estimate"].iloc[0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n_therapists=1), r"`n_therapists`: expecting an integer >= 2; got 1"),
        (dict(n_therapists=[]), r"`n_therapists`: .*non-empty list"),
        (dict(n_therapists="10"), r"`n_therapists`: expecting an integer or a list"),
        (dict(clients_per_therapist=[4, 2.5]), r"`clients_per_therapist`: expecting an integer"),
        (dict(n_datasets=1), r"`n_datasets`: expecting an integer >= 2"),
        (dict(n_jobs=0), r"`n_jobs`: .*got 0"),
        (dict(view="sessions"), r"`view`: expecting one of 'change', 'growth'"),
        (dict(estimands=[("relationship",)]), r"`estimands`: expecting \(factor, estimand\) pairs"),
        (dict(estimands=[("relationship", "share_of_everything")]),
         r"`estimands`: no population truth for \('relationship', 'share_of_everything'\)"),
        (dict(not_a_parameter=3), r"unknown simulator parameter\(s\) 'not_a_parameter'"),
    ],
)
def test_bad_input_is_named(kwargs, match):
    base = dict(n_therapists=5, clients_per_therapist=3, n_sessions=3, n_datasets=2)
    with pytest.raises((ConfigError, ValueError), match=match):
        cf.plan_precision("lambert_1992", **{**base, **kwargs})


def test_unknown_preset():
    with pytest.raises(ConfigError, match=r"`preset`: unknown preset 'lambert'"):
        cf.plan_precision("lambert", n_therapists=5, clients_per_therapist=3)
    with pytest.raises(ConfigError, match=r"`preset`: expecting a preset name"):
        cf.plan_precision(3, n_therapists=5, clients_per_therapist=3)
