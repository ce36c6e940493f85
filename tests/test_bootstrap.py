"""Tests of the cluster bootstrap: seeding, parallel equality, intervals, failures, Dask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.bootstrap import bca_interval, cluster_bootstrap, percentile_interval
from commonfactors.errors import ColumnError, CommonFactorsError, ConfigError

N_BOOT = 40


@pytest.fixture(scope="module")
def sim():
    return cf.simulate("wampold_imel_2015", n_therapists=20, clients_per_therapist=8,
                       n_sessions=3, seed=4)


def _dec(sim, **kw):
    args = dict(factors=sim.factors, view="change", n_boot=N_BOOT, seed=7, progress=False)
    args.update(kw)
    return cf.decompose(sim.data, **args)


@pytest.fixture(scope="module")
def base(sim):
    return _dec(sim)


def _ci(res):
    return res.table[["ci_low", "ci_high"]].to_numpy()


# --------------------------------------------------------------------------------------
# seeding and parallelism
# --------------------------------------------------------------------------------------
def test_same_seed_same_intervals(sim, base):
    again = _dec(sim)
    np.testing.assert_array_equal(_ci(again), _ci(base))
    np.testing.assert_array_equal(again.replicates.to_numpy(), base.replicates.to_numpy())


def test_n_jobs_does_not_change_anything(sim, base):
    par = _dec(sim, n_jobs=2)
    np.testing.assert_array_equal(par.replicates.to_numpy(), base.replicates.to_numpy())
    np.testing.assert_array_equal(_ci(par), _ci(base))


def test_different_seed_differs(sim, base):
    other = _dec(sim, seed=8)
    assert not np.allclose(_ci(other), _ci(base), equal_nan=True)
    # the point estimates do not depend on the seed
    np.testing.assert_array_equal(other.table["estimate"], base.table["estimate"])


def test_growth_view_replicates_are_finite(sim):
    res = cf.decompose(sim.data, factors=sim.factors, view="growth", n_boot=20, seed=1,
                       progress=False)
    assert res.n_boot_failed == 0
    sh = res.replicates.filter(like="share_total_variance")
    assert sh.shape == (20, 7) and np.isfinite(sh.to_numpy()).all()


# --------------------------------------------------------------------------------------
# interval functions
# --------------------------------------------------------------------------------------
def test_percentile_interval_is_the_quantiles():
    rng = np.random.default_rng(0)
    reps = rng.normal(size=(999, 2))
    lo, hi = percentile_interval(reps, 0.9)
    np.testing.assert_allclose(lo, np.quantile(reps, 0.05, axis=0))
    np.testing.assert_allclose(hi, np.quantile(reps, 0.95, axis=0))


def test_bca_equals_percentile_without_bias_or_skew():
    # symmetric replicates centred on the estimate and a symmetric jackknife: z0 = a = 0
    reps = np.linspace(-1, 1, 2001)[:, None]
    jack = np.array([-1.0, 0.0, 1.0])[:, None]
    lo, hi = bca_interval(reps, np.array([0.0]), jack, 0.95)
    plo, phi = percentile_interval(reps, 0.95)
    np.testing.assert_allclose([lo[0], hi[0]], [plo[0], phi[0]], atol=1e-12)


# --------------------------------------------------------------------------------------
# the general DataFrame path
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(3)
    rows = []
    for t in range(12):
        u = rng.normal()
        for c in range(int(rng.integers(2, 6))):
            for s in range(3):
                rows.append({"therapist": f"t{t:02d}", "client": f"t{t:02d}c{c}", "session": s,
                             "outcome": 10 + u + rng.normal()})
    return pd.DataFrame(rows)


def _mean_of_cluster_means(d):
    return d.groupby("therapist")["outcome"].mean().mean()


def test_frame_path_equals_hand_loop(toy):
    before = toy.copy()
    res = cluster_bootstrap(toy, _mean_of_cluster_means, n_boot=200, seed=5, progress=False)
    pd.testing.assert_frame_equal(toy, before)
    # the same draws by hand: one Generator per replicate from SeedSequence(seed).spawn(n_boot),
    # therapists in order of first appearance, each replicate = mean of the drawn cluster means
    cmeans = toy.groupby("therapist", sort=False)["outcome"].mean().to_numpy()
    hand = np.array([cmeans[np.random.default_rng(ss).integers(0, 12, size=12)].mean()
                     for ss in np.random.SeedSequence(5).spawn(200)])
    np.testing.assert_allclose(res.replicates[:, 0], hand, rtol=0, atol=1e-12)
    assert res.estimate[0] == pytest.approx(cmeans.mean())
    np.testing.assert_allclose([res.ci_low[0], res.ci_high[0]],
                               np.quantile(hand, [0.025, 0.975]), atol=1e-12)
    # and it behaves like the textbook SE of a mean of 12 cluster means
    se = cmeans.std(ddof=1) / np.sqrt(12)
    assert res.replicates[:, 0].std() == pytest.approx(se, rel=0.25)
    assert res.ci_low[0] < res.estimate[0] < res.ci_high[0]


def test_bca_differs_from_percentile_when_skewed(toy):
    def stat(d):  # a strongly skewed function of the cluster means
        return np.exp(3 * (_mean_of_cluster_means(d) - 10))

    p = cluster_bootstrap(toy, stat, n_boot=200, seed=2, progress=False)
    b = cluster_bootstrap(toy, stat, n_boot=200, seed=2, progress=False, ci="bca")
    np.testing.assert_array_equal(p.replicates, b.replicates)
    assert np.isfinite([b.ci_low[0], b.ci_high[0]]).all()
    assert b.ci_low[0] < b.estimate[0] < b.ci_high[0]
    assert abs(b.ci_low[0] - p.ci_low[0]) > 1e-3 or abs(b.ci_high[0] - p.ci_high[0]) > 1e-3


def test_decompose_bca_runs_and_differs(sim, base):
    b = _dec(sim, ci="bca", n_boot=30, seed=7)
    shares = b.table["estimand"] == "share_total_variance"
    assert np.isfinite(_ci(b)[shares]).all()
    assert "bca" in b.summary()
    p = _dec(sim, n_boot=30, seed=7)
    assert not np.allclose(_ci(b)[shares], _ci(p)[shares])


def test_failed_replicates_are_counted_not_dropped(toy):
    def stat(d):
        if d["therapist"].str.startswith("t00#").any():
            raise ValueError("no convergence")
        return _mean_of_cluster_means(d)

    # a point estimate on the full data is needed, so the statistic works there
    res = cluster_bootstrap(toy, lambda d: stat(d) if "#" in d["therapist"].iloc[0]
                            else _mean_of_cluster_means(d), n_boot=100, seed=1, progress=False)
    assert 0 < res.n_failed < 100
    assert res.replicates.shape == (100 - res.n_failed, 1)
    assert np.isfinite(res.replicates).all()
    np.testing.assert_allclose([res.ci_low[0], res.ci_high[0]],
                               np.quantile(res.replicates[:, 0], [0.025, 0.975]))
    # the draws that contained therapist t00 are exactly the failed ones
    cmeans = toy.groupby("therapist", sort=False)["outcome"].mean().to_numpy()
    draws = [np.random.default_rng(ss).integers(0, 12, size=12)
             for ss in np.random.SeedSequence(1).spawn(100)]
    assert res.n_failed == sum(0 in d for d in draws)
    kept = np.array([cmeans[d].mean() for d in draws if 0 not in d])
    np.testing.assert_allclose(res.replicates[:, 0], kept, atol=1e-12)


def test_non_finite_statistic_counts_as_failed(toy):
    res = cluster_bootstrap(toy, lambda d: np.nan if "#" in d["therapist"].iloc[0] else 1.0,
                            n_boot=20, seed=1, progress=False)
    assert res.n_failed == 20 and res.replicates.shape == (0, 1)


def test_inner_resampling_frame_path(toy):
    one = cluster_bootstrap(toy, _mean_of_cluster_means, n_boot=40, seed=5, progress=False)
    two = cluster_bootstrap(toy, _mean_of_cluster_means, inner="client", n_boot=40, seed=5,
                            progress=False)
    assert one.n_failed == two.n_failed == 0
    assert not np.allclose(one.replicates, two.replicates)


def test_frame_path_input_checks(toy):
    with pytest.raises(ColumnError, match="'therapist_id' not found"):
        cluster_bootstrap(toy, _mean_of_cluster_means, cluster="therapist_id")
    with pytest.raises(ConfigError, match="`n_boot`: expecting an integer >= 1; got 0"):
        cluster_bootstrap(toy, _mean_of_cluster_means, n_boot=0)
    with pytest.raises(CommonFactorsError, match="`ci`: expecting one of 'percentile', 'basic', 'bca'"):
        cluster_bootstrap(toy, _mean_of_cluster_means, ci="normal")


# --------------------------------------------------------------------------------------
# two-stage resampling in decompose
# --------------------------------------------------------------------------------------
def test_resample_clients_changes_growth_intervals(sim):
    kw = dict(factors=sim.factors, view="growth", n_boot=20, seed=3, progress=False)
    one = cf.decompose(sim.data, **kw)
    two = cf.decompose(sim.data, resample_clients=True, **kw)
    assert two.n_boot_failed == 0
    np.testing.assert_array_equal(one.table["estimate"], two.table["estimate"])
    assert not np.allclose(_ci(one), _ci(two), equal_nan=True)
    # the client ICC varies more when clients are resampled too
    w1 = np.diff(_ci(one)[one.table["estimand"] == "icc_client"])[0, 0]
    w2 = np.diff(_ci(two)[two.table["estimand"] == "icc_client"])[0, 0]
    assert w2 > w1


# --------------------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_dask_backend_gives_the_same_table(sim):
    distributed = pytest.importorskip("dask.distributed")
    import joblib

    try:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
    except Exception as exc:  # noqa: BLE001 - any failure to start means "cannot test here"
        pytest.skip(f"dask.distributed cannot start a local cluster here: {exc}")
    kw = dict(factors=sim.factors, view="change", n_boot=20, seed=3, progress=False)
    try:
        with distributed.Client(cluster), joblib.parallel_backend("dask"):
            remote = cf.decompose(sim.data, n_jobs=-1, **kw)
    finally:
        cluster.close()
    local = cf.decompose(sim.data, n_jobs=1, **kw)
    # same replicate draws; workers run one BLAS thread each, the local run may use several,
    # so sums come in another order and each replicate's REML fit agrees to the optimiser's
    # precision (~1e-6 relative in theta), not to machine precision
    pd.testing.assert_frame_equal(remote.table, local.table, rtol=0, atol=1e-6)
    assert remote.n_boot_failed == local.n_boot_failed


def test_basic_interval_reflects_the_percentile_interval_about_the_estimate():
    """Basic (reverse percentile) = [2 t - q_hi, 2 t - q_lo] of the same replicates."""
    import numpy as np

    import commonfactors as cf
    from commonfactors.bootstrap import basic_interval, percentile_interval

    reps = np.random.default_rng(0).gamma(2.0, 1.0, size=(500, 2))
    est = np.array([1.5, 2.5])
    lo, hi = basic_interval(reps, est)
    plo, phi = percentile_interval(reps)
    assert np.allclose(lo, 2 * est - phi) and np.allclose(hi, 2 * est - plo)
    sim = cf.simulate("wampold_imel_2015", n_therapists=12, seed=2, truth=False)
    kw = dict(factors=sim.factors, view="change", n_boot=30, seed=4)
    a = cf.decompose(sim.data, ci="percentile", **kw).table
    b = cf.decompose(sim.data, ci="basic", **kw).table
    ok = a["ci_low"].notna()
    assert np.allclose(b.loc[ok, "ci_low"], 2 * a.loc[ok, "estimate"] - a.loc[ok, "ci_high"])
    assert np.allclose(b.loc[ok, "ci_high"], 2 * a.loc[ok, "estimate"] - a.loc[ok, "ci_low"])


def test_cluster_drawn_twice_keeps_its_clients_apart():
    # A therapist drawn twice must contribute two sets of clients: with the client ids left as
    # they were, the copies would merge into one client with twice the sessions (silently
    # changing any client-level statistic, a mixed model or a lag).
    d = pd.DataFrame({"therapist": np.repeat(["A", "B"], 4),
                      "client": np.repeat(["a1", "a2", "b1", "b2"], 2),
                      "session": np.tile([0, 1], 4), "outcome": np.arange(8.0)})
    seen = []

    def stat(x):
        per_client = x.groupby("client").size()
        seen.append((x["therapist"].nunique(), x["client"].nunique(), per_client.max()))
        return float(x["client"].nunique())

    r = cf.cluster_bootstrap(d, stat, n_boot=40, seed=3)
    assert r.n_failed == 0
    # every replicate has 2 therapist copies x 2 clients, each client with its 2 sessions
    assert all(s == (2, 4, 2) for s in seen[1:])
    # clients resampled within therapists as well: ids stay unique across copies
    seen.clear()
    cf.cluster_bootstrap(d, stat, inner="client", n_boot=40, seed=3)
    assert all(s == (2, 4, 2) for s in seen[1:])
    assert d["client"].tolist() == ["a1", "a1", "a2", "a2", "b1", "b1", "b2", "b2"]  # unmodified
