"""Command line: ``commonfactors report`` (the main job) and ``commonfactors simulate``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main"]


def _write_table(df, out: Path) -> None:
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        df.to_csv(out, index=False, float_format="%.6f")
    elif suffix in (".parquet", ".pq"):
        df.to_parquet(out, index=False)
    else:
        raise SystemExit(f"--out: expecting a .csv or .parquet file name; got {out.name!r}.")


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .simulation.simulator import simulate

    sim = simulate(args.preset, n_therapists=args.n_therapists,
                   clients_per_therapist=args.clients_per_therapist,
                   n_sessions=args.n_sessions, seed=args.seed)
    _write_table(sim.data, Path(args.out))
    print(f"wrote {len(sim.data)} rows to {args.out}")
    if args.truth:
        _write_table(sim.truth, Path(args.truth))
        print(f"wrote the truth table to {args.truth}")
    print(sim.summary())
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report.run import run_report

    factors = None
    if args.factors:
        factors = json.loads(Path(args.factors).read_text())
    path = run_report(args.data, factors=factors, view=args.view, n_boot=args.n_boot,
                      out=args.out, seed=args.seed, progress=not args.quiet)
    print(f"report written to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="commonfactors",
                                description="How much of improvement is due to the relationship?")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="simulate a preset and write its data (CSV or Parquet)")
    s.add_argument("preset", help="preset name (see commonfactors.list_presets())")
    s.add_argument("--out", required=True, help="output file, .csv or .parquet")
    s.add_argument("--truth", help="also write the truth table to this file")
    s.add_argument("--n-therapists", type=int, default=40)
    s.add_argument("--clients-per-therapist", type=int, default=15)
    s.add_argument("--n-sessions", type=int, default=10)
    s.add_argument("--seed", type=int, default=1)
    s.set_defaults(func=_cmd_simulate)

    r = sub.add_parser("report", help="write the HTML report (default: the bundled datasets)")
    r.add_argument("data", nargs="?", default=None,
                   help="a session file (CSV, Parquet, SPSS, Stata); default: bundled datasets")
    r.add_argument("--factors", help="JSON file mapping factor groups to columns")
    r.add_argument("--view", choices=["growth", "change"], default="change")
    r.add_argument("--n-boot", type=int, default=None,
                   help="bootstrap replicates (default 1000; 100 when CI is set)")
    r.add_argument("--out", default="report", help="output folder")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    from .errors import CommonFactorsError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CommonFactorsError as exc:
        print(f"commonfactors: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
