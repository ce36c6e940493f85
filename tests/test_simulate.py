"""The simulator: design, reproducibility, mechanisms and configuration errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.errors import ConfigError
from commonfactors.simulation.simulator import PRESETS


def test_public_contract():
    sim = cf.simulate("wampold_imel_2015", n_therapists=40, clients_per_therapist=15,
                      n_sessions=10, seed=1)
    assert list(sim.data.columns[:4]) == ["therapist", "client", "session", "outcome"]
    assert sim.data.shape == (40 * 15 * 10, 8)
    assert sim.data["therapist"].nunique() == 40 and sim.data["client"].nunique() == 600
    assert set(sim.truth.columns) >= {"factor", "estimand", "value", "view"}
    assert set(sim.truth["view"]) == {"change", "growth"}
    assert sim.factors == {"relationship": ["alliance"], "technique": ["arm"],
                           "expectancy": ["expectancy"], "extra_therapeutic": ["session", "support"]}
    assert sim.config.n_therapists == 40
    # each client sees one therapist; ids unique across therapists
    assert (sim.data.groupby("client")["therapist"].nunique() == 1).all()
    cf.validate_sessions(sim.data, factors=sim.factors, require_therapist=True)


def test_same_seed_same_data_different_seed_different_data():
    a = cf.simulate("norcross_lambert_2011", n_therapists=5, seed=3).data
    b = cf.simulate("norcross_lambert_2011", n_therapists=5, seed=3).data
    c = cf.simulate("norcross_lambert_2011", n_therapists=5, seed=4).data
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["outcome"], c["outcome"])


def test_sample_moments_follow_the_configuration():
    sim = cf.simulate("lambert_1992", n_therapists=300, seed=2)
    d = sim.data
    cfg = sim.config
    assert d["arm"].isin([0, 1]).all()
    assert d.groupby("client")["arm"].first().mean() == pytest.approx(cfg.arm_prob, abs=0.03)
    assert d.groupby("client")["expectancy"].first().mean() == pytest.approx(cfg.expectancy_mean, abs=0.05)
    intake = d[d.session == 0]["outcome"].mean()
    last = d[d.session == cfg.n_sessions - 1]["outcome"].mean()
    mean_improvement = sum(cfg.mean_parts().values())
    assert intake - last == pytest.approx(mean_improvement, abs=0.25)
    # expectancy and arm are constant within client
    assert (d.groupby("client")[["expectancy", "arm", "support"]].nunique() == 1).all().all()


def test_therapist_part_of_alliance_has_its_icc():
    sim = cf.simulate("wampold_imel_2015", n_therapists=600, clients_per_therapist=8,
                      seed=3, alliance_icc=0.3, alliance_state_sd=0.0, alliance_reliability=1.0)
    client_alliance = sim.data.groupby(["therapist", "client"])["alliance"].mean().reset_index()
    tm = client_alliance.groupby("therapist")["alliance"].mean()
    within = client_alliance.groupby("therapist")["alliance"].var().mean()
    between = tm.var() - within / 8
    assert between / (between + within) == pytest.approx(0.3, abs=0.05)


def test_reverse_causation_makes_alliance_grow_with_improvement():
    sim = cf.simulate("spurious_alliance", n_therapists=200, seed=4)
    d = sim.data
    first = d[d.session == 0].set_index("client")
    last = d[d.session == d.session.max()].set_index("client")
    gain = last["alliance"] - first["alliance"]
    improvement = first["outcome"] - last["outcome"]
    assert np.corrcoef(gain, improvement)[0, 1] > 0.3
    assert sim.config.alliance_effect == 0.0


def test_dropout_mechanisms():
    kw = dict(n_therapists=200, seed=5)
    full = cf.simulate("wampold_imel_2015", truth=False, **kw).data
    mcar = cf.simulate("wampold_imel_2015", truth=False, dropout="mcar", dropout_rate=0.1, **kw).data
    assert len(mcar) < len(full)
    # monotone dropout: sessions observed are 0..k for each client
    k = mcar.groupby("client")["session"].agg(["max", "count"])
    assert ((k["max"] + 1) == k["count"]).all()
    mnar = cf.simulate("wampold_imel_2015", truth=False, dropout="mnar", dropout_rate=0.1,
                       dropout_strength=-1.5, **kw).data
    # improvers (low current symptoms) leave early under MNAR with negative strength
    last_obs = mnar.groupby("client")["outcome"].last().mean()
    last_full = full.groupby("client")["outcome"].last().mean()
    assert last_obs != pytest.approx(last_full, abs=0.05)


def test_bounded_integer_scale():
    d = cf.simulate("wampold_imel_2015", n_therapists=20, seed=6, truth=False,
                    bounds=(0, 27), integer=True).data
    assert d["outcome"].between(0, 27).all()
    assert np.all(d["outcome"] == np.round(d["outcome"]))


def test_unequal_caseloads():
    d = cf.simulate("wampold_imel_2015", n_therapists=30, seed=7, truth=False,
                    caseload_spread=10).data
    sizes = d.groupby("therapist")["client"].nunique()
    assert sizes.min() >= 5 and sizes.max() <= 25 and sizes.nunique() > 3


@pytest.mark.parametrize("shape", ["linear", "log", "early"])
def test_trajectory_shapes_start_at_intake_and_end_at_full_change(shape):
    cfg = cf.SimConfig(shape=shape)
    tau = cfg.tau()
    assert tau[0] == 0.0 and tau[-1] == pytest.approx(1.0)
    assert np.all(np.diff(tau) > 0)


def test_config_errors_are_clear():
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        cf.simulate("nope")
    with pytest.raises(ConfigError, match="unknown simulator parameter.*'alliance_efect'"):
        cf.simulate("lambert_1992", alliance_efect=1.0)
    with pytest.raises(ConfigError, match="alliance_reliability"):
        cf.simulate("lambert_1992", alliance_reliability=0.0)
    with pytest.raises(ConfigError, match="n_therapists.*>= 2"):
        cf.simulate("lambert_1992", n_therapists=1)
    with pytest.raises(ConfigError, match="dropout_rate"):
        cf.simulate("lambert_1992", dropout="mar")
    with pytest.raises(ValueError, match="shape"):
        cf.simulate("lambert_1992", shape="cubic")
    with pytest.raises(ConfigError, match="preset name or a SimConfig"):
        cf.simulate(3)


def test_list_presets_names_every_preset_and_its_claims():
    p = cf.list_presets()
    assert set(p["preset"]) == set(PRESETS)
    assert (p["claims"].str.len() > 0).all()
    required = {"lambert_1992", "norcross_lambert_2011", "wampold_imel_2015",
                "seed_relationship_low", "seed_relationship_reserved", "seed_relationship_high",
                "spurious_alliance"}
    assert required <= set(p["preset"])
