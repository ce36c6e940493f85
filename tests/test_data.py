"""Tests of the data layer: readers, column mapping, validation, change view, summary."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import commonfactors as cf
from commonfactors.errors import (
    ColumnError,
    CommonFactorsError,
    DataValidationError,
    FactorGroupError,
)
from commonfactors.sessions import change_view, read_sessions, summarize_sessions, validate_sessions

MAP = {"therapist": "TherID", "client": "ClientID", "session": "Week", "outcome": "PHQ9"}


def raw_frame() -> pd.DataFrame:
    """User-named long data: 3 therapists (ids 1, 2, 10 to test numeric sorting), 5 clients."""
    return pd.DataFrame(
        {
            "TherID": [10, 1, 1, 1, 1, 2, 2, 2, 2, 10, 1],
            "ClientID": [50, 11, 11, 12, 12, 21, 21, 21, 22, 50, 11],
            "Week": [0, 0, 4, 0, 4, 0, 1, 2, 0, 3, 8],
            "PHQ9": [18.0, 20.0, 14.0, 15.0, 13.0, 22.0, 19.0, 10.0, 9.0, 12.0, 7.0],
            "alliance": [3.0, 2.0, 4.0, 5.0, 5.5, 3.0, 3.5, 4.0, 6.0, 4.0, 6.0],
            "arm": [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0],
        }
    )


def canon(raw: pd.DataFrame | None = None, **kw) -> pd.DataFrame:
    return read_sessions(raw_frame() if raw is None else raw, columns=MAP, **kw)


# --------------------------------------------------------------------------------------------
# mapping, dtypes, order, metadata
# --------------------------------------------------------------------------------------------


def test_mapping_dtypes_and_sort():
    df = canon()
    assert df.columns.tolist() == ["therapist", "client", "session", "outcome", "alliance", "arm"]
    assert df["session"].dtype == np.int64
    assert df["outcome"].dtype == np.float64
    assert pd.api.types.is_string_dtype(df["therapist"]) and pd.api.types.is_string_dtype(
        df["client"]
    )
    # numeric ids sort numerically (1, 2, 10), then client, then session
    assert df["therapist"].tolist() == ["1"] * 5 + ["2"] * 4 + ["10"] * 2
    assert df["client"].tolist()[:5] == ["11", "11", "11", "12", "12"]
    assert df["session"].tolist()[:3] == [0, 4, 8]
    # values travel with their rows: client 11 at week 8 had PHQ9 7, alliance 6
    row = df[(df["client"] == "11") & (df["session"] == 8)].iloc[0]
    assert (row["outcome"], row["alliance"]) == (7.0, 6.0)
    meta = df.attrs["commonfactors"]
    assert meta["source"] == "DataFrame"
    assert meta["n_rows_read"] == 11 and meta["n_dropped"] == 0 and meta["dropped_by"] == {}
    assert meta["columns"] == MAP
    assert meta["higher_is_better"] is False and meta["outcome_transform"] is None


def test_unmapped_roles_default_to_canonical_names_and_two_level_data():
    raw = (
        raw_frame()
        .drop(columns="TherID")
        .rename(columns={"ClientID": "client", "Week": "session", "PHQ9": "outcome"})
    )
    df = read_sessions(raw)
    assert "therapist" not in df.columns
    assert df.attrs["commonfactors"]["columns"] == {
        "client": "client",
        "session": "session",
        "outcome": "outcome",
    }
    assert len(df) == 11


def test_float_ids_lose_decimal_part():
    raw = raw_frame()
    raw["TherID"] = raw["TherID"].astype(float)
    assert canon(raw)["therapist"].tolist() == canon()["therapist"].tolist()


def test_higher_is_better_flips_sign_and_keeps_raw():
    raw = raw_frame()
    df = canon(raw, higher_is_better=True)
    base = canon(raw)
    np.testing.assert_array_equal(df["outcome_raw"], base["outcome"])
    np.testing.assert_array_equal(df["outcome"], -base["outcome"])
    meta = df.attrs["commonfactors"]
    assert meta["higher_is_better"] is True
    assert meta["outcome_transform"].startswith("outcome = -outcome_raw")
    # improvement keeps the higher = worse meaning: a raw gain (better) is a negative change
    chg = change_view(df, min_sessions=1)
    chg0 = change_view(base, min_sessions=1)
    np.testing.assert_allclose(chg["improvement"], -chg0["improvement"])


def test_input_frame_is_not_modified():
    raw = raw_frame()
    raw["group"] = pd.Categorical(["a", "b"] * 5 + ["a"])
    raw.loc[3, "PHQ9"] = np.nan
    raw.attrs["note"] = "mine"
    before = copy.deepcopy(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        df = canon(raw, higher_is_better=True, factors={"technique": ["group"]})
        change_view(df)
    pd.testing.assert_frame_equal(raw, before)
    assert raw.dtypes.equals(before.dtypes)
    assert raw.attrs == {"note": "mine"}
    assert "commonfactors" not in raw.attrs


# --------------------------------------------------------------------------------------------
# file round trips
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "writer"),
    [
        ("d.csv", lambda d, p: d.to_csv(p, index=False)),
        ("d.tsv", lambda d, p: d.to_csv(p, index=False, sep="\t")),
        ("d.txt", lambda d, p: d.to_csv(p, index=False, sep=";")),
        ("d.parquet", lambda d, p: d.to_parquet(p, index=False)),
        ("d.pq", lambda d, p: d.to_parquet(p, index=False)),
    ],
)
def test_round_trip_text_and_parquet(tmp_path, name, writer):
    path = tmp_path / name
    writer(raw_frame(), path)
    df = read_sessions(path, columns=MAP)
    pd.testing.assert_frame_equal(df, canon(), check_dtype=True)
    assert df.attrs["commonfactors"]["source"] == str(path)


def test_round_trip_spss_labels_become_categories_or_stay_codes(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    raw = raw_frame()
    path = tmp_path / "d.sav"
    pyreadstat.write_sav(
        raw,
        str(path),
        column_labels={"PHQ9": "PHQ-9 total score"},
        variable_value_labels={
            "arm": {0.0: "control", 1.0: "active"},
            # a labelled outcome must stay numeric
            "PHQ9": {7.0: "seven", 22.0: "twenty-two"},
        },
    )
    # value_labels="codes": the numbers as they are, labels in the metadata
    df = read_sessions(path, columns=MAP, value_labels="codes")
    pd.testing.assert_frame_equal(df, canon())
    meta = df.attrs["commonfactors"]
    assert meta["value_labels"]["arm"] == {0: "control", 1: "active"}
    assert meta["value_labels"]["outcome"] == {7: "seven", 22: "twenty-two"}
    assert meta["variable_labels"] == {"outcome": "PHQ-9 total score"}
    assert meta["categories"] == []
    assert df["arm"].dtype == np.float64 and df["outcome"].dtype == np.float64
    # default: a fully labelled column becomes a category (labels in code order); the
    # outcome stays numeric even though some of its values carry labels
    cat = read_sessions(path, columns=MAP)
    assert cat["arm"].dtype == pd.CategoricalDtype(["control", "active"])
    expected = canon()["arm"].map({0.0: "control", 1.0: "active"})
    assert cat["arm"].astype(str).tolist() == expected.tolist()
    assert cat["outcome"].dtype == np.float64
    assert cat.attrs["commonfactors"]["categories"] == ["arm"]


def test_round_trip_stata_keeps_codes_and_value_labels(tmp_path):
    raw = raw_frame()
    raw["arm"] = raw["arm"].astype("int32")
    path = tmp_path / "d.dta"
    raw.to_stata(path, write_index=False, value_labels={"arm": {0: "control", 1: "active"}})
    df = read_sessions(path, columns=MAP, value_labels="codes")
    expected = canon(raw)
    expected["arm"] = expected["arm"].astype(float)
    df["arm"] = df["arm"].astype(float)
    pd.testing.assert_frame_equal(df, expected)
    assert df.attrs["commonfactors"]["value_labels"]["arm"] == {0: "control", 1: "active"}


def test_format_overrides_extension(tmp_path):
    path = tmp_path / "export.dat"
    raw_frame().to_csv(path, index=False)
    df = read_sessions(path, columns=MAP, format="csv")
    pd.testing.assert_frame_equal(df, canon())


def test_unknown_extension_names_supported_ones(tmp_path):
    path = tmp_path / "export.json"
    path.write_text("x")
    with pytest.raises(
        CommonFactorsError, match=r"'\.json'.*supported extensions: \.csv.*\.sav.*\.dta.*\.xlsx"
    ):
        read_sessions(path, columns=MAP)
    with pytest.raises(CommonFactorsError, match=r"`format`: expecting one of .*got 'json'"):
        read_sessions(path, columns=MAP, format="json")
    old = tmp_path / "export.xls"
    old.write_text("x")
    with pytest.raises(CommonFactorsError, match=r"save it as \.xlsx"):
        read_sessions(old, columns=MAP)
    bad = tmp_path / "export.xlsx"
    bad.write_text("x")
    with pytest.raises(CommonFactorsError, match=r"could not read .* as excel .*Excel workbook"):
        read_sessions(bad, columns=MAP)


def test_missing_file_and_bad_input_type(tmp_path):
    with pytest.raises(CommonFactorsError, match=r"not found"):
        read_sessions(tmp_path / "nope.csv")
    with pytest.raises(
        CommonFactorsError, match=r"expecting a pandas DataFrame or a file path.*list"
    ):
        read_sessions([1, 2, 3])


# --------------------------------------------------------------------------------------------
# missing values
# --------------------------------------------------------------------------------------------


def _with_missing() -> pd.DataFrame:
    raw = raw_frame()
    raw.loc[[1, 4], "PHQ9"] = np.nan
    raw.loc[4, "Week"] = np.nan  # row 4 misses two columns: counted once in n_dropped
    raw.loc[7, "Week"] = np.nan
    return raw


def test_missing_drop_counts_and_warns():
    with pytest.warns(UserWarning, match=r"dropped 3 of 11 rows .*session: 2, outcome: 2"):
        df = canon(_with_missing())
    meta = df.attrs["commonfactors"]
    assert meta["n_rows_read"] == 11 and meta["n_dropped"] == 3
    assert meta["dropped_by"] == {"session": 2, "outcome": 2}
    assert len(df) == 8


def test_missing_raise_names_column_and_count():
    raw = raw_frame()
    raw.loc[[1, 4], "PHQ9"] = np.nan
    with pytest.raises(ColumnError, match=r"column 'outcome' \(source column 'PHQ9'\): 2 missing"):
        canon(raw, missing="raise")
    with pytest.raises(CommonFactorsError, match=r"`missing`: expecting one of 'drop', 'raise'"):
        canon(raw, missing="ignore")


def test_missing_therapist_is_dropped():
    raw = raw_frame()
    raw["TherID"] = raw["TherID"].astype(float)
    raw.loc[0, "TherID"] = np.nan
    with pytest.warns(UserWarning, match=r"therapist: 1"):
        df = canon(raw)
    assert df.attrs["commonfactors"]["dropped_by"] == {"therapist": 1}


def test_all_missing_outcome():
    raw = raw_frame()
    raw["PHQ9"] = np.nan
    with pytest.raises(ColumnError, match=r"column 'outcome': every value is missing"):
        canon(raw)


# --------------------------------------------------------------------------------------------
# bad inputs
# --------------------------------------------------------------------------------------------


def test_mapped_column_missing_names_column_and_role():
    cols = dict(MAP, outcome="PHQ-9")
    with pytest.raises(ColumnError, match=r"column 'PHQ-9' \(mapped to role 'outcome'\) not found"):
        read_sessions(raw_frame(), columns=cols)


def test_unmapped_required_role_missing():
    with pytest.raises(ColumnError, match=r"role 'client': no column named 'client'.*columns="):
        read_sessions(raw_frame(), columns={"session": "Week", "outcome": "PHQ9"})


def test_unknown_role_and_conflicting_mapping():
    with pytest.raises(CommonFactorsError, match=r"expecting one of 'therapist'.*got 'patient'"):
        read_sessions(raw_frame(), columns={"patient": "ClientID"})
    raw = raw_frame().assign(outcome=1.0)
    with pytest.raises(
        ColumnError, match=r"role 'outcome' is mapped to 'PHQ9'.*also have a column"
    ):
        read_sessions(raw, columns=MAP)
    with pytest.raises(ColumnError, match=r"'Week' is mapped to several roles"):
        read_sessions(raw_frame(), columns=dict(MAP, outcome="Week"))


def test_non_numeric_outcome_lists_values():
    raw = raw_frame()
    raw["PHQ9"] = raw["PHQ9"].astype(object)
    raw.loc[2, "PHQ9"] = "n/a"
    raw.loc[5, "PHQ9"] = "twelve"
    with pytest.raises(
        ColumnError,
        match=r"column 'outcome'.*2 value\(s\) could not be parsed, first: 'n/a', 'twelve'",
    ):
        canon(raw)


def test_numeric_strings_are_parsed():
    raw = raw_frame()
    raw["PHQ9"] = raw["PHQ9"].astype(str)
    pd.testing.assert_frame_equal(canon(raw), canon())


def test_client_under_two_therapists():
    raw = raw_frame()
    raw.loc[2, "TherID"] = 2  # client 11, week 4, now under therapist 2 as well
    with pytest.raises(DataValidationError, match=r"client '11' under therapists '1', '2'"):
        canon(raw)


def test_duplicated_client_session():
    raw = raw_frame()
    raw.loc[2, "Week"] = 0  # client 11 has week 0 twice
    with pytest.raises(DataValidationError, match=r"duplicated pairs \(client='11', session=0\)"):
        canon(raw)


def test_negative_session():
    raw = raw_frame()
    raw.loc[[2, 6], "Week"] = [-1, -3]
    with pytest.raises(ColumnError, match=r"column 'session'.*negative values -1, -3"):
        canon(raw)


def test_non_integer_session():
    raw = raw_frame()
    raw["Week"] = raw["Week"].astype(float)
    raw.loc[2, "Week"] = 2.5
    with pytest.raises(ColumnError, match=r"column 'session'.*non-integer values 2.5"):
        canon(raw)


def test_non_numeric_session():
    raw = raw_frame()
    raw["Week"] = raw["Week"].astype(object)
    raw.loc[2, "Week"] = "week 4"
    with pytest.raises(
        ColumnError, match=r"column 'session'.*could not be parsed, first: 'week 4'"
    ):
        canon(raw)


def test_column_in_two_factor_groups():
    factors = {"relationship": ["alliance"], "technique": ["arm", "alliance"]}
    with pytest.raises(
        FactorGroupError, match=r"'alliance' is in two groups, 'relationship' and 'technique'"
    ):
        canon(factors=factors)


def test_constant_predictor():
    raw = raw_frame().assign(support=2.0)
    with pytest.raises(
        ColumnError, match=r"column 'support' of group 'extra_therapeutic' is constant"
    ):
        canon(raw, factors={"extra_therapeutic": ["support"]})


def test_factor_column_absent():
    with pytest.raises(ColumnError, match=r"column 'empathy' of group 'relationship' not found"):
        canon(factors={"relationship": ["empathy"]})
    # the source name of a mapped role is pointed to its canonical name
    with pytest.raises(ColumnError, match=r"'Week'.*mapped to role 'session'; use 'session'"):
        canon(factors={"extra_therapeutic": ["Week"]})


def test_text_factors_become_categories_never_numbers():
    raw = raw_frame()
    raw["placebo"] = pd.Categorical(["yes", "no"] * 5 + ["no"], categories=["no", "yes"])
    raw["flag"] = raw["arm"] > 0
    raw["site"] = ["TAU", "CBT ", "IPT"] * 3 + ["TAU", "CBT"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = canon(raw, factors={"expectancy": ["placebo"], "technique": ["flag", "site"]})
    assert df["placebo"].dtype == pd.CategoricalDtype(["no", "yes"])
    assert df["flag"].dtype == bool
    # text: a category with stripped labels, any number of levels, no level turned into 0
    assert df["site"].dtype == pd.CategoricalDtype(["CBT", "IPT", "TAU"])
    assert df.attrs["commonfactors"]["recoded"] == {}
    back = canon(raw.drop(columns=["placebo", "flag", "site"]))
    np.testing.assert_array_equal(df["flag"], back["arm"] > 0)


def test_fewer_than_two_therapists_when_required():
    raw = raw_frame().assign(TherID=1, ClientID=lambda d: d["ClientID"])
    with pytest.raises(DataValidationError, match=r"at least 2 therapists; found 1"):
        canon(raw, require_therapist=True)
    no_ther = raw_frame().drop(columns="TherID")
    with pytest.raises(ColumnError, match=r"role 'therapist'"):
        read_sessions(
            no_ther,
            columns={k: v for k, v in MAP.items() if k != "therapist"},
            require_therapist=True,
        )


# --------------------------------------------------------------------------------------------
# validate_sessions
# --------------------------------------------------------------------------------------------


def test_validate_sessions_accepts_canonical_and_rejects_bad():
    df = canon()
    before = df.copy(deep=True)
    assert (
        validate_sessions(df, factors={"relationship": ["alliance"]}, require_therapist=True)
        is None
    )
    pd.testing.assert_frame_equal(df, before)
    dup = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataValidationError, match=r"duplicated pairs"):
        validate_sessions(dup)
    gap = df.assign(outcome=df["outcome"].where(df.index != 0))
    with pytest.raises(
        ColumnError, match=r"column 'outcome': expecting no missing values; found 1"
    ):
        validate_sessions(gap)
    assert validate_sessions(gap, allow_missing_outcome=True) is None
    with pytest.raises(ColumnError, match=r"'alliance' of group 'relationship' is constant"):
        validate_sessions(df.assign(alliance=1.0), factors={"relationship": ["alliance"]})
    with pytest.raises(ColumnError, match=r"column 'session'.*non-integer"):
        validate_sessions(df.assign(session=df["session"] + 0.5))
    with pytest.raises(ColumnError, match=r"column\(s\) 'outcome' not found"):
        validate_sessions(df.drop(columns="outcome"))


def test_public_names_resolve():
    assert cf.read_sessions is read_sessions
    assert cf.change_view is change_view
    assert cf.validate_sessions is validate_sessions


# --------------------------------------------------------------------------------------------
# change view
# --------------------------------------------------------------------------------------------


def tiny_long() -> pd.DataFrame:
    """Hand-made: client a complete, b drops out after session 1, c has one session only,
    d misses its intake (first observed at session 1)."""
    return pd.DataFrame(
        {
            "therapist": ["t1"] * 3 + ["t1"] * 2 + ["t2"] + ["t2"] * 3,
            "client": ["a", "a", "a", "b", "b", "c", "d", "d", "d"],
            "session": [0, 1, 2, 0, 1, 0, 0, 1, 2],
            "outcome": [20.0, 16.0, 10.0, 18.0, 17.0, 12.0, np.nan, 14.0, 8.0],
            "alliance": [3.0, 4.0, 5.0, 2.0, np.nan, 6.0, 1.0, 2.0, 4.0],
        }
    )


def test_change_view_numbers_with_dropout():
    with pytest.warns(UserWarning, match=r"dropped 1 of 4 clients with fewer than 2 observed"):
        chg = change_view(tiny_long())
    assert chg.columns.tolist() == [
        "therapist",
        "client",
        "pre",
        "post",
        "improvement",
        "n_sessions",
        "first_session",
        "last_session",
        "window",
        "alliance",
    ]
    assert chg["client"].tolist() == ["a", "b", "d"]
    np.testing.assert_array_equal(chg["pre"], [20.0, 18.0, 14.0])
    np.testing.assert_array_equal(chg["post"], [10.0, 17.0, 8.0])
    np.testing.assert_array_equal(chg["improvement"], [10.0, 1.0, 6.0])
    assert chg["n_sessions"].tolist() == [3, 2, 2]
    assert chg["first_session"].tolist() == [0, 0, 1]
    assert chg["last_session"].tolist() == [2, 1, 2]
    assert chg["window"].tolist() == [2, 1, 1]
    # means over observed sessions, missing predictor values skipped:
    # a: (3+4+5)/3; b: 2 (session 1's alliance is missing); d: (2+4)/2 (intake outcome missing)
    np.testing.assert_allclose(chg["alliance"], [4.0, 2.0, 3.0])
    meta = chg.attrs["commonfactors"]
    assert meta["n_clients"] == 4 and meta["n_clients_dropped"] == 1
    assert meta["predictors"] == ["alliance"] and meta["min_sessions"] == 2


def test_change_view_min_sessions_and_predictors():
    chg = change_view(tiny_long(), min_sessions=1, predictors=[])
    assert chg["client"].tolist() == ["a", "b", "c", "d"]
    assert chg.loc[2, "improvement"] == 0.0 and "alliance" not in chg.columns
    with pytest.warns(UserWarning, match=r"dropped 3 of 4"):
        assert change_view(tiny_long(), min_sessions=3)["client"].tolist() == ["a"]
    with pytest.raises(
        CommonFactorsError, match=r"`min_sessions`: expecting an integer >= 1; got 0"
    ):
        change_view(tiny_long(), min_sessions=0)
    with pytest.raises(ColumnError, match=r"`predictors`: column 'note' is not numeric"):
        change_view(tiny_long().assign(note="x"), predictors=["note"])


def test_change_view_two_level_and_input_unchanged():
    long = tiny_long().drop(columns="therapist")
    before = long.copy(deep=True)
    with pytest.warns(UserWarning):
        chg = change_view(long)
    assert chg.columns[0] == "client"
    pd.testing.assert_frame_equal(long, before)


def test_change_view_carries_read_report():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        chg = change_view(canon(_with_missing()))
    assert chg.attrs["commonfactors"]["sessions"]["n_dropped"] == 3


# --------------------------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------------------------


def test_summarize_sessions():
    s = summarize_sessions(tiny_long())
    assert s["n_therapists"] == 2 and s["n_clients"] == 4 and s["n_sessions"] == 3
    assert s["n_rows"] == 9 and s["n_observed"] == 8
    assert s["clients_per_therapist"] == {"min": 2, "median": 2.0, "max": 2}
    # observed sessions per client: a 3, b 2, c 1, d 2
    assert s["sessions_per_client"] == {"min": 1, "median": 2.0, "max": 3}
    assert s["missing"] == {"therapist": 0, "client": 0, "session": 0, "outcome": 1, "alliance": 1}
    assert s["session_min"] == 0 and s["session_max"] == 2
    assert (
        summarize_sessions(tiny_long().drop(columns="therapist"))["clients_per_therapist"] is None
    )


# --------------------------------------------------------------------------------------------
# property: row order of the input does not matter
# --------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 4), min_size=2, max_size=6),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_permuting_rows_gives_the_same_frame(sizes, seed, data):
    rng = np.random.default_rng(seed)
    rows = []
    for j, n_s in enumerate(sizes):
        for s in range(n_s):
            rows.append((j % 3 + 1, 100 + j, s, float(rng.normal()), float(rng.integers(0, 2))))
    raw = pd.DataFrame(rows, columns=["TherID", "ClientID", "Week", "PHQ9", "arm"])
    perm = data.draw(st.permutations(range(len(raw))))
    shuffled = raw.iloc[list(perm)].reset_index(drop=True)
    a = read_sessions(raw, columns=MAP)
    b = read_sessions(shuffled, columns=MAP)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs == b.attrs
