"""One runner for independent replicates: bootstrap draws, simulated datasets, resampled studies.

Every parallel loop of the package (:func:`commonfactors.cluster_bootstrap`, the bootstrap of
:func:`commonfactors.decompose`, :func:`commonfactors.plan_precision` and the meta-analysis
bootstrap) goes through :func:`run`:

* tasks are plain picklable arguments of a top-level function, run in order through joblib
  (``n_jobs=1``: in this process, no joblib at all);
* the backend is joblib's: the default process pool, or any backend made active by the caller,
  e.g. Dask with ``with joblib.parallel_config(backend="dask"): ...`` (a ``dask.distributed``
  client must exist), or named with ``backend=``;
* each task runs with one BLAS thread (:func:`one_blas_thread`): the matrices are small, and
  several workers each starting a BLAS pool on few cores are much slower than one thread each;
* a progress bar (tqdm) is shown when the session is interactive (:func:`show_progress`);
* seeds: :func:`spawn` gives one ``SeedSequence`` per replicate, so a result does not depend on
  ``n_jobs``, on the chunking or on where a task runs.

Examples
--------
>>> from commonfactors.parallel import chunks, run, spawn
>>> [len(c) for c in chunks(10, n_jobs=1)]
[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
>>> len(spawn(0, 3))
3
>>> run(pow, [(2, 3), (3, 2)], n_jobs=1)
[8, 9]
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Sequence

import numpy as np

__all__ = ["run", "chunks", "spawn", "show_progress", "one_blas_thread"]

_CONTROLLER = None


def one_blas_thread():
    """Context manager limiting BLAS to one thread (if threadpoolctl is installed).

    The blocks of the package's engines are tiny; with NumPy's and SciPy's OpenBLAS pools both
    spinning on few cores, the thread hand-offs cost far more than the arithmetic (a 10-20x
    slowdown measured on 2 cores), and parallel workers would oversubscribe the cores.
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER = ThreadpoolController()
        except ImportError:  # pragma: no cover - threadpoolctl is a declared dependency
            _CONTROLLER = False
    if _CONTROLLER is False:  # pragma: no cover
        return contextlib.nullcontext()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def show_progress(progress: bool | None) -> bool:
    """Default progress: shown in an interactive terminal or notebook, quiet in CI."""
    if progress is not None:
        return bool(progress)
    if "CI" in os.environ:
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)()) or "ipykernel" in sys.modules


def spawn(seed, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent seed sequences from ``seed`` (``np.random.SeedSequence(seed).spawn(n)``)."""
    return np.random.SeedSequence(seed).spawn(n)


def chunks(n: int, n_jobs: int) -> list[np.ndarray]:
    """Indices ``0..n-1`` split into contiguous chunks: one per item in this process (so that a
    progress bar moves), about four per worker otherwise (at most 64)."""
    if n_jobs == 1:
        parts = max(1, min(n, 20))
    else:
        parts = max(1, min(n, 4 * n_jobs if n_jobs > 0 else 32, 64))
    return [c for c in np.array_split(np.arange(n), parts) if len(c)]


def _call(func: Callable, args: tuple):
    with one_blas_thread():
        return func(*args)


def run(func: Callable, tasks: Sequence[tuple], *, n_jobs: int = 1, progress: bool | None = False,
        desc: str = "", sizes: Iterable[int] | None = None, backend: str | None = None) -> list:
    """``[func(*task) for task in tasks]``, in parallel with joblib when ``n_jobs != 1``.

    Parameters
    ----------
    func : callable
        A top-level (picklable) function.
    tasks : sequence of tuples
        Positional arguments of each call; results come back in this order.
    n_jobs : int
        joblib workers (``-1``: all cores); 1 runs in this process.
    progress : bool or None
        Show a tqdm bar (None: only when interactive, see :func:`show_progress`).
    desc : str
        Label of the progress bar.
    sizes : iterable of int, optional
        How many replicates each task holds (the bar counts replicates); default 1 each.
    backend : str, optional
        A joblib backend name (``"loky"``, ``"threading"``, ``"dask"``, ...); default: the one
        active in the caller (``joblib.parallel_config``), else joblib's process pool.
    """
    tasks = list(tasks)
    sizes = [1] * len(tasks) if sizes is None else list(sizes)
    bar = None
    if show_progress(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(sizes), desc=desc, leave=False)
    results = []
    try:
        if n_jobs == 1:
            gen = (_call(func, t) for t in tasks)
        else:
            from joblib import Parallel, delayed

            gen = Parallel(n_jobs=n_jobs, backend=backend, return_as="generator")(
                delayed(_call)(func, t) for t in tasks)
        for size, res in zip(sizes, gen, strict=True):
            results.append(res)
            if bar is not None:
                bar.update(size)
    finally:
        if bar is not None:
            bar.close()
    return results
