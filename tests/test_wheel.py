"""The built wheel installs into a fresh virtual environment and works there.

Builds the wheel from a copy of the repository's packaging files (``pip wheel --no-deps``),
creates a virtual environment in a temporary folder (no system site-packages), installs the
wheel with its dependencies from the package index (pip's cache makes repeated runs fast),
and runs ``tests/wheel/smoke.py`` there with a temporary working directory and without the
source tree on ``sys.path``: every bundled dataset loads, a small decomposition runs, and
``commonfactors report`` writes its HTML.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMOKE = Path(__file__).with_name("wheel") / "smoke.py"
PACKAGING = ["pyproject.toml", "setup.py", "README.md", "LICENSE"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "COMMONFACTORS_DATA", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["MPLBACKEND"] = "Agg"
    return env


def _run(cmd, **kw):
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert res.returncode == 0, (
        f"{' '.join(map(str, cmd))} failed ({res.returncode}):\n{res.stdout[-3000:]}\n"
        f"{res.stderr[-3000:]}")
    return res


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_fresh_environment(tmp_path):
    t0 = time.perf_counter()
    src = tmp_path / "src_copy"
    src.mkdir()
    for name in PACKAGING:
        shutil.copy2(ROOT / name, src / name)
    for folder in ("src", "data"):
        shutil.copytree(ROOT / folder, src / folder, ignore=IGNORE)
    env = _clean_env()
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp_path / "dist",
          src], env=env, cwd=tmp_path, timeout=600)
    wheels = list((tmp_path / "dist").glob("commonfactors-*.whl"))
    assert len(wheels) == 1, wheels
    # every file of data/ is in the wheel, as commonfactors/_data/...
    with zipfile.ZipFile(wheels[0]) as zf:
        names = set(zf.namelist())
    wanted = {"commonfactors/_data/" + p.relative_to(src / "data").as_posix()
              for p in (src / "data").rglob("*") if p.is_file()}
    assert wanted - names == set(), sorted(wanted - names)
    assert any(n.startswith("commonfactors/_data/real/") and n.endswith(".csv") for n in names)
    assert "commonfactors/report/__init__.py" in names and "commonfactors/py.typed" in names
    t_build = time.perf_counter() - t0

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    _run([py, "-m", "pip", "install", "--quiet", "--no-compile", wheels[0]], env=env, cwd=tmp_path,
         timeout=1200)
    t_install = time.perf_counter() - t0 - t_build

    work = tmp_path / "work"
    work.mkdir()
    res = _run([py, "-I", SMOKE, ROOT], env=env, cwd=work, timeout=600)
    assert "SMOKE OK" in res.stdout
    n_datasets = res.stdout.count("load_dataset(")
    assert n_datasets >= 8, res.stdout
    print(f"wheel build {t_build:.0f} s, install {t_install:.0f} s, smoke "
          f"{time.perf_counter() - t0 - t_build - t_install:.0f} s; {n_datasets} datasets")
