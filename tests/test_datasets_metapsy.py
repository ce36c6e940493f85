"""Tests of the Metapsy depression dataset: converter, shipped file, loader and arm view."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.datasets import _metapsy as mp
from commonfactors.errors import CommonFactorsError, DataValidationError

REPO = Path(__file__).resolve().parents[1]
CSV = REPO / "data" / "real" / "metapsy_depression.csv"


def _converter():
    spec = importlib.util.spec_from_file_location("convert_metapsy", REPO / "tools" /
                                                  "convert_metapsy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    shutil.copytree(REPO / "data" / "real", tmp_path / "real")
    (tmp_path / "synthetic").mkdir()
    monkeypatch.setenv("COMMONFACTORS_DATA", str(tmp_path))
    return tmp_path


def test_converter_rebuilds_the_shipped_file_byte_for_byte(tmp_path):
    conv = _converter()
    if not conv.SOURCE.is_file():
        pytest.skip(f"Metapsy source file not available at {conv.SOURCE} (it is not shipped; "
                    "the converter reads it from ../shared/real-data/)")
    out = tmp_path / "metapsy_depression.csv"
    digest = conv.convert(conv.SOURCE, out)
    assert out.read_bytes() == CSV.read_bytes()
    assert digest == _sha256(CSV)
    # the numbers are the source's numbers (decimal comma read as a decimal point)
    src = pd.read_csv(conv.SOURCE, sep=";", decimal=",", encoding="utf-8", na_values=["NA"],
                      keep_default_na=False)
    got = pd.read_csv(CSV)
    for col in ("baseline_m_arm1", "baseline_sd_arm2", "mean_arm1", "sd_arm2", "n_arm1"):
        np.testing.assert_array_equal(got[col].to_numpy(), src[col].to_numpy())
    np.testing.assert_array_equal(got["g"].to_numpy(), src[".g"].to_numpy())
    assert "Lök, 2019" in set(got["study"])  # decoded as UTF-8, not latin-1


def test_sha256_matches_manifest_and_readme():
    man = pd.read_csv(REPO / "data" / "real" / "manifest.csv", dtype=str).set_index("file")
    row = man.loc["metapsy_depression.csv"]
    sha = _sha256(CSV)
    assert row["sha256"] == sha
    assert int(row["rows"]) == 900
    assert row["licence"] == "ODC-By 1.0"
    assert "10.5281/zenodo.7254845" in row["citation"]
    readme = (REPO / "data" / "real" / "README.md").read_text()
    assert sha in readme and "ODC-By" in readme and "ceeabb7" in readme


def test_schema_counts_and_codes():
    df = cf.load_dataset("metapsy_depression")
    assert len(df) == 900 and df["study"].nunique() == 480
    assert df["comparison"].tolist() == list(range(1, 901))
    assert list(df.columns[:4]) == ["comparison", "metapsy_id", "study", "condition_arm1"]
    for c in mp.METAPSY_COLUMNS:
        assert c in df.columns
    assert set(df["arm_type_arm1"]) == {"active", "nonspecific"}
    assert set(df["arm_type_arm2"]) == {"natural_course", "usual_care", "other_control"}
    assert (df["condition_arm1"] == "sup").sum() == 27
    assert df["condition_arm2"].value_counts().to_dict() == {"wl": 397, "cau": 354,
                                                             "other ctr": 149}
    assert set(df["rating"]) == {"self-report", "clinician"}
    assert df["rob"].between(0, 4).all() and df["year"].between(1970, 2024).all()
    assert pd.api.types.is_string_dtype(df["ba"])  # 'sr' and '0'/'1' stay text
    meta = df.attrs["commonfactors"]
    assert meta["view"] == "comparisons" and meta["licence"].startswith("ODC-By 1.0")
    assert "attribution" in meta["licence"]
    assert "zenodo.7254845" in meta["citation"]
    assert "causal arm contrasts across trials" in meta["cannot_estimate"]
    assert "share_mean_improvement (design-based)" in meta["can_estimate"]
    raw = cf.load_dataset("metapsy_depression", view="raw")
    pd.testing.assert_frame_equal(raw, pd.read_csv(CSV, dtype={"ba": str, "metapsy_id": str},
                                                   keep_default_na=False, na_values=[""]),
                                  check_dtype=False)


def test_arm_view_change_and_shared_controls_counted_once():
    comp = cf.load_dataset("metapsy_depression")
    arms = cf.load_dataset("metapsy_depression", view="arms")
    rep = arms.attrs["commonfactors"]["arms"]
    assert rep["n_arm_rows"] == 1800
    assert rep["n_arm_rows"] - rep["n_dropped_arm_rows"] - rep["n_shared_duplicates"] == len(arms)
    assert rep["n_arms"] == len(arms) == 1403
    # change definition, exact arithmetic
    post = arms["change_source"] == "pre_post_means"
    np.testing.assert_allclose(
        arms.loc[post, "change"],
        (arms.loc[post, "pre_mean"] - arms.loc[post, "post_mean"]) / arms.loc[post, "pre_sd"],
        rtol=1e-15,
    )
    np.testing.assert_allclose(arms.loc[~post, "change"],
                               -arms.loc[~post, "mean_change"] / arms.loc[~post, "pre_sd"],
                               rtol=1e-15)
    # one multi-arm trial: Nyström 2017 has two therapy arms against one waitlist (PHQ-9)
    rows = comp[(comp["study"] == "Nyström, 2017") & (comp["instrument"] == "phq-9")]
    assert len(rows) == 2
    ny = arms[(arms["study"] == "Nyström, 2017") & (arms["instrument"] == "phq-9")]
    assert ny["arm_type"].value_counts().to_dict() == {"active": 2, "natural_course": 1}
    wl = ny[ny["arm_type"] == "natural_course"].iloc[0]
    assert wl["n_comparisons"] == 2
    assert wl["comparisons"] == ";".join(str(c) for c in sorted(rows["comparison"]))
    # no arm left duplicated: within study and instrument the numbers identify an arm
    key = ["study", "instrument", "role", "arm", "pre_mean", "pre_sd", "post_mean", "n"]
    assert not arms.duplicated(key).any()
    assert arms["n_comparisons"].sum() == rep["n_arm_rows"] - rep["n_dropped_arm_rows"]
    assert (arms["n"] > 1).all() and (arms["pre_sd"] > 0).all()


def test_outcome_priority_hierarchy():
    order = [("hdrs-17", "clinician"), ("bdi-2", "self-report"), ("bdi-1", "self-report"),
             ("madrs", "clinician"), ("phq-9", "self-report"), ("ces-d", "self-report"),
             ("mmpi-d", "self-report"), ("dass-d", "self-report")]
    ranks = [mp.outcome_priority(i, r) for i, r in order]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)


def test_views_and_errors(data_root):
    with pytest.raises(CommonFactorsError, match="'change' is not available"):
        cf.load_dataset("metapsy_depression", view="change")
    with pytest.raises(CommonFactorsError, match="'arms' is for arm-level"):
        cf.load_dataset("anorexia", view="arms")
    lop = cf.load_dataset("lopez2019", view="arms")
    pd.testing.assert_frame_equal(lop, cf.load_dataset("lopez2019"))
    path = data_root / "real" / "metapsy_depression.csv"
    path.write_bytes(path.read_bytes().replace(b"Aagaard", b"Aagaarx", 1))
    with pytest.raises(DataValidationError, match="sha256 .* differs.*convert_metapsy.py"):
        cf.load_dataset("metapsy_depression")
    path.unlink()
    with pytest.raises(CommonFactorsError, match="not found.*convert_metapsy.py"):
        cf.load_dataset("metapsy_depression")


def test_builder_refuses_unknown_labels_and_missing_columns():
    raw = pd.read_csv(CSV, dtype={"ba": str}, keep_default_na=False, na_values=[""])
    bad = raw.copy()
    bad.loc[0, "condition_arm2"] = "placebo pill"
    with pytest.raises(DataValidationError, match="'condition_arm2' has label"):
        mp.build_metapsy_depression(bad)
    with pytest.raises(DataValidationError, match="'rob'.*convert_metapsy.py"):
        mp.build_metapsy_depression(raw.drop(columns="rob"))
    before = raw.copy()
    mp.build_metapsy_depression(raw)
    pd.testing.assert_frame_equal(raw, before)


def test_arm_builder_leaves_its_input_alone_and_ignores_row_order():
    comp = cf.load_dataset("metapsy_depression")
    before = comp.copy()
    arms, _ = mp.metapsy_arms(comp)
    pd.testing.assert_frame_equal(comp, before)
    shuffled, _ = mp.metapsy_arms(comp.sample(frac=1.0, random_state=5))
    key = ["study", "instrument", "role", "arm", "pre_mean", "pre_sd", "post_mean",
           "mean_change", "n"]
    pd.testing.assert_frame_equal(
        arms.drop(columns="comparisons").sort_values(key).reset_index(drop=True),
        shuffled.drop(columns="comparisons").sort_values(key).reset_index(drop=True),
    )
