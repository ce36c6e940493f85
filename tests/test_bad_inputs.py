"""Bad and messy input on the reading, checking and command-line side: no number silently wrong,
every error one clear message (type, and the column or parameter it names), the caller's frame
never modified. The modelling side's cases are in test_bad_inputs_model.py."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors import cli
from commonfactors.errors import (
    ArgumentError,
    ColumnError,
    CommonFactorsError,
    DataValidationError,
    FactorGroupError,
)

ROOT = Path(__file__).resolve().parents[1]
CLINIC = ROOT / "data" / "clinic"
CLINIC_COLS = {"therapist": "TherapistID", "client": "ClientID", "session": "VisitDate",
               "outcome": "PHQ9"}


def long_frame() -> pd.DataFrame:
    """4 therapists x 3 clients x 3 sessions, no problem at all."""
    rows = []
    rng = np.random.default_rng(11)
    for t in range(4):
        for c in range(3):
            for s in range(3):
                rows.append({"therapist": f"t{t}", "client": f"t{t}c{c}", "session": s,
                             "outcome": round(20.0 - 3 * s + t + c + rng.normal(0, 2), 2), "alliance": 3.0 + 0.5 * s + 0.1 * c,
                             "arm": ["CBT", "TAU"][(t + c) % 2]})
    return pd.DataFrame(rows)


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def checks_of(df, **kw) -> pd.DataFrame:
    return cf.check_sessions(df, **kw)


# --------------------------------------------------------------------------------------------
# reading: dates, value labels, sentinels, ranges, encodings, delimiters, Excel
# --------------------------------------------------------------------------------------------


def test_dates_as_sessions_give_visit_order_or_weeks_never_nanoseconds():
    # before: a datetime session column became nanoseconds since 1970 without a word
    raw = pd.DataFrame({
        "client": ["a"] * 3 + ["b"] * 2,
        "session": pd.to_datetime(["2024-01-03", "2024-01-10", "2024-01-31",
                                   "2024-02-01", "2024-02-15"]),
        "outcome": [20.0, 15.0, 10.0, 18.0, 12.0]})
    before = raw.copy(deep=True)
    df = cf.read_sessions(raw)
    assert df["session"].tolist() == [0, 1, 2, 0, 1]
    assert df["session_date"].tolist() == raw["session"].tolist()
    assert df.attrs["commonfactors"]["session_dates"]["rule"] == "index"
    weeks = cf.read_sessions(raw, session_dates="weeks")
    assert weeks["session"].tolist() == [0, 1, 4, 0, 2]
    assert weeks.attrs["commonfactors"]["session_dates"]["rule"] == "weeks"
    # date text (a CSV) is read the same way
    text = raw.assign(session=raw["session"].dt.strftime("%Y-%m-%d"))
    assert cf.read_sessions(text)["session"].tolist() == [0, 1, 2, 0, 1]
    pd.testing.assert_frame_equal(raw, before)
    # a frame with dates that did not come through read_sessions is an error, not numbers
    p = checks_of(raw)
    row = p[p["check"] == "session_not_index"].iloc[0]
    assert row["severity"] == "error" and row["column"] == "session" and "dates" in row["message"]
    with pytest.raises(ColumnError, match=r"column 'session'.*dates.*read_sessions"):
        cf.raise_on_errors(p)


def test_same_day_visits_share_an_index_and_show_as_duplicates():
    raw = pd.DataFrame({"client": ["a", "a", "a"], "session": ["2024-01-03", "2024-01-03",
                                                                 "2024-01-10"],
                        "outcome": [20.0, 19.0, 15.0]})
    with pytest.raises(DataValidationError, match=r"duplicated pairs.*problems='warn'"):
        cf.read_sessions(raw)
    df = quiet(cf.read_sessions, raw, problems="warn")
    assert checks_of(df)["check"].tolist()[0] == "conflicting_duplicate"


def test_string_arm_is_a_category_not_alphabetical_codes():
    # before: read_sessions recoded CBT/TAU to 0/1, making CBT (first alphabetically) "absent"
    raw = long_frame()
    df = cf.read_sessions(raw, factors={"technique": ["arm"], "relationship": ["alliance"]})
    assert isinstance(df["arm"].dtype, pd.CategoricalDtype)
    assert sorted(df["arm"].cat.categories) == ["CBT", "TAU"]
    assert df.attrs["commonfactors"]["recoded"] == {}


def test_spss_value_labels_become_categories_and_user_missing_is_honoured():
    pytest.importorskip("pyreadstat")
    df = quiet(cf.read_sessions, CLINIC / "clinic_export.sav", columns=CLINIC_COLS,
               problems="warn")
    # before: arm codes 1/2/3 entered as a linear predictor
    assert df["arm"].dtype == pd.CategoricalDtype(["CBT", "IPT", "TAU"])
    meta = df.attrs["commonfactors"]
    assert meta["categories"] == ["arm"]
    # -99 (WAI) and 999 (CEQ) are SPSS user-missing: set missing and counted
    assert meta["user_missing"]["WAI"] > 0 and meta["user_missing"]["CEQ"] > 0
    assert df["WAI"].min() >= 1 and df["CEQ"].max() <= 10
    codes = quiet(cf.read_sessions, CLINIC / "clinic_export.sav", columns=CLINIC_COLS,
                  problems="warn", value_labels="codes")
    assert codes["arm"].dtype == np.float64
    assert set(codes["arm"].unique()) == {1.0, 2.0, 3.0}
    assert codes.attrs["commonfactors"]["value_labels"]["arm"] == {1: "CBT", 2: "IPT", 3: "TAU"}
    with pytest.raises(ColumnError, match=r"`value_labels`: column 'WAI' has no value labels"):
        quiet(cf.read_sessions, CLINIC / "clinic_export.sav", columns=CLINIC_COLS,
              problems="warn", value_labels=["WAI"])


def test_sentinels_in_csv_are_flagged_and_na_values_removes_them(tmp_path):
    # before: -99 and 999 passed as real WAI/CEQ scores
    raw = long_frame()
    raw.loc[[1, 5], "alliance"] = -99
    raw.loc[7, "alliance"] = 999
    path = tmp_path / "export.csv"
    raw.to_csv(path, index=False)
    with pytest.warns(UserWarning, match=r"1 problem\(s\) need a decision \(sentinel in 'alliance'\)"):
        df = cf.read_sessions(path)
    assert df.attrs["commonfactors"]["problems"] == 1
    p = checks_of(df)
    row = p[p["check"] == "sentinel"].iloc[0]
    assert (row["severity"], row["column"], row["n"]) == ("error", "alliance", 3)
    assert "na_values" in row["advice"]
    with pytest.raises(ColumnError, match=r"column 'alliance'.*missing-value codes"):
        cf.raise_on_errors(p, where="decompose")
    clean = cf.read_sessions(path, na_values=[-99, 999])
    assert clean["alliance"].isna().sum() == 3
    assert clean.attrs["commonfactors"]["na_values"] == {"alliance": 3}
    assert "sentinel" not in checks_of(clean)["check"].tolist()
    per_col = cf.read_sessions(path, na_values={"alliance": [-99]})
    assert per_col["alliance"].isna().sum() == 2
    with pytest.raises(ArgumentError, match=r"`na_values`: expecting a list"):
        cf.read_sessions(path, na_values=object())
    with pytest.raises(ColumnError, match=r"`na_values`: column 'WAI' not found"):
        cf.read_sessions(path, na_values={"WAI": [-99]})


def test_sentinel_heuristic_spares_real_values_near_the_range():
    raw = long_frame()
    raw["score100"] = np.linspace(5, 95, len(raw))
    raw.loc[3, "score100"] = 99  # a real value on a 0-100 scale
    assert "sentinel" not in checks_of(raw)["check"].tolist()


def test_declared_ranges_set_missing_or_raise():
    raw = long_frame()
    raw.loc[2, "alliance"] = 70.0  # a typing error on a 1-7 scale
    with pytest.warns(UserWarning, match=r"'alliance': 1 value\(s\) outside .* 1 to 7 set missing"):
        df = cf.read_sessions(raw, ranges={"alliance": (1, 7)})
    assert np.isnan(df.loc[2, "alliance"])
    assert df.attrs["commonfactors"]["out_of_range"] == {"alliance": {"n": 1, "values": [70]}}
    with pytest.raises(ColumnError, match=r"column 'alliance': 1 value\(s\) outside"):
        cf.read_sessions(raw, ranges={"alliance": (1, 7)}, out_of_range="raise")
    p = checks_of(raw, ranges={"alliance": (1, 7)})
    assert p.loc[p["check"] == "out_of_range", "rows"].iloc[0] == (2,)
    with pytest.raises(ArgumentError, match=r"`ranges`: the range of column 'alliance'"):
        cf.read_sessions(raw, ranges={"alliance": (7, 1)})
    with pytest.raises(CommonFactorsError, match=r"`out_of_range`"):
        cf.read_sessions(raw, ranges={"alliance": (1, 7)}, out_of_range="drop")


def test_latin1_and_semicolon_csv_are_detected_or_explained(tmp_path):
    raw = long_frame().assign(site="Zürich")
    path = tmp_path / "latin.csv"
    path.write_bytes(raw.to_csv(index=False, sep=";").encode("latin-1"))
    df = cf.read_sessions(path)
    assert df["site"].iloc[0] == "Zürich"
    meta = df.attrs["commonfactors"]
    assert (meta["encoding"], meta["sep"]) == ("cp1252", ";")
    # before: "pass the right format=" and one column named "therapist;client;..."
    with pytest.raises(CommonFactorsError, match=r"`encoding`: the file is not valid utf-8.*latin-1"):
        cf.read_sessions(path, encoding="utf-8")
    with pytest.raises(CommonFactorsError, match=r"`sep`: the file was read as one column.*sep=';'"):
        cf.read_sessions(path, sep=",")
    with pytest.raises(CommonFactorsError, match=r"`encoding`: unknown encoding"):
        cf.read_sessions(path, encoding="klingon")
    assert cf.read_sessions(path, sep=";", encoding="latin-1")["site"].iloc[0] == "Zürich"


def test_excel_files_are_read_and_old_formats_explained(tmp_path):
    pytest.importorskip("openpyxl")
    raw = long_frame()
    path = tmp_path / "export.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        pd.DataFrame({"note": ["cover sheet"]}).to_excel(xl, sheet_name="about", index=False)
        raw.to_excel(xl, sheet_name="sessions", index=False)
    df = cf.read_sessions(path, sheet="sessions")
    assert len(df) == len(raw) and df.attrs["commonfactors"]["source"] == str(path)
    with pytest.raises(CommonFactorsError, match=r"`sheet`: no sheet 'nope'.*'about', 'sessions'"):
        cf.read_sessions(path, sheet="nope")
    with pytest.raises(CommonFactorsError, match=r"`sheet`: only for Excel"):
        cf.read_sessions(CLINIC / "clinic_export.csv", sheet=1)
    old = tmp_path / "export.xls"
    old.write_bytes(b"\xd0\xcf")
    with pytest.raises(CommonFactorsError, match=r"save it as \.xlsx"):
        cf.read_sessions(old)


def test_clinic_csv_and_sav_give_the_same_sessions():
    pytest.importorskip("pyreadstat")
    kw = dict(columns=CLINIC_COLS, problems="warn", ranges={"PHQ9": (0, 27)})
    sav = quiet(cf.read_sessions, CLINIC / "clinic_export.sav", **kw)
    csv = quiet(cf.read_sessions, CLINIC / "clinic_export.csv", na_values={"WAI": [-99],
                                                                          "CEQ": [999]}, **kw)
    for c in ("therapist", "client", "session", "outcome", "WAI", "CEQ", "support"):
        np.testing.assert_array_equal(sav[c].to_numpy(), csv[c].to_numpy())
    assert sav["arm"].astype(str).tolist() == csv["arm"].astype(str).tolist()


# --------------------------------------------------------------------------------------------
# scoring and reshaping
# --------------------------------------------------------------------------------------------


def test_score_items_prorates_and_reverses_as_stated():
    d = pd.DataFrame({"i1": [1, 2, np.nan, 7], "i2": [7, 6, np.nan, 1], "i3": [1, np.nan,
                                                                            np.nan, 7],
                      "i4": [1, 2, 3, 7]})
    before = d.copy()
    out = cf.score_items(d, ["i1", "i2", "i3", "i4"], name="wai", method="sum",
                         min_valid=0.75, reverse=["i2"], scale=(1, 7))
    # row 0: 1 + (8-7) + 1 + 1 = 4; row 1: mean(2, 2, 2) * 4 = 8; row 2: 1 of 4 items < 75%
    np.testing.assert_allclose(out["wai"].to_numpy(), [4.0, 8.0, np.nan, 28.0])
    info = out.attrs["commonfactors"]["scores"]["wai"]
    assert info["n_prorated"] == 1 and info["n_missing_too_few_items"] == 1
    assert "75%" in info["rule"]
    pd.testing.assert_frame_equal(d, before)
    with pytest.raises(ColumnError, match=r"`items`: column 'i1' has values outside the scale"):
        cf.score_items(d.assign(i1=[1, 2, -99, 7]), ["i1", "i2"], name="s", scale=(1, 7))
    with pytest.raises(ArgumentError, match=r"`scale`: reverse-keyed items need"):
        cf.score_items(d, ["i1", "i2"], name="s", reverse=["i2"])
    with pytest.raises(ArgumentError, match=r"`min_valid`"):
        cf.score_items(d, ["i1", "i2"], name="s", min_valid=5)
    with pytest.raises(ColumnError, match=r"`items`: column\(s\) 'i9' not found"):
        cf.score_items(d, ["i1", "i9"], name="s")


def test_wide_to_long_one_row_per_client():
    w = pd.DataFrame({"id": ["a", "b"], "therapist": ["t1", "t2"], "arm": ["CBT", "TAU"],
                      "phq_pre": [20, 18], "phq_post": [10, np.nan], "wai_post": [5.5, 4.0]})
    before = w.copy()
    long = cf.wide_to_long(w, measures={"outcome": "phq", "alliance": "wai"}, client="id",
                           sessions={"pre": 0, "post": 12})
    assert long[["id", "session"]].values.tolist() == [["a", 0], ["a", 12], ["b", 0], ["b", 12]]
    assert long["therapist"].tolist() == ["t1", "t1", "t2", "t2"]
    pd.testing.assert_frame_equal(w, before)
    with pytest.raises(ColumnError, match=r"suffix 'pre', not a session number"):
        cf.wide_to_long(w, measures={"outcome": "phq"}, client="id")
    with pytest.raises(ColumnError, match=r"column 'id': expecting one row per client"):
        cf.wide_to_long(pd.concat([w, w]), measures={"outcome": "phq"}, client="id",
                        sessions={"pre": 0, "post": 12})


# --------------------------------------------------------------------------------------------
# checking: every problem at once, advice that fits, cleaning only the unambiguous
# --------------------------------------------------------------------------------------------


def messy() -> pd.DataFrame:
    d = long_frame()
    d = pd.concat([d, d.iloc[[4]]], ignore_index=True)             # exact duplicate (row 36)
    extra = d.iloc[[7]].assign(outcome=99.5)                         # conflicting duplicate
    d = pd.concat([d, extra], ignore_index=True)                     # row 37
    d.loc[d["client"] == "t1c0", "therapist"] = ["t1", "t1", "t2"]   # one row under t2
    d.loc[d["client"] == "t3c2", "outcome"] = [np.nan, 12.0, 10.0]   # no intake outcome
    d = pd.concat([d, pd.DataFrame([{"therapist": "t3", "client": "solo", "session": 0,
                                     "outcome": 14.0, "alliance": 4.0, "arm": "TAU"}])],
                  ignore_index=True)                                  # one-session client
    d.loc[10, "alliance"] = np.inf
    d["empty"] = np.nan
    return d


def test_check_sessions_lists_every_problem_at_once():
    d = messy()
    before = d.copy(deep=True)
    p = checks_of(d, columns=["alliance", "arm", "empty"])
    pd.testing.assert_frame_equal(d, before)
    assert list(p.columns) == ["check", "severity", "column", "n", "rows", "message", "advice"]
    by = {c: g.iloc[0] for c, g in p.groupby("check")}
    assert set(by) >= {"exact_duplicate", "conflicting_duplicate", "several_therapists",
                       "missing_outcome_at_intake", "one_session_client", "infinite",
                       "column_all_missing"}
    # severities sorted errors first
    order = p["severity"].map({"error": 0, "warning": 1, "info": 2}).tolist()
    assert order == sorted(order)
    assert by["exact_duplicate"]["rows"] == (4, 36)
    assert "clean_sessions" in by["exact_duplicate"]["advice"]
    assert by["conflicting_duplicate"]["rows"] == (7, 37)
    assert "Averaging them hides a data-entry error" in by["conflicting_duplicate"]["advice"]
    st = by["several_therapists"]
    assert "'t1' (rows 9, 10)" in st["message"] and "'t2' (rows 11)" in st["message"]
    # the advice fits a data-entry error: correct the row, not rename ids
    assert "correct their therapist" in st["advice"] and "'t2', 1 row(s)" in st["advice"]
    assert by["infinite"]["column"] == "alliance" and by["infinite"]["rows"] == (10,)
    assert by["column_all_missing"]["severity"] == "error"
    assert by["one_session_client"]["severity"] == "warning"
    # duplicates and nesting are structure problems: DataValidationError, one line
    with pytest.raises(DataValidationError) as err:
        cf.raise_on_errors(p, where="decompose")
    msg = str(err.value)
    assert msg.startswith("decompose: ") and "(1)" in msg and "'empty'" in msg
    assert len(msg.splitlines()) == 1


@pytest.mark.parametrize(
    ("outcome", "check", "needle"),
    [
        (["n/a", 3.0, 2.0] * 12, "outcome_not_numeric", "'n/a'"),
        ([True, False, True] * 12, "outcome_not_numeric", "True/False"),
        ([5.0] * 36, "outcome_constant", "is 5"),
        ([np.nan] * 36, "outcome_all_missing", "every value"),
        ([1.0, np.inf, 2.0] * 12, "infinite", "infinite"),
    ],
)
def test_outcome_problems_are_named(outcome, check, needle):
    d = long_frame().assign(outcome=outcome)
    p = checks_of(d)
    row = p[p["check"] == check].iloc[0]
    assert row["severity"] == "error" and row["column"] == "outcome" and needle in row["message"]


def test_ids_that_differ_only_by_type_are_reported():
    d = long_frame()
    d["client"] = d["client"].astype(object)
    d.loc[0:2, "client"] = 7
    d.loc[3:5, "client"] = "7"
    p = checks_of(d)
    row = p[p["check"] == "id_type_mix"].iloc[0]
    assert row["column"] == "client" and "'7'" in row["message"] and row["n"] == 6


def test_text_among_numbers_and_missing_columns():
    d = long_frame().astype({"alliance": object})
    d.loc[4, "alliance"] = "missing"
    p = checks_of(d)
    assert p.loc[p["check"] == "text_in_numbers", "column"].tolist() == ["alliance"]
    p = checks_of(long_frame(), therapist="TherID", columns=["WAI"])
    assert sorted(p.loc[p["check"] == "missing_column", "column"]) == ["TherID", "WAI"]


def test_clean_sessions_fixes_only_exact_duplicates_and_says_so():
    d = messy()
    before = d.copy(deep=True)
    with pytest.warns(UserWarning, match=r"removed exact duplicate rows .*: 1 \(rows 36\).*need "
                                         r"your decision"):
        out = cf.clean_sessions(d)
    pd.testing.assert_frame_equal(d, before)
    assert len(out) == len(d) - 1 and 36 not in out.index
    info = out.attrs["commonfactors"]
    assert info["cleaning"] == [{"action": "removed exact duplicate rows (first of each kept)",
                                 "n": 1, "rows": [36]}]
    left = set(checks_of(out)["check"])
    assert {"conflicting_duplicate", "several_therapists"} <= left
    assert "exact_duplicate" not in left
    # a stated decision for the client under two therapists
    maj = quiet(cf.clean_sessions, d, several_therapists="majority")
    assert set(maj.loc[maj["client"] == "t1c0", "therapist"]) == {"t1"}
    assert "several_therapists" not in set(checks_of(maj)["check"])
    drop = quiet(cf.clean_sessions, d, several_therapists="drop")
    assert "t1c0" not in set(drop["client"])
    with pytest.raises(ArgumentError, match=r"`several_therapists`"):
        cf.clean_sessions(d, several_therapists="first")


def test_clean_data_have_no_errors():
    p = checks_of(long_frame())
    assert (p["severity"] != "error").all()
    assert cf.raise_on_errors(p) is None


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def _run_cli(argv, capsys):
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.fixture
def small_csv(tmp_path):
    path = tmp_path / "sessions.csv"
    long_frame().rename(columns={"therapist": "TherID"}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: ["--factors", str(d / "absent.json")], r"--factors: file .*absent.json' not found"),
        (lambda d: ["--factors", str(_write(d / "bad.json", "{bad"))], r"--factors: .* is not valid JSON"),
        (lambda d: ["--factors", str(_write(d / "num.json", '{"technique": 3}'))],
         r"`factors`: group 'technique' must list column names"),
        (lambda d: ["--factors", str(_write(d / "list.json", "[1, 2]"))], r"must hold a mapping"),
        (lambda d: ["--config", str(_write(d / "c.yaml", "columns: [1\n"))], r"--config: .* is not valid YAML"),
        (lambda d: ["--config", str(_write(d / "c.toml", "view = \n"))], r"--config: .* is not valid TOML"),
        (lambda d: ["--config", str(_write(d / "c.json", '{"colour": 1}'))], r"--config: unknown key\(s\) 'colour'"),
        (lambda d: ["--columns", "therapist"], r"--columns: expecting role=column"),
        (lambda d: ["--columns", "doctor=TherID"], r"--columns: unknown role 'doctor'"),
        (lambda d: ["--view", "both"], r"argument --view: invalid choice"),
        (lambda d: ["--out", "/proc/forbidden/report"], r"--out: cannot write to folder"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(make, needle, small_csv, tmp_path, capsys):
    code, err = _run_cli(["report", str(small_csv), "--columns", "therapist=TherID",
                          *make(tmp_path)], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("commonfactors: error: ")
    assert pytest.importorskip("re").search(needle, err), err


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_cli_missing_data_file_and_debug_traceback(tmp_path, capsys):
    code, err = _run_cli(["report", str(tmp_path / "nope.csv")], capsys)
    assert code == 2 and "data: file" in err and "not found" in err
    with pytest.raises(cli.UsageError):
        cli.main(["report", str(tmp_path / "nope.csv"), "--debug"])


def test_cli_config_file_runs_a_report_with_own_column_names(small_csv, tmp_path, capsys):
    cfg = {"columns": {"therapist": "TherID", "outcome": "PHQ"},
           "factors": {"relationship": ["alliance"], "technique": ["cbt"]},
           "references": {"technique": {"cbt": 0}}, "view": "change", "n_boot": 0,
           "na_values": [-99]}
    data = long_frame().rename(columns={"therapist": "TherID", "outcome": "PHQ"})
    data["cbt"] = (data["arm"] == "CBT").astype(int)
    data.loc[4, "alliance"] = -99
    small_csv = tmp_path / "own.csv"
    data.drop(columns="arm").to_csv(small_csv, index=False)
    path = _write(tmp_path / "settings.json", json.dumps(cfg))
    out = tmp_path / "rep"
    code = cli.main(["report", str(small_csv), "--config", str(path), "--out", str(out),
                     "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    html = (out / "commonfactors_report.html").read_text()
    assert "cbt" in html and "alliance" in html


# --------------------------------------------------------------------------------------------
# sweep: nothing but commonfactors errors escapes the public reading/checking API
# --------------------------------------------------------------------------------------------


def _sweep_cases():
    d = long_frame()
    yield "read_sessions(list)", lambda: cf.read_sessions([1, 2, 3])
    yield "read_sessions(dates+text)", lambda: cf.read_sessions(d.assign(session=["x", "2024-01-01", "3"] * 12))
    yield "read_sessions(outcome n/a)", lambda: cf.read_sessions(d.assign(outcome=["n/a", 1.0, 2.0] * 12))
    yield "read_sessions(outcome bool)", lambda: cf.read_sessions(d.assign(outcome=[True, False, True] * 12))
    yield "read_sessions(outcome inf)", lambda: cf.read_sessions(d.assign(outcome=[np.inf, 1.0, 2.0] * 12))
    yield "read_sessions(factor all NaN)", lambda: cf.read_sessions(d.assign(x=np.nan), factors={"g": ["x"]})
    yield "read_sessions(factors=3)", lambda: cf.read_sessions(d, factors={"g": 3})
    yield "read_sessions(ranges text)", lambda: cf.read_sessions(d, ranges={"arm": (0, 1)})
    yield "read_sessions(ranges bad)", lambda: cf.read_sessions(d, ranges={"alliance": "1-7"})
    yield "read_sessions(na_values dict bad)", lambda: cf.read_sessions(d, na_values={"alliance": [None]})
    yield "read_sessions(value_labels=3)", lambda: cf.read_sessions(d, value_labels=3)
    yield "read_sessions(session_dates)", lambda: cf.read_sessions(d, session_dates="days")
    yield "read_sessions(encoding on frame)", lambda: cf.read_sessions(d, encoding="latin-1")
    yield "read_sessions(problems)", lambda: cf.read_sessions(d, problems="ignore")
    yield "read_sessions(empty)", lambda: cf.read_sessions(d.iloc[0:0])
    yield "read_sessions(negative session)", lambda: cf.read_sessions(d.assign(session=-d["session"] - 1))
    yield "read_sessions(duplicated columns)", lambda: cf.read_sessions(pd.concat([d, d[["alliance"]]], axis=1))
    yield "check_sessions(list)", lambda: cf.check_sessions([1])
    yield "check_sessions(client=3)", lambda: cf.check_sessions(d, client=3)
    yield "check_sessions(ranges bad)", lambda: cf.check_sessions(d, ranges={"alliance": (1,)})
    yield "check_sessions(sentinels text)", lambda: cf.check_sessions(d, sentinels="-99")
    yield "raise_on_errors(list)", lambda: cf.raise_on_errors([])
    yield "clean_sessions(None)", lambda: cf.clean_sessions(None)
    yield "score_items(text)", lambda: cf.score_items(d, ["arm"], name="s")
    yield "score_items(name exists)", lambda: cf.score_items(d, ["alliance"], name="arm")
    yield "score_items(method)", lambda: cf.score_items(d, ["alliance"], name="s", method="median")
    yield "wide_to_long(measures list)", lambda: cf.wide_to_long(d, measures=["phq"])
    yield "wide_to_long(no columns)", lambda: cf.wide_to_long(d.drop_duplicates("client"), measures={"outcome": "phq"})
    yield "change_view(predictors text)", lambda: cf.change_view(d, predictors=["arm"])
    yield "validate_sessions(text outcome)", lambda: cf.validate_sessions(d.assign(outcome="x"))


SWEEP = list(_sweep_cases())


@pytest.mark.parametrize("call", [c for _, c in SWEEP], ids=[n for n, _ in SWEEP])
def test_sweep_only_commonfactors_errors_escape(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except CommonFactorsError as exc:
            assert str(exc) and "\n" not in str(exc)
        except Exception as exc:  # pragma: no cover - the failure this test looks for
            pytest.fail(f"{type(exc).__module__}.{type(exc).__name__} escaped: {exc}")


def test_every_error_of_the_sweep_names_its_argument_or_column():
    named = 0
    for name, call in SWEEP:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                call()
            except CommonFactorsError as exc:
                msg = str(exc)
                assert "`" in msg or "column" in msg or "role" in msg, (name, msg)
                named += 1
    assert named >= len(SWEEP) - 3  # a few calls are valid (e.g. an all-NaN factor warns)


def test_factor_group_error_for_bad_factor_mapping():
    with pytest.raises(FactorGroupError, match=r"group 'g' must list column names"):
        cf.read_sessions(long_frame(), factors={"g": 3})


def test_clinic_export_regenerates_byte_for_byte(tmp_path):
    pytest.importorskip("pyreadstat")
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_clinic_export",
                                                  ROOT / "tools" / "make_clinic_export.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for path in mod.write(tmp_path):
        assert path.read_bytes() == (CLINIC / path.name).read_bytes(), path.name


@pytest.mark.parametrize("call", [
    lambda d: cf.read_sessions(d, na_values={"alliance": [3.0]}, ranges={"outcome": (0, 20)},
                               factors={"technique": ["arm"]}, problems="warn"),
    lambda d: cf.check_sessions(d, ranges={"alliance": (1, 4)}),
    lambda d: cf.clean_sessions(d, several_therapists="majority"),
    lambda d: cf.score_items(d, ["alliance", "outcome"], name="s", reverse=["alliance"],
                             scale=(-200, 200)),
], ids=["read_sessions", "check_sessions", "clean_sessions", "score_items"])
def test_the_callers_frame_is_never_modified(call):
    d = messy().drop(columns="empty")
    d.loc[10, "alliance"] = 4.0
    d.attrs = {"commonfactors": {"note": "mine"}}
    before = d.copy(deep=True)
    quiet(call, d)
    pd.testing.assert_frame_equal(d, before)
    assert d.attrs == {"commonfactors": {"note": "mine"}}
