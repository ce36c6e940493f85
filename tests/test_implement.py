"""Tests of the IMPLEMENT dataset: converter, shipped bytes, hash check, schema, counts, timing."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.errors import CommonFactorsError, DataValidationError

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "data" / "real" / "implement.csv"
CONVERTER = REPO / "tools" / "convert_implement.py"


def _converter():
    spec = importlib.util.spec_from_file_location("convert_implement", CONVERTER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """A private data folder (COMMONFACTORS_DATA) holding a copy of data/real/."""
    shutil.copytree(REPO / "data" / "real", tmp_path / "real")
    (tmp_path / "synthetic").mkdir()
    monkeypatch.setenv("COMMONFACTORS_DATA", str(tmp_path))
    return tmp_path


# ------------------------------------------------------------------ converter and bytes


def test_converter_reproduces_the_shipped_bytes(tmp_path):
    source = _converter().SOURCE
    if not source.is_file():
        pytest.skip(f"source file {source} absent (the converter reads ../shared/real-data, or "
                    "$COMMONFACTORS_SOURCE_DATA); the shipped file's hash is still checked")
    out = tmp_path / "implement.csv"
    run = subprocess.run([sys.executable, str(CONVERTER), str(source), str(out)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() == SHIPPED.read_bytes()
    assert _sha256(out) in run.stdout


def test_converter_fails_clearly_without_source(tmp_path):
    run = subprocess.run([sys.executable, str(CONVERTER), str(tmp_path / "absent.csv"),
                          str(tmp_path / "out.csv")], capture_output=True, text=True, check=False)
    assert run.returncode != 0
    assert "not found" in run.stderr and "implement_long.csv" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out.csv").exists()


def test_converter_refuses_a_changed_layout(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text('"patient","therapist","occ"\n1,1,1\n')
    run = subprocess.run([sys.executable, str(CONVERTER), str(bad), str(tmp_path / "o.csv")],
                         capture_output=True, text=True, check=False)
    assert run.returncode != 0 and "expecting" in run.stderr and "Traceback" not in run.stderr


def test_converter_means_on_a_tiny_source(tmp_path, monkeypatch):
    """Means of complete item sets only; a partly missing set gives a missing mean."""
    mod = _converter()
    monkeypatch.setattr(mod, "N_PATIENTS", 1)
    monkeypatch.setattr(mod, "N_THERAPISTS", 1)
    monkeypatch.setattr(mod, "N_OCCASIONS", 2)
    src = tmp_path / "src.csv"
    header = ",".join(f'"{c}"' for c in mod.SOURCE_COLUMNS)
    # occasion 1 complete; occasion 2: one BAI parcel and one bond item missing
    row1 = "1,1,1," + ",".join(["1"] * 3 + ["2"] * 3 + ["3", "3", "6"]) + ",0.5,1,1.5"
    row2 = "1,1,2," + ",".join(["1"] * 3 + ["2"] * 3 + ["3", "3", "NA"]) + ",0.5,,1.5"
    src.write_text("\n".join([header, row1, row2]) + "\n")
    out = tmp_path / "o.csv"
    mod.convert(src, out)
    df = pd.read_csv(out)
    # exact arithmetic: (0.5 + 1 + 1.5) / 3 = 1; (1*3 + 2*3 + 3 + 3 + 6) / 9 = 21/9
    assert df.loc[0, "outcome"] == 1.0
    assert df.loc[0, "alliance"] == pytest.approx(21 / 9, abs=1e-10)  # written with 10 decimals
    assert df.loc[0, "bond"] == 4.0 and df.loc[0, "task"] == 1.0
    assert np.isnan(df.loc[1, "outcome"]) and np.isnan(df.loc[1, "alliance"])
    assert np.isnan(df.loc[1, "bond"]) and df.loc[1, "goal"] == 2.0
    assert df["client"].tolist() == ["c01", "c01"] and df["therapist"].tolist() == ["t01", "t01"]


# ------------------------------------------------------------------ hash, manifest, licence


def test_sha256_matches_manifest_and_readme():
    man = pd.read_csv(REPO / "data" / "real" / "manifest.csv", dtype=str).set_index("file")
    row = man.loc["implement.csv"]
    digest = _sha256(SHIPPED)
    assert row["sha256"] == digest
    assert int(row["rows"]) == 855
    assert "MIT" in row["licence"]
    assert "EBioMedicine" in row["citation"] and "2508.12983" in row["citation"]
    readme = (REPO / "data" / "real" / "README.md").read_text(encoding="utf-8")
    assert digest in readme and "a3743f3" in readme
    licence = (REPO / "data" / "real" / "LICENSE-implement.txt").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "PsychometricsMZ" in licence


def test_changed_file_is_refused(data_root):
    path = data_root / "real" / "implement.csv"
    path.write_bytes(path.read_bytes().replace(b"t01,c01,1,", b"t01,c01,1,9", 1))
    with pytest.raises(DataValidationError, match="sha256.*convert_implement.py"):
        cf.load_dataset("implement")


def test_missing_file(data_root):
    (data_root / "real" / "implement.csv").unlink()
    with pytest.raises(CommonFactorsError, match="implement.csv not found.*convert_implement.py"):
        cf.load_dataset("implement")


# ------------------------------------------------------------------ schema, counts, attrs


def test_schema_and_counts():
    df = cf.load_dataset("implement")
    assert list(df.columns[:8]) == ["therapist", "client", "session", "outcome", "alliance",
                                    "task", "goal", "bond"]  # fmt: skip
    assert len(df) == 855
    assert df["client"].nunique() == 57 and df["therapist"].nunique() == 13
    assert sorted(df["session"].unique()) == list(range(1, 16))
    assert df.groupby("client").size().eq(15).all()
    assert df.groupby("client")["therapist"].nunique().eq(1).all()
    per_t = df.groupby("therapist")["client"].nunique()
    assert per_t.min() == 1 and per_t.max() == 7 and per_t.sum() == 57
    assert df["session"].dtype == np.int64
    assert df["outcome"].dtype == np.float64 and df["alliance"].dtype == np.float64
    # observed counts of the source: 780 of 855 rows have all three BAI parcels,
    # 642 all nine WAI items
    assert int(df["outcome"].notna().sum()) == 780
    assert int(df["alliance"].notna().sum()) == 642
    meta = df.attrs["commonfactors"]
    assert meta["n_missing"] == {"outcome": 75, "alliance": 213, "task": 153, "goal": 154,
                                 "bond": 193}  # fmt: skip
    assert meta["n_clients"] == 57 and meta["n_therapists"] == 13 and meta["n_sessions"] == 15


def test_outcome_and_alliance_are_item_means():
    df = cf.load_dataset("implement")
    parcels = df[["bai_parcel1", "bai_parcel2", "bai_parcel3"]]
    items = df.filter(like="wai_")
    full = parcels.notna().all(axis=1)
    # the file holds 10 decimals, so the mean of the written items differs from the written
    # mean by at most 1e-10 (rounding of each) -> tolerance 2e-10
    np.testing.assert_allclose(df.loc[full, "outcome"], parcels[full].mean(axis=1), atol=2e-10)
    assert df.loc[~full, "outcome"].isna().all()
    ok = items.notna().all(axis=1)
    np.testing.assert_allclose(df.loc[ok, "alliance"], items[ok].mean(axis=1), atol=2e-10)
    assert df.loc[~ok, "alliance"].isna().all()
    sub = df.loc[ok, ["task", "goal", "bond"]].mean(axis=1)
    np.testing.assert_allclose(df.loc[ok, "alliance"], sub, atol=3e-10)


def test_attrs_carry_provenance_timing_and_limits():
    df = cf.load_dataset("implement")
    meta = df.attrs["commonfactors"]
    assert meta["kind"] == "real" and meta["name"] == "implement"
    assert meta["sha256"] == _sha256(SHIPPED) and meta["file"] == "implement.csv"
    assert "MIT" in meta["licence"]
    assert "a3743f3" in meta["source"]
    assert "Flückiger" in meta["citation"] and "Faleh" in meta["citation"]
    assert meta["factors"] == {"relationship": ["alliance"], "extra_therapeutic": ["session"]}
    assert "technique" in meta["cannot_estimate"] and "expectancy" in meta["cannot_estimate"]
    assert "centred" in meta["cannot_estimate"]["absolute levels"]
    assert "icc_therapist" in meta["can_estimate"]
    timing = meta["timing"]
    assert "before" in timing["outcome"] and "after" in timing["alliance"]
    assert "t+1" in timing["forward"]
    assert meta["higher_is_better"] is False and meta["outcome_transform"] is None


def test_views_and_independence():
    a = cf.load_dataset("implement")
    a.loc[0, "outcome"] = 99.0
    a.attrs["commonfactors"]["licence"] = "changed"
    b = cf.load_dataset("implement")
    assert b.loc[0, "outcome"] != 99.0 and "MIT" in b.attrs["commonfactors"]["licence"]
    raw = cf.load_dataset("implement", view="raw")
    assert raw.shape == (855, 20) and raw.attrs["commonfactors"]["view"] == "raw"
    chg = cf.load_dataset("implement", view="change")
    assert len(chg) == 57 and "alliance" in chg.columns
    assert chg.attrs["commonfactors"]["view"] == "change"


def test_catalogue_lists_it():
    cat = cf.list_datasets().set_index("name")
    row = cat.loc["implement"]
    assert row["kind"] == "real" and row["n_rows"] == 855
    assert "MIT" in row["licence"] and "EBioMedicine" in row["citation"]
    assert "technique" in row["cannot_estimate"]
    assert row["factors"] == "relationship, extra_therapeutic"


def test_loader_works_without_the_source_folder(data_root, monkeypatch):
    """The shipped file suffices: the loader never reads ../shared."""
    monkeypatch.setenv("COMMONFACTORS_SOURCE_DATA", str(data_root / "nowhere"))
    assert os.environ["COMMONFACTORS_DATA"] == str(data_root)
    assert len(cf.load_dataset("implement")) == 855


def test_builder_refuses_a_changed_layout():
    from commonfactors.datasets._implement import build_implement

    raw = pd.read_csv(SHIPPED)
    with pytest.raises(DataValidationError, match="expecting exactly.*convert_implement.py"):
        build_implement(raw.drop(columns=["bond"]))
    short = raw[raw["session"] < 15]
    with pytest.raises(DataValidationError, match="sessions 1..15 once per client"):
        build_implement(short)
