"""Results pickle, and own column names for the client / therapist / session roles work.

Pickling matters beyond saving results: a Decomposition or a fit is shipped to joblib or Dask
workers and back. The checks compare the unpickled object's numbers with the original's
exactly (pickling copies the float64 bytes).
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.meta import design_based_shares, random_effects_metareg

REF = Path(__file__).parent / "reference_meta"


@pytest.fixture(scope="module")
def sim():
    return cf.simulate("norcross_lambert_2011", n_therapists=10, clients_per_therapist=5,
                       n_sessions=4, seed=1)


def _roundtrip(x):
    return pickle.loads(pickle.dumps(x))


def test_simulation_pickles(sim):
    back = _roundtrip(sim)
    pd.testing.assert_frame_equal(back.data, sim.data)
    pd.testing.assert_frame_equal(back.truth, sim.truth)
    assert back.factors == sim.factors


@pytest.mark.parametrize("view", ["growth", "change"])
def test_decomposition_pickles(sim, view):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cf.decompose(sim.data, factors=sim.factors, view=view, n_boot=0)
    back = _roundtrip(res)
    pd.testing.assert_frame_equal(back.table, res.table)
    pd.testing.assert_frame_equal(back.components, res.components)
    # the mean model survives: the sensitivity table is recomputed after unpickling
    pd.testing.assert_frame_equal(back.sensitivity("relationship"), res.sensitivity("relationship"))


def test_mixed_fit_pickles_and_predicts(sim):
    fit = cf.fit_mixed(sim.data, "outcome ~ session + alliance + (1 | therapist) + (1 | client)")
    back = _roundtrip(fit)
    pd.testing.assert_series_equal(back.fixed, fit.fixed)
    pd.testing.assert_frame_equal(back.variance, fit.variance)
    # the patsy design, dropped on pickling, is rebuilt: new data get the same coding
    new = sim.data.head(7)
    pd.testing.assert_frame_equal(back.design_matrix(new), fit.design_matrix(new))
    pd.testing.assert_series_equal(back.predict(new, random=True), fit.predict(new, random=True))


def test_decomposition_of_a_fit_pickles(sim):
    fit = cf.fit_mixed(sim.data, "outcome ~ session + alliance + expectancy + (1 | therapist) "
                                 "+ (1 | client)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cf.decompose(fit, factors={"relationship": ["alliance"], "expectancy": ["expectancy"]},
                           n_boot=0)
    back = _roundtrip(res)
    pd.testing.assert_frame_equal(back.table, res.table)
    pd.testing.assert_frame_equal(back.sensitivity("relationship"), res.sensitivity("relationship"))


def test_meta_results_pickle():
    arms = pd.read_csv(REF / "arms_example.csv")
    X = pd.DataFrame({t: (arms["arm"] == t).astype(float) for t in ("waitlist", "placebo", "active")})
    fit = random_effects_metareg(arms["d"], arms["v"], X, arms["study"])
    back = _roundtrip(fit)
    pd.testing.assert_frame_equal(back.table, fit.table)
    assert back.tau2 == fit.tau2
    out = design_based_shares(arms, arm_col="arm", change_col="d", study_col="study",
                              var_col="v", n_boot=0)
    pd.testing.assert_frame_equal(_roundtrip(out), out)


# ---------------------------------------------------------------- own role column names
_OWN = {"client": "cid", "therapist": "tid", "session": "visit"}


def _renamed(data):
    return data.rename(columns=_OWN)


def _own_factors(factors):
    return {g: [_OWN.get(c, c) for c in cols] for g, cols in factors.items()}


@pytest.mark.parametrize("view", ["growth", "change"])
def test_own_client_therapist_session_names(sim, view):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = cf.decompose(sim.data, factors=sim.factors, view=view, n_boot=0)
        own = cf.decompose(_renamed(sim.data), factors=_own_factors(sim.factors), view=view, n_boot=0,
                           client="cid", therapist="tid", session="visit")
    n_clients = sim.data["client"].nunique()
    assert base.n_clients == n_clients
    assert own.n_clients == n_clients
    assert own.n_therapists == base.n_therapists == sim.data["therapist"].nunique()
    # same rows, same model: the same numbers (identical arithmetic)
    np.testing.assert_array_equal(own.table["estimate"].to_numpy(), base.table["estimate"].to_numpy())


def test_own_client_name_with_a_clashing_client_column(sim):
    data = _renamed(sim.data).assign(client=1)
    with pytest.raises(cf.errors.ColumnError, match="`client`: the client ids are in column 'cid'"):
        cf.decompose(data, factors=_own_factors(sim.factors), n_boot=0, client="cid", therapist="tid",
                     session="visit")


def test_decomposition_of_a_fit_counts_clients_under_own_names(sim):
    d = _renamed(sim.data)
    fit = cf.fit_mixed(d, "outcome ~ visit + alliance + (1 | tid) + (1 | cid)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cf.decompose(fit, factors={"relationship": ["alliance"], "time": ["visit"]},
                           n_boot=0, client="cid", therapist="tid", session="visit")
    assert res.n_clients == d["cid"].nunique()
    assert res.n_therapists == d["tid"].nunique()


# ---------------------------------------------------------------- warnings that say what they are
def test_a_subset_fit_that_does_not_converge_warns_convergence_warning(monkeypatch, sim):
    import dataclasses

    from commonfactors.decomposition import _estimates as E

    real = E.fit_nested
    monkeypatch.setattr(E, "fit_nested",
                        lambda *a, **k: dataclasses.replace(real(*a, **k), converged=False))
    with pytest.warns(cf.ConvergenceWarning, match="subset model.*did not converge"):
        res = cf.decompose(sim.data, factors=sim.factors, n_boot=0)
    assert any("did not converge" in n for n in res.notes)
