"""Scale of ``cf.decompose``: 1M, 3M and 10M session rows in memory, and 10M rows from a
partitioned Parquet dataset on a ``dask.distributed`` LocalCluster.

Data: blocks of ``simulate("wampold_imel_2015", 2000 therapists x 50 clients x 10 sessions)``
(1,000,000 rows each, seeds 1, 2, ...; ids prefixed by the block so they stay unique), written
once as four Parquet files (partitions of 250,000 rows) per block under ``--data`` (default ``bench/.scale_data``, not
committed). N million rows are the first N blocks.

Measured, each in a fresh child process so that peak memory belongs to one run:

1. in memory: the rows read with ``pandas.read_parquet`` (not timed), then
   ``decompose(rows, factors, view=..., n_boot=0)`` for the growth view (16 subset models with
   random intercepts for client and therapist) and the change view (16 subsets with a random
   therapist intercept), timed; peak resident memory of the process (``ru_maxrss``: data
   included) and memory after reading the data;
2. 10M rows from the Parquet directory, ``decompose(path, ...)`` with a
   ``Client(LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=...))`` whose memory
   limit per worker is below the data's size in memory: time, peak memory of the calling
   process and of each worker;
3. the same Parquet + LocalCluster run on the 1M-row set against the in-memory run: the largest
   difference of any estimate of the table, components and commonality.

Targets (routine-care scale): 10M rows within 60 s and 6 GB per view on this machine;
cost linear in the rows. Run: ``python bench/scale.py`` (``--quick``: 1M and 3M only, no
cluster). Output: ``bench/scale_results.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLOCK = dict(n_therapists=2000, clients_per_therapist=50, n_sessions=10)


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _current_gb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**3


FILES_PER_BLOCK = 4  # Parquet files (partitions) of 250,000 rows per block


def _block_files(data: Path, b: int) -> list[Path]:
    return [data / f"block-{b:03d}-{j}.parquet" for j in range(FILES_PER_BLOCK)]


def generate(data: Path, blocks: int) -> dict:
    """Write the missing blocks (each as FILES_PER_BLOCK files); return the factor mapping."""
    import numpy as np

    import commonfactors as cf

    data.mkdir(parents=True, exist_ok=True)
    factors = cf.simulate("wampold_imel_2015", n_therapists=3, clients_per_therapist=2,
                          n_sessions=3, truth=False, seed=1).factors
    for b in range(blocks):
        files = _block_files(data, b)
        if all(f.exists() for f in files):
            continue
        d = cf.simulate("wampold_imel_2015", **BLOCK, truth=False, seed=b + 1).data
        d["therapist"] = f"b{b:02d}_" + d["therapist"].astype(str)
        d["client"] = f"b{b:02d}_" + d["client"].astype(str)
        for f, idx in zip(files, np.array_split(np.arange(len(d)), FILES_PER_BLOCK), strict=True):
            d.iloc[idx].to_parquet(f, index=False)
    return factors


def child_memory(data: Path, blocks: int, factors: dict, views) -> dict:
    import pandas as pd

    import commonfactors as cf

    warnings.simplefilter("ignore")
    files = [f for b in range(blocks) for f in _block_files(data, b)]
    rows = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    out = {"rows": len(rows), "data_gb": rows.memory_usage(deep=True).sum() / 1024**3,
           "rss_after_load_gb": _current_gb()}
    for view in views:
        t0 = time.perf_counter()
        res = cf.decompose(rows, factors=factors, view=view, n_boot=0)
        out[f"t_{view}"] = time.perf_counter() - t0
        table = res.table[["factor", "estimand", "estimate"]]
        out[f"table_{view}"] = table.to_json(double_precision=15)
        del res
    out["peak_gb"] = _rss_gb()
    return out


def shuffled_copy(data: Path, parts: int = 8) -> Path:
    """The first block as ``parts`` Parquet files of shuffled rows (a client's rows spread over
    several partitions), for the comparison with the in-memory run on 1M rows."""
    import pandas as pd

    out = data.parent / (data.name + "_1m_shuffled")
    if not out.exists():
        out.mkdir()
        d = pd.concat([pd.read_parquet(f) for f in _block_files(data, 0)])
        d = d.sample(frac=1.0, random_state=1)
        for j in range(parts):
            d.iloc[j::parts].to_parquet(out / f"part-{j}.parquet", index=False)
    return out


def child_cluster(data: Path, factors: dict, views, limit: str) -> dict:
    from dask.distributed import Client, LocalCluster

    import commonfactors as cf

    warnings.simplefilter("ignore")
    sources = {"10M": data, "1M": shuffled_copy(data)}
    out = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=limit,
                      processes=True, dashboard_address=None) as lc, Client(lc) as client:
        for name, src in sources.items():
            for view in views:
                t0 = time.perf_counter()
                res = cf.decompose(str(src), factors=factors, view=view, n_boot=0)
                out[f"t_{name}_{view}"] = time.perf_counter() - t0
                out[f"table_{name}_{view}"] = res.table[["factor", "estimand",
                                                         "estimate"]].to_json(double_precision=15)
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2)
        out["worker_peak_gb"] = max(peaks.values())
    out["peak_gb"] = _rss_gb()
    return out


def run_child(kind: str, **kw) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import scale; "
            f"from pathlib import Path; kw = json.loads({json.dumps(json.dumps(kw))}); "
            f"kw['data'] = Path(kw['data']); "
            f"print(json.dumps(scale.child_{kind}(**kw)))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if r.returncode:
        raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def _max_diff(a: str, b: str) -> float:
    from io import StringIO

    import numpy as np
    import pandas as pd

    x, y = pd.read_json(StringIO(a)), pd.read_json(StringIO(b))
    return float(np.nanmax(np.abs(x["estimate"].to_numpy(float) - y["estimate"].to_numpy(float))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1M and 3M rows only, no cluster")
    ap.add_argument("--data", default=str(HERE / ".scale_data"))
    args = ap.parse_args()
    sizes = (1, 3) if args.quick else (1, 3, 10)
    data = Path(args.data)
    t0 = time.perf_counter()
    factors = generate(data, max(sizes))
    lines = [f"data: {max(sizes)} blocks of 1,000,000 rows ({time.perf_counter() - t0:.0f} s "
             "to generate or find)", f"factors: {factors}", ""]
    views = ("growth", "change")
    mem = {}
    for n in sizes:
        m = run_child("memory", data=str(data), blocks=n, factors=factors, views=views)
        mem[n] = m
        print(f"{n}M done", m["t_growth"], m["t_change"], m["peak_gb"], flush=True)
        lines.append(f"{m['rows']:>11,} rows in memory ({m['data_gb']:.2f} GB as a DataFrame): "
                     f"growth {m['t_growth']:6.1f} s, change {m['t_change']:6.1f} s; "
                     f"memory after reading {m['rss_after_load_gb']:.2f} GB, peak "
                     f"{m['peak_gb']:.2f} GB")
    per = {v: [mem[n][f"t_{v}"] / n for n in sizes] for v in views}
    lines.append("seconds per million rows: " + "; ".join(
        f"{v} " + ", ".join(f"{p:.2f}" for p in per[v]) for v in views))
    big = mem[max(sizes)]
    for v in views:
        ok = big[f"t_{v}"] <= 60 and big["peak_gb"] <= 6
        lines.append(f"target {max(sizes)}M rows, {v}: {big[f't_{v}']:.1f} s <= 60 s and peak "
                     f"{big['peak_gb']:.2f} GB <= 6 GB: {'PASS' if ok else 'MISS'}")
    if not args.quick:
        limit_gb = 0.75 * big["data_gb"]  # below the data, above a worker's own 0.35 GB
        c = run_child("cluster", data=str(data), factors=factors, views=views,
                      limit=f"{limit_gb:.2f}GB")
        lines += ["", f"10M rows from Parquet ({len(list(data.glob('*.parquet')))} files) on a "
                  f"LocalCluster, 2 workers x 1 thread, memory limit {limit_gb:.2f} GB per worker "
                  f"(data in memory: {big['data_gb']:.2f} GB): growth {c['t_10M_growth']:.1f} s, "
                  f"change {c['t_10M_change']:.1f} s; peak memory: caller {c['peak_gb']:.2f} GB, "
                  f"worker {c['worker_peak_gb']:.2f} GB"]
        for name, ref in (("1M", mem[1]), ("10M", big)):
            for v in views:
                lines.append(f"  {name} rows, {v}: largest |Parquet + cluster - in memory| over "
                             f"the table's estimates (15 digits kept): "
                             f"{_max_diff(c[f'table_{name}_{v}'], ref[f'table_{v}']):.2e}")
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        (HERE / "scale_results.txt").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
