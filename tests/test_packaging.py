"""Packaging: dependencies in sync, bundled data reproducible byte for byte, command line."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in py["dependencies"]}
    for extra in ("dev", "dask", "bench", "docs", "excel"):
        wanted |= {_name(r) for r in py["optional-dependencies"][extra]}
    # conda splits dask[distributed] into dask + distributed
    wanted |= {"distributed"}
    env = (ROOT / "environment.yml").read_text()
    deps_part = env.split("dependencies:", 1)[1]
    listed = set()
    for line in deps_part.splitlines():
        m = re.match(r"^\s*-\s+([A-Za-z0-9_.\-\[\]]+)", line)
        if m and not line.strip().startswith("- -e") and m.group(1) not in ("pip", "python>=3.10"):
            listed.add(_name(m.group(1)))
    listed.discard("python")
    listed.discard("pip")
    assert wanted - listed == set(), f"missing from environment.yml: {sorted(wanted - listed)}"
    assert listed - wanted == set(), f"not in pyproject.toml: {sorted(listed - wanted)}"


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_synthetic_data_regenerate_byte_for_byte(tmp_path):
    manifest = pd.read_csv(ROOT / "data" / "synthetic" / "manifest.csv")
    make = _load_tool("make_synthetic")
    rows = make.generate(tmp_path)
    assert len(rows) == len(manifest) >= 7
    for r in manifest.itertuples():
        committed = ROOT / "data" / "synthetic" / r.file
        assert hashlib.sha256(committed.read_bytes()).hexdigest() == r.sha256, r.file
        fresh = tmp_path / r.file
        assert hashlib.sha256(fresh.read_bytes()).hexdigest() == r.sha256, (
            f"{r.file} does not regenerate byte for byte; run `make data` and commit")
        assert len(pd.read_csv(committed)) == r.rows


def test_cli_simulate_writes_csv_and_parquet(tmp_path, capsys):
    from commonfactors.cli import main

    assert main(["simulate", "lambert_1992", "--out", str(tmp_path / "d.csv"),
                 "--n-therapists", "3", "--truth", str(tmp_path / "t.csv")]) == 0
    d = pd.read_csv(tmp_path / "d.csv")
    assert len(d) == 3 * 15 * 10 and {"therapist", "client", "session", "outcome"} <= set(d.columns)
    assert set(pd.read_csv(tmp_path / "t.csv").columns) >= {"factor", "estimand", "value", "view"}
    assert main(["simulate", "lambert_1992", "--out", str(tmp_path / "d.parquet"),
                 "--n-therapists", "3"]) == 0
    assert len(pd.read_parquet(tmp_path / "d.parquet")) == 450
    out = capsys.readouterr().out
    assert "share_mean_improvement" in out


def test_cli_rejects_a_bad_preset_with_a_message(tmp_path, capsys):
    from commonfactors.cli import main

    assert main(["simulate", "nope", "--out", str(tmp_path / "d.csv")]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err


def test_console_script_is_declared():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert py["scripts"]["commonfactors"] == "commonfactors.cli:main"
    assert sys.version_info >= (3, 10)


def test_licence_is_an_spdx_string_and_version_has_one_home():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert py["project"]["license"] == "BSD-3-Clause"
    assert py["project"]["license-files"] == ["LICENSE"] and (ROOT / "LICENSE").is_file()
    assert "version" in py["project"]["dynamic"] and "version" not in py["project"]
    assert py["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "commonfactors._version.__version__"}
    import commonfactors
    from commonfactors._version import __version__

    assert commonfactors.__version__ == __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_python_dash_m_runs_the_command_line(tmp_path):
    import os
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    res = subprocess.run([sys.executable, "-m", "commonfactors", "--help"], capture_output=True,
                         text=True, cwd=tmp_path, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "report" in res.stdout and "simulate" in res.stdout


def test_the_data_folder_is_the_checkouts_in_a_source_tree(monkeypatch):
    from commonfactors.datasets import data_dir

    monkeypatch.delenv("COMMONFACTORS_DATA", raising=False)
    assert data_dir().resolve() == (ROOT / "data").resolve()


def test_nothing_shipped_points_to_the_developer_briefs():
    shipped = [ROOT / "README.md", *sorted((ROOT / "src").rglob("*.py")),
               *sorted((ROOT / "notebooks").glob("*.ipynb")), *sorted((ROOT / "docs").glob("*.md")),
               *sorted((ROOT / "data").rglob("*.md")), ROOT / "notebooks" / "README.md"]
    pattern = re.compile(r"\b(METHODS|CLAIMS|DESIGN|STYLE)\.md\b|\bMETHODS (section|\d)|"
                         r"\.\./shared|/work/shared")
    hits = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in shipped if p.is_file()
            for m in [pattern.search(p.read_text(encoding="utf-8"))] if m]
    assert not hits, hits
    for page in ("methods", "claims", "datasets", "tutorials"):
        assert (ROOT / "docs" / f"{page}.md").is_file(), page
