"""Decomposition from per-client statistics: chunks, Dask partitions and Parquet datasets.

The growth view is built from per-client sums and cross-products (``decomposition._growth``)
instead of row-level derived columns. These tests hold it to the row-level construction
(``build_terms`` + ``NestedStats.from_arrays``), and the chunked, Dask and Parquet inputs to the
in-memory result. Tolerances: the statistics agree to rounding (1e-9 relative: sums of the same
numbers in another order); estimates to 1e-9, resting on the optimiser converging to the
arithmetic's precision (Newton polish) from statistics equal to rounding.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.decomposition import _estimates as E
from commonfactors.decomposition.api import build_problem
from commonfactors.errors import ColumnError, DataValidationError
from commonfactors.models.nested import NestedStats
from commonfactors.models.terms import build_terms

dd = pytest.importorskip("dask.dataframe")

OUTSIDE = ("extra_therapeutic",)


def _data(seed=3, n_t=40, missing=True):
    sim = cf.simulate("wampold_imel_2015", n_therapists=n_t, clients_per_therapist=8,
                      n_sessions=6, truth=False, seed=seed)
    d = sim.data.copy()
    if missing:
        rng = np.random.default_rng(seed)
        d.loc[rng.random(len(d)) < 0.1, "alliance"] = np.nan
        d.loc[rng.random(len(d)) < 0.05, "outcome"] = np.nan
        d = d.drop(index=rng.choice(d.index, 60, replace=False)).reset_index(drop=True)
    return d, sim.factors


def _rows_problem(d, factors, has_t=True):
    """The growth problem's statistics the row-level way (derived columns per row)."""
    keys = (["therapist"] if has_t else []) + ["client", "session"]
    cols = list(dict.fromkeys(c for cs in factors.values() for c in cs))
    rows = d.dropna(subset=keys + ["outcome"] + cols)
    derived, terms = build_terms(rows, factors, view="growth",
                                 therapist="therapist" if has_t else None)
    X = np.column_stack([np.ones(len(rows)), derived.to_numpy()])
    ones = np.ones((len(rows), 1))
    c = pd.factorize(rows["client"])[0]
    if has_t:
        st = NestedStats.from_arrays(X, rows["outcome"], ones, ones, c,
                                     pd.factorize(rows["therapist"])[0])
    else:
        st = NestedStats.from_arrays(X, rows["outcome"], ones, None, c, None)
    return list(derived.columns), st


@pytest.mark.parametrize("has_t", [True, False])
def test_growth_statistics_equal_the_row_level_construction(has_t):
    d, factors = _data()
    if not has_t:
        d = d.drop(columns="therapist")
    names, st = _rows_problem(d, factors, has_t)
    problem, built, n_used = build_problem(d, factors, "growth", outside=OUTSIDE)
    assert built.names[1:] == names
    ours = problem.stats
    assert ours.n == st.n == n_used
    scale = np.abs(st.gg).max()
    np.testing.assert_allclose(ours.gg, st.gg, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(ours.gsum, st.gsum, rtol=0, atol=1e-9 * scale)
    # per-client sums: same clients, in another order
    np.testing.assert_allclose(np.sort(ours.gsum_i[:, -1]), np.sort(st.gsum_i[:, -1]),
                               rtol=1e-12, atol=1e-9)
    assert ours.n_outer == st.n_outer


def test_chunks_give_the_statistics_of_one_pass():
    d, factors = _data()
    one, _, _ = build_problem(d, factors, "growth", outside=OUTSIDE)
    many, _, _ = build_problem(d, factors, "growth", outside=OUTSIDE, chunk_rows=97)
    np.testing.assert_allclose(many.stats.gg, one.stats.gg, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(many.contrast_cf, one.contrast_cf, rtol=1e-12, atol=1e-12)
    a, _ = E.estimate(one)
    b, _ = E.estimate(many)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-9)


def _compare(a, b, atol=1e-9):
    for f in ("table", "components", "commonality", "subsets"):
        x, y = getattr(a, f), getattr(b, f)
        assert x.shape == y.shape, f
        num = x.select_dtypes("number").columns
        np.testing.assert_allclose(y[num].to_numpy(float), x[num].to_numpy(float), rtol=0,
                                   atol=atol, err_msg=f)
    assert a.references[["factor", "column"]].equals(b.references[["factor", "column"]])
    assert (a.n_obs, a.n_clients, a.n_therapists) == (b.n_obs, b.n_clients, b.n_therapists)


@pytest.mark.parametrize("view", ["growth", "change"])
def test_dask_partitions_give_the_in_memory_result(view):
    d, factors = _data(seed=5, n_t=60)
    d["arm"] = d["arm"].map({0: "TAU", 1: "CBT"})  # a categorical factor, coded per partition
    before = d.copy()
    shuffled = d.sample(frac=1.0, random_state=2).reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = cf.decompose(d, factors=factors, view=view, n_boot=0)
        b = cf.decompose(dd.from_pandas(shuffled, npartitions=5), factors=factors, view=view,
                         n_boot=0)
    _compare(a, b)
    pd.testing.assert_frame_equal(d, before)
    assert a.notes[0] == b.notes[0]  # the same rows dropped, counted the same way
    assert a.data_summary["missing"] == b.data_summary["missing"]
    assert a.data_summary["n_rows"] == b.data_summary["n_rows"]


def test_parquet_dataset_with_own_column_names(tmp_path):
    d, factors = _data(seed=6, n_t=50, missing=False)
    own = d.rename(columns={"therapist": "th", "client": "pt", "session": "visit"})
    fac = {g: ["visit" if c == "session" else c for c in cs] for g, cs in factors.items()}
    for j in range(3):
        own.iloc[j::3].to_parquet(tmp_path / f"p{j}.parquet", index=False)
    kw = dict(factors=fac, view="growth", n_boot=0, client="pt", therapist="th",
              session="visit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = cf.decompose(own, **kw)
        b = cf.decompose(tmp_path, **kw)
    _compare(a, b)
    assert b.fit is None and any("MixedFit" in n for n in b.notes)


def test_a_path_that_is_not_there_is_a_clear_error(tmp_path):
    d, factors = _data(missing=False)
    with pytest.raises(ColumnError, match="Parquet"):
        cf.decompose(str(tmp_path / "nowhere"), factors=factors, n_boot=0)


def test_problems_across_partitions_are_found():
    d, factors = _data(missing=False)
    # a client under two therapists, its rows in different partitions
    bad = d.copy()
    c = bad["client"].iloc[0]
    rows = bad.index[bad["client"] == c]
    bad.loc[rows[-1], "therapist"] = bad["therapist"].iloc[-1]
    parts = dd.from_pandas(pd.concat([bad.drop(index=rows[-1]), bad.loc[[rows[-1]]]]),
                           npartitions=2, sort=False)
    with pytest.raises(DataValidationError, match="more than one therapist"):
        cf.decompose(parts, factors=factors, n_boot=0)
    # the same (client, session) row in two partitions
    dup = pd.concat([d, d.iloc[[5]]], ignore_index=True)
    parts = dd.from_pandas(dup, npartitions=3, sort=False)
    with pytest.raises(DataValidationError, match="one row per client and session"):
        cf.decompose(parts, factors=factors, n_boot=0)
    # inside one partition: the in-memory check, with the rows named
    one = dd.from_pandas(dup.iloc[-40:], npartitions=1)
    with pytest.raises(DataValidationError):
        cf.decompose(one, factors=factors, n_boot=0)


def test_full_model_fit_is_fitted_on_first_use():
    d, factors = _data(seed=8, n_t=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cf.decompose(d, factors=factors, view="growth", n_boot=0)
        fit = res.fit
    assert fit is res.fit  # fitted once
    assert fit.formula == res.formula
    # the full subset model of the decomposition is the same model as the fit
    full = res.subsets.iloc[-1]
    beta = dict(zip(fit.fixed.index, fit.fixed.to_numpy(), strict=True))
    assert len(beta) == len(res.formula.split("~")[1].split("+")) - 1
    assert abs(fit.residual_variance - (full["total"] - full["f"])) < full["total"]


def test_clients_resampled_within_therapists_in_the_growth_view():
    d, factors = _data(seed=9, n_t=40, missing=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cf.decompose(d, factors=factors, view="growth", n_boot=20, seed=1,
                           resample_clients=True)
    t = res.table.dropna(subset=["estimate"])
    assert t["ci_low"].notna().all() and (t["ci_low"] <= t["ci_high"]).all()


@pytest.mark.parametrize("view", ["growth", "change"])
def test_a_factor_column_that_copies_another_is_a_clear_error(view):
    from commonfactors.errors import ModelSpecError

    d, factors = _data(missing=False)
    d["alliance_again"] = 2 * d["alliance"] + 1
    fac = {**factors, "expectancy": ["alliance_again"]}
    with pytest.raises(ModelSpecError, match="alliance_again_c.*linear combination"):
        cf.decompose(d, factors=fac, view=view, n_boot=0)


def test_dependent_columns_from_the_gram_matrix():
    from commonfactors.decomposition._inputs import dependent_columns

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    X = np.column_stack([np.ones(500), X, X[:, 0] - 3 * X[:, 2], np.zeros(500)])
    names = ["one", "a", "b", "c", "d", "a-3c", "zero"]
    bad = dependent_columns(X.T @ X, names)
    assert bad == ["a-3c", "zero"]
    assert dependent_columns(X[:, :5].T @ X[:, :5], names[:5]) == []
