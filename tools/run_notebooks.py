"""Execute the example notebooks and report the wall time of each.

Usage::

    python tools/run_notebooks.py [--smoke] [NOTEBOOK ...]

Without arguments every ``notebooks/*.ipynb`` is run. A normal run is a
*full* run: the ``CI`` environment variable is removed so that the notebooks
use their full numbers of bootstrap replicates and simulated datasets, and the
executed notebooks (with outputs) are written back in place; these are the
outputs that are committed. With ``--smoke`` the variable ``CI=1`` is set (the
notebooks then shrink replicate counts, as in the test suite) and nothing is
written back; only the times are reported.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
KERNEL = "python3"
CELL_TIMEOUT = 1200


def _notebooks(paths: list[str]) -> list[Path]:
    if not paths:
        found = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
        return [p for p in found if ".ipynb_checkpoints" not in p.parts]
    out = []
    for p in paths:
        path = Path(p).resolve()
        if not path.is_file():
            raise SystemExit(f"run_notebooks: notebook {p!r} not found; pass paths to .ipynb files")
        out.append(path)
    return out


def run_one(path: Path, smoke: bool) -> float:
    """Execute one notebook; return its wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    if not smoke:
        nbformat.write(nb, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: all)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="set CI=1 (small replicate counts) and do not write outputs back",
    )
    args = parser.parse_args(argv)

    # The kernel inherits this process's environment.
    if args.smoke:
        os.environ["CI"] = "1"
    else:
        os.environ.pop("CI", None)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")

    mode = "smoke (CI=1, not written)" if args.smoke else "full (written in place)"
    print(f"run_notebooks: mode {mode}", flush=True)
    failures = 0
    total = 0.0
    for path in _notebooks(args.notebooks):
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        try:
            elapsed = run_one(path, args.smoke)
        except CellExecutionError as exc:
            failures += 1
            print(f"FAILED  {rel}\n{exc}", flush=True)
            continue
        total += elapsed
        print(f"{elapsed:8.1f} s  {rel}", flush=True)
    print(f"{total:8.1f} s  total ({failures} failed)", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
