"""Scaling of the nested engine: statistics from rows, deviance evaluations, 1M-row decomposition.

Three measurements, each printed on one line:

1. ``decompose``: ``simulate("wampold_imel_2015", 2000 therapists x 50 clients x 10 sessions)``
   (1,000,000 rows), ``cf.decompose(view="growth", n_boot=0)`` under cProfile: total time, the
   cumulative time inside the deviance (``_dev_grad`` and ``_omega``) and the number of their
   calls, the time of ``NestedStats.from_arrays`` on the full design with its ``tracemalloc``
   peak, and the peak resident memory of the process (``ru_maxrss``; data generation included).
2. ``eval``: one deviance + analytic gradient evaluation (REML) on synthetic random-intercept
   statistics with m = 1,000,000 inner groups in 20,000 outer groups and k = 18 columns (cluster
   sizes 5..14), median of 20 (the first, which builds any cached per-class sums, reported apart).

3. ``groups``: the engine at the 10M-row scale from per-client aggregates, as a chunked reader
   would hand them over: 1,000,000 clients (5..14 sessions, 9.5M rows) in 20,000 therapists,
   p = 17, ``NestedStats.from_groups`` with per-therapist cross-products only; the time and
   ``tracemalloc`` peak of building, of the 16 subset fits of 4 factor groups (first 1 + 4
   groups of 4 columns) and of one therapist-bootstrap replicate refitted warm.

Run: ``python bench/nested_scale.py decompose`` (``eval``, ``groups``), one at a time (each uses
the whole machine).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import time
import tracemalloc
import warnings

import numpy as np


def _bench_decompose(table: str | None = None, top: int = 0, per_group: bool = False) -> None:
    import commonfactors as cf
    from commonfactors.models import _nested_compact
    from commonfactors.models.nested import NestedStats

    if per_group:  # the deviance summed over inner groups, for comparison
        _nested_compact._MIN_SAVING = 10**12

    t0 = time.perf_counter()
    sim = cf.simulate("wampold_imel_2015", n_therapists=2000, clients_per_therapist=50,
                      n_sessions=10, truth=False, seed=1)
    print(f"simulate: {time.perf_counter() - t0:.1f} s, {len(sim.data)} rows")
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prof.enable()
        res = cf.decompose(sim.data, factors=sim.factors, view="growth", n_boot=0)
        prof.disable()
    t_dec = time.perf_counter() - t0
    st = pstats.Stats(prof)
    dev_t, dev_n = 0.0, 0
    for (_file, _line, name), (_cc, nc, _tt, ct, _callers) in st.stats.items():
        if name in ("_dev_grad", "_omega"):
            dev_t += ct
            dev_n += nc
    print(f"decompose (n_boot=0, profiled): {t_dec:.1f} s; in _dev_grad/_omega: {dev_t:.1f} s "
          f"over {dev_n} calls")
    if table:
        res.table.to_csv(table, index=False, float_format="%.17g")
    if top:
        st.sort_stats("tottime").print_stats(top)
    rng = np.random.default_rng(0)
    n = len(sim.data)
    X = rng.standard_normal((n, 17))
    y = rng.standard_normal(n)
    one = np.ones((n, 1))
    cl = sim.data["client"].to_numpy()
    th = sim.data["therapist"].to_numpy()
    tracemalloc.start()
    t0 = time.perf_counter()
    NestedStats.from_arrays(X, y, one, one, cl, th)
    t_fa = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"from_arrays (n={n}, p=17, intercepts at both levels): {t_fa:.2f} s, tracemalloc peak "
          f"{peak / 2**30:.2f} GB")
    print(f"peak RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")


def _synthetic(m: int = 1_000_000, n_outer: int = 20_000, k: int = 18, seed: int = 0):
    from commonfactors.models.nested import NestedStats

    rng = np.random.default_rng(seed)
    n_i = rng.integers(5, 15, size=m).astype(float)
    outer_of = np.sort(rng.integers(0, n_outer, size=m))
    outer_of[:n_outer] = np.arange(n_outer)  # every outer group non-empty
    outer_of.sort()
    gsum_i = rng.standard_normal((m, k)) * np.sqrt(n_i)[:, None] + n_i[:, None] * 0.1
    ostart = np.flatnonzero(np.r_[True, outer_of[1:] != outer_of[:-1]])
    gg = gsum_i.T @ (gsum_i / n_i[:, None]) + 4.0 * n_i.sum() * np.eye(k)
    one = n_i[:, None, None]
    kw = dict(n=int(n_i.sum()), p=k - 1, q_in=1, q_out=1, n_i=n_i.astype(int),
              gg_i=np.broadcast_to(np.zeros((1, k, k)), (m, k, k)), gsum_i=gsum_i, zz_i=one,
              zg_i=gsum_i[:, None, :], zsum_i=n_i[:, None], zio_i=one, oo_i=one,
              og_i=gsum_i[:, None, :], osum_i=n_i[:, None], outer_of=outer_of, ostart=ostart,
              inner_label=np.arange(m), outer_label=np.arange(n_outer), gg=gg, gsum=gsum_i.sum(0))
    return NestedStats(**kw)


def _bench_eval() -> None:
    from commonfactors.models._nested_deviance import _dev_grad

    st = _synthetic()
    theta = np.array([0.7, 0.3])
    t0 = time.perf_counter()
    f0, g0 = _dev_grad(st, theta, True)
    t_first = time.perf_counter() - t0
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        f, g = _dev_grad(st, theta, True)
        times.append(time.perf_counter() - t0)
    print(f"one deviance+gradient (m=1e6, 2e4 outer, k=18): first {t_first * 1e3:.1f} ms, then "
          f"median {np.median(times) * 1e3:.2f} ms; dev={f:.10g} grad={g}")


def _groups(m: int = 1_000_000, n_outer: int = 20_000, p: int = 17, seed: int = 1):
    """Consistent per-client aggregates of a random-intercept model (sums, per-therapist G'G)."""
    from commonfactors.models._nested_sums import _segment_cross

    rng = np.random.default_rng(seed)
    n_i = rng.integers(5, 15, size=m)
    outer_of = np.sort(np.r_[np.arange(n_outer), rng.integers(0, n_outer, size=m - n_outer)])
    # client means of X (between: therapist + client parts) and of y, times n_i
    xt = rng.standard_normal((n_outer, p - 1)) * 0.5
    xm = xt[outer_of] + rng.standard_normal((m, p - 1)) * 0.7 + rng.standard_normal((m, p - 1)) / np.sqrt(n_i)[:, None]
    b = rng.standard_normal(p - 1) * 0.3
    ym = (xm @ b + rng.standard_normal(n_outer)[outer_of] * 0.4 + rng.standard_normal(m) * 0.8
          + rng.standard_normal(m) / np.sqrt(n_i))
    gsum_i = np.column_stack([np.ones(m), xm, ym]) * n_i[:, None]
    # G'G per therapist: between part sum gsum gsum' / n_i plus the within-client scatter
    k = p + 1
    W = np.zeros((k, k))
    C = rng.standard_normal((p, p)) * 0.3 + np.eye(p)
    W[1:, 1:] = C @ C.T
    ostart = np.flatnonzero(np.r_[True, np.diff(outer_of) != 0])
    scaled = np.ascontiguousarray((gsum_i / np.sqrt(n_i)[:, None]).T)
    gg_o = _segment_cross(scaled, scaled, ostart)
    gg_o += np.add.reduceat(n_i - 1, ostart)[:, None, None] * W
    return dict(n_i=n_i, gsum_i=gsum_i, gg_o=gg_o, inner_label=np.arange(m), outer_of=outer_of,
                outer_label=np.arange(n_outer))


def _bench_groups() -> None:
    from commonfactors.models.nested import NestedStats, fit_nested, hessian_at, refit_warm

    agg = _groups()
    print(f"aggregates: {agg['n_i'].size} clients, {agg['n_i'].sum()} rows, {agg['gg_o'].shape[0]} therapists")
    tracemalloc.start()
    t0 = time.perf_counter()
    st = NestedStats.from_groups(**agg)
    t_build = time.perf_counter() - t0
    groups = [np.arange(1 + 4 * j, 5 + 4 * j) for j in range(4)]
    t0 = time.perf_counter()
    fits, n_eval = {}, 0
    for mask in range(16):
        cols = np.concatenate([[0]] + [g for j, g in enumerate(groups) if mask >> j & 1]).astype(int)
        fits[mask] = fit_nested(st.select(cols))
        n_eval += fits[mask].n_eval
        assert fits[mask].converged, fits[mask].message
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    full = np.arange(st.p)
    H = hessian_at(st.select(full), fits[15].theta)
    rs = st.resample(np.random.default_rng(2).integers(0, st.n_outer, st.n_outer))
    core = refit_warm(rs.select(full), True, fits[15].theta, H)
    t_boot = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"from_groups: {t_build:.2f} s; 16 subset fits: {t_fit:.1f} s ({n_eval} evaluations); "
          f"one resample + warm refit of the full model: {t_boot:.1f} s (converged={core.converged}); "
          f"tracemalloc peak {peak / 2**30:.2f} GB (aggregates not counted)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["decompose", "eval", "groups"])
    ap.add_argument("--table", help="decompose: write the decomposition table to this CSV")
    ap.add_argument("--top", type=int, default=0, help="decompose: print the N most costly functions")
    ap.add_argument("--per-group", action="store_true",
                    help="decompose: sum the deviance over inner groups, not classes")
    args = ap.parse_args()
    if args.what == "decompose":
        _bench_decompose(args.table, args.top, args.per_group)
    else:
        _bench_eval() if args.what == "eval" else _bench_groups()
