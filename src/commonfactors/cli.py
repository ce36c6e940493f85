"""Command line: ``commonfactors report`` (the main job) and ``commonfactors simulate``.

Every error is one line on standard error and exit code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["main"]

_ROLES = ("therapist", "client", "session", "outcome")
_CONFIG_KEYS = ("columns", "factors", "references", "view", "outside", "n_boot", "seed",
                "na_values", "ranges", "out_of_range", "session_dates", "value_labels",
                "encoding", "sep", "sheet", "higher_is_better", "missing")
_READ_KEYS = ("na_values", "ranges", "out_of_range", "session_dates", "value_labels",
              "encoding", "sep", "sheet", "higher_is_better", "missing")


class UsageError(Exception):
    """A command-line mistake (bad option, unreadable config file, unwritable output)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints the usage too)
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _write_table(df, out: Path) -> None:
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise UsageError(f"--out: expecting a .csv or .parquet file name; got {out.name!r}.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            df.to_csv(out, index=False, float_format="%.6f")
        else:
            df.to_parquet(out, index=False)
    except OSError as exc:
        raise UsageError(f"--out: cannot write {str(out)!r} ({exc.strerror or exc}).") from None


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


def load_config(path: str, option: str) -> dict[str, Any]:
    """A mapping from a JSON, YAML (.yaml/.yml) or TOML file; UsageError naming the option."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{option}: file {path!r} not found.")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option}: cannot read {path!r} ({exc}).") from None
    ext = p.suffix.lower()
    try:
        if ext in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        elif ext == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                raise UsageError(f"{option}: TOML needs Python 3.11 or later; use a JSON or "
                                 "YAML file.") from None
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except UsageError:
        raise
    except Exception as exc:  # the parsers' own error types
        kind = {".yaml": "YAML", ".yml": "YAML", ".toml": "TOML"}.get(ext, "JSON")
        detail = " ".join(str(exc).split())
        raise UsageError(f"{option}: {path!r} is not valid {kind} ({detail[:160]}).") from None
    if not isinstance(data, Mapping):
        raise UsageError(f"{option}: {path!r} must hold a mapping (an object of keys); got "
                         f"{type(data).__name__}.")
    return dict(data)


def _parse_columns(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        role, eq, col = item.partition("=")
        role, col = role.strip(), col.strip()
        if not eq or not role or not col:
            raise UsageError(f"--columns: expecting role=column (e.g. therapist=TherID); got "
                             f"{item!r}.")
        if role not in _ROLES:
            raise UsageError(f"--columns: unknown role {role!r}; roles: {', '.join(_ROLES)}.")
        out[role] = col
    return out


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """Config file, then --factors, then explicit options (the later wins)."""
    cfg: dict[str, Any] = {}
    if args.config:
        cfg = load_config(args.config, "--config")
        unknown = [k for k in cfg if k not in _CONFIG_KEYS]
        if unknown:
            raise UsageError(f"--config: unknown key(s) {', '.join(map(repr, unknown))}; "
                             f"expecting some of {', '.join(_CONFIG_KEYS)}.")
    if args.factors:
        cfg["factors"] = load_config(args.factors, "--factors")
    if "columns" in cfg and not isinstance(cfg["columns"], Mapping):
        raise UsageError("--config: 'columns' must map roles to columns, e.g. "
                         '{"therapist": "TherID"}.')
    columns = dict(cfg.get("columns") or {})
    columns.update(_parse_columns(args.columns))
    cfg["columns"] = columns or None
    if args.view is not None:
        cfg["view"] = args.view
    if args.outside is not None:
        cfg["outside"] = args.outside
    if args.n_boot is not None:
        cfg["n_boot"] = args.n_boot
    if args.seed is not None:
        cfg["seed"] = args.seed
    if args.na_values:
        cfg["na_values"] = [_number_or_text(v) for v in args.na_values]
    return cfg


def _number_or_text(v: str) -> Any:
    try:
        f = float(v)
    except ValueError:
        return v
    return int(f) if f.is_integer() else f


def _check_out(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".commonfactors_write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"--out: cannot write to folder {str(folder)!r} "
                         f"({exc.strerror or exc}); choose another folder.") from None


def _cmd_report(args: argparse.Namespace) -> int:
    from .report.run import run_report

    cfg = _settings(args)
    if args.data is not None and not Path(args.data).is_file():
        raise UsageError(f"data: file {args.data!r} not found.")
    _check_out(Path(args.out))
    kwargs: dict[str, Any] = {}
    for key in ("view", "n_boot", "seed"):
        if key in cfg:
            kwargs[key] = cfg[key]
    if args.data is not None:
        kwargs["columns"] = cfg.get("columns")
        kwargs["references"] = cfg.get("references")
        kwargs["outside"] = cfg.get("outside")
        read = {k: cfg[k] for k in _READ_KEYS if k in cfg}
        kwargs["read_options"] = read or None
    path = run_report(args.data, factors=cfg.get("factors"), out=args.out,
                      progress=not args.quiet,
                      figure_formats=args.figures or (), **kwargs)
    print(f"report written to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="commonfactors",
                description="How much of improvement is due to the relationship?")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("simulate", help="simulate a preset and write its data (CSV or Parquet)")
    s.add_argument("preset", help="preset name (see commonfactors.list_presets())")
    s.add_argument("--out", required=True, help="output file, .csv or .parquet")
    s.add_argument("--truth", help="also write the truth table to this file")
    s.add_argument("--n-therapists", type=int, default=40)
    s.add_argument("--clients-per-therapist", type=int, default=15)
    s.add_argument("--n-sessions", type=int, default=10)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    s.set_defaults(func=_cmd_simulate)

    r = sub.add_parser(
        "report", help="write the HTML report (default: the bundled datasets)",
        description="Write the HTML report for a session file (or the bundled datasets). "
        "Settings come from --config (JSON, YAML or TOML with the keys columns, factors, "
        "references, view, outside, n_boot, seed and read options such as na_values, ranges, "
        "session_dates), then --factors, then the options given here.")
    r.add_argument("data", nargs="?", default=None,
                   help="a session file (CSV, Excel, Parquet, SPSS, Stata); default: bundled "
                        "datasets")
    r.add_argument("--config", help="JSON, YAML or TOML file with the settings")
    r.add_argument("--factors", help="JSON, YAML or TOML file mapping factor groups to columns")
    r.add_argument("--columns", nargs="+", metavar="ROLE=COLUMN",
                   help="your column names, e.g. therapist=TherID client=ClientID "
                        "session=Date outcome=PHQ9")
    r.add_argument("--view", choices=["growth", "change"], default=None,
                   help="model view (default: as commonfactors.run_report, the change view)")
    r.add_argument("--outside", nargs="+", metavar="GROUP",
                   help="factor groups outside therapy (default: extra_therapeutic)")
    r.add_argument("--na-values", nargs="+", metavar="CODE",
                   help="missing-value codes, e.g. -99 999 n/a")
    r.add_argument("--n-boot", type=int, default=None,
                   help="bootstrap replicates (default 1000; 100 when CI is set)")
    r.add_argument("--out", default="report", help="output folder")
    r.add_argument("--seed", type=int, default=None, help="bootstrap seed (default 1)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    r.add_argument("--figures", nargs="+", choices=["svg", "pdf", "png"], metavar="FORMAT",
                   help="also save every figure as svg, pdf and/or png under OUT/figures/ "
                        "(tables are always written as CSV under OUT/tables/)")
    r.set_defaults(func=_cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code (0, or 2 after a one-line error)."""
    from .errors import CommonFactorsError

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except (UsageError, CommonFactorsError) as exc:
        if debug:
            raise
        msg = " ".join(str(exc).split())
        print(f"commonfactors: error: {msg}", file=sys.stderr)
        return 2
    except OSError as exc:
        if debug:
            raise
        print(f"commonfactors: error: {exc.strerror or exc}"
              + (f": {exc.filename!r}" if getattr(exc, "filename", None) else "")
              + ".", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("commonfactors: interrupted.", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: one line unless --debug
        if debug:
            raise
        print(f"commonfactors: unexpected error ({type(exc).__name__}: "
              f"{' '.join(str(exc).split())[:300]}); rerun with --debug for the traceback.",
              file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
