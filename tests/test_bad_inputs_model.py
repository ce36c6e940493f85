"""Bad and messy inputs on the modelling side: decompose, fit_mixed, lagged_effects.

Each test of a case that used to give a silently wrong number compares against the same data
entered cleanly (the number must not move) or against the simulator's truth; each unclear error
is checked on its message (column or parameter, what was expected, what was found, what to do).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.errors import (
    ArgumentError,
    ColumnError,
    CommonFactorsError,
    ConfigError,
    DataValidationError,
    FactorGroupError,
)

FACTORS = {"relationship": ["alliance"], "technique": ["arm"], "expectancy": ["expectancy"],
           "extra_therapeutic": ["session", "support"]}


@pytest.fixture(scope="module")
def sim():
    return cf.simulate("norcross_lambert_2011", n_therapists=20, seed=1)


def _est(res, factor, estimand):
    t = res.table.set_index(["factor", "estimand"])["estimate"]
    return float(t[(factor, estimand)])


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def change_ref(sim):
    return _quiet(cf.decompose, sim.data, factors=FACTORS, view="change", n_boot=0)


# ---------------------------------------------------------------------------------------------
# 1. change view: a missing process rating does not move the baseline
# ---------------------------------------------------------------------------------------------
def test_missing_alliance_at_intake_keeps_the_intake_outcome(sim, change_ref):
    d = sim.data.copy()
    d.loc[d["session"] == 0, "alliance"] = np.nan  # alliance rated after sessions only
    res = _quiet(cf.decompose, d, factors=FACTORS, view="change", n_boot=0)
    cv = cf.change_view(d)
    # pre and post come from the outcome alone: exactly the full data's mean improvement
    # (exact arithmetic up to the order of summation)
    assert _est(res, "model", "mean_improvement") == pytest.approx(
        _est(change_ref, "model", "mean_improvement"), rel=1e-12)
    assert _est(res, "model", "mean_improvement") == pytest.approx(cv["improvement"].mean(),
                                                                   rel=1e-12)
    # the data summary reports what was missing, per column
    assert res.data_summary["missing"]["alliance"] == int((d["session"] == 0).sum())


def test_change_view_alliance_mean_over_rated_sessions(sim):
    d = sim.data.copy()
    d.loc[d["session"] == 0, "alliance"] = np.nan
    res = _quiet(cf.decompose, d, factors=FACTORS, view="change", n_boot=0)
    # the fitted alliance column is the client mean over the sessions where it was rated
    cv = cf.change_view(d, predictors=["alliance", "expectancy", "arm", "support"])
    fit_alliance = res.fit.data["alliance_c"] + res.fit.data["alliance_t"]
    np.testing.assert_allclose(fit_alliance.to_numpy(),
                               (cv["alliance"] - cv["alliance"].mean()).to_numpy(), atol=1e-10)


def test_client_without_any_alliance_rating_is_dropped_and_counted(sim):
    d = sim.data.copy()
    first = d["client"].iloc[0]
    d.loc[d["client"] == first, "alliance"] = np.nan
    res = _quiet(cf.decompose, d, factors=FACTORS, view="change", n_boot=0)
    assert res.n_clients == d["client"].nunique() - 1
    assert any("dropped 1 of" in n and "alliance (1)" in n for n in res.notes)


# ---------------------------------------------------------------------------------------------
# 2./3. categorical factors: reference level named, never alphabetical
# ---------------------------------------------------------------------------------------------
def _arm_labels(sim, three=False):
    d = sim.data.copy()
    lab = np.where(d["arm"] == 1, "CBT", "TAU").astype(object)
    if three:  # split the active arm by client: same effect in both, a three-level arm
        cl = d["client"].astype(str)
        odd = cl.map(lambda c: int(re.sub(r"\D", "", c) or 0) % 2 == 1)
        lab = np.where((d["arm"] == 1) & odd, "IPT", lab)
    d["arm"] = lab
    return d


def test_string_arm_uses_the_control_as_reference(sim, change_ref):
    d = _arm_labels(sim)
    res = _quiet(cf.decompose, d, factors=FACTORS, view="change", n_boot=0)
    # TAU is the recognised control: the same numbers as the 0/1 arm with 0 = TAU
    for e in ("share_mean_improvement", "share_total_variance", "correlation"):
        assert _est(res, "technique", e) == pytest.approx(_est(change_ref, "technique", e),
                                                          rel=1e-8)
    ref = res.references.set_index("column").loc["arm"]
    assert ref["reference"] == "TAU" and "recognised control label" in ref["note"]
    assert "arm = TAU" in res.summary()


def test_read_sessions_recoding_does_not_make_cbt_the_control(sim, change_ref):
    d = _quiet(cf.read_sessions, _arm_labels(sim), factors=FACTORS)  # CBT -> 0, TAU -> 1
    res = _quiet(cf.decompose, d, factors=FACTORS, view="change", n_boot=0)
    assert _est(res, "technique", "share_mean_improvement") == pytest.approx(
        _est(change_ref, "technique", "share_mean_improvement"), rel=1e-8)
    assert _est(res, "technique", "share_mean_improvement") > 0


@pytest.mark.parametrize("kind", ["string", "category", "spss_codes"])
def test_three_level_arm_is_one_group_against_tau(sim, kind):
    d = _arm_labels(sim, three=True)
    if kind == "category":
        d["arm"] = pd.Categorical(d["arm"], categories=["CBT", "IPT", "TAU"])
    elif kind == "spss_codes":  # codes 1/2/3 with value labels, as read from SPSS
        d["arm"] = d["arm"].map({"CBT": 1.0, "IPT": 2.0, "TAU": 3.0})
        d.attrs["commonfactors"] = {"value_labels": {"arm": {1: "CBT", 2: "IPT", 3: "TAU"}}}
    res = _quiet(cf.decompose, d, factors=FACTORS, view="change", n_boot=0)
    assert "technique" in set(res.table["factor"])  # one group, not one per level
    assert {"arm[CBT]_c", "arm[IPT]_c"} <= set(res.fit.X.columns.str.replace(
        r"^Q\('(.*)'\)$", r"\1", regex=True))
    ref = res.references.set_index("column").loc["arm"]
    assert ref["reference"] == "TAU"
    # both active levels carry the simulated effect: the share is positive, as for 0/1
    assert _est(res, "technique", "share_mean_improvement") > 0


def test_categorical_results_agree_across_encodings(sim):
    out = []
    for kind in ("string", "category", "spss_codes"):
        d = _arm_labels(sim, three=True)
        if kind == "category":
            d["arm"] = pd.Categorical(d["arm"])
        elif kind == "spss_codes":
            d["arm"] = d["arm"].map({"CBT": 1, "IPT": 2, "TAU": 3})
            d.attrs["commonfactors"] = {"value_labels": {"arm": {1: "CBT", 2: "IPT", 3: "TAU"}}}
        res = _quiet(cf.decompose, d, factors=FACTORS, view="change", n_boot=0)
        out.append(res.table["estimate"].to_numpy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(out[0], out[2], rtol=1e-10, equal_nan=True)


def test_unrecognised_levels_ask_for_the_reference(sim):
    d = sim.data.copy()
    d["arm"] = np.where(d["arm"] == 1, "B", "A")
    with pytest.raises(FactorGroupError, match=r"column 'arm' of group 'technique' is "
                       r"categorical with levels 'A', 'B'.*references=\{'technique': "
                       r"\{'arm': 'B'\}\}.*never chosen alphabetically"):
        cf.decompose(d, factors=FACTORS, view="change", n_boot=0)
    res = _quiet(cf.decompose, d, factors=FACTORS, view="change", n_boot=0,
                 references={"technique": {"arm": "A"}})
    assert res.references.set_index("column").loc["arm", "reference"] == "A"
    with pytest.raises(ColumnError, match=r"'C' is not a level of column 'arm'.*'A', 'B'"):
        cf.decompose(d, factors=FACTORS, view="change", n_boot=0,
                     references={"technique": {"arm": "C"}})


def test_boolean_arm_false_is_absent(sim, change_ref):
    d = sim.data.copy()
    d["arm"] = d["arm"] == 1
    res = _quiet(cf.decompose, d, factors=FACTORS, view="change", n_boot=0)
    assert _est(res, "technique", "share_mean_improvement") == pytest.approx(
        _est(change_ref, "technique", "share_mean_improvement"), rel=1e-8)


# ---------------------------------------------------------------------------------------------
# 6. the checks read_sessions makes: duplicates, a client under two therapists
# ---------------------------------------------------------------------------------------------
def test_duplicated_rows_raise_everywhere(sim):
    d = pd.concat([sim.data, sim.data.iloc[[5]]])
    msg = r"expecting one row per client and session; found 1 repeated pair\(s\): client "
    with pytest.raises(DataValidationError, match="decompose: .*" + msg + r".*rows 5, 5.*exact"):
        cf.decompose(d, factors=FACTORS, view="change", n_boot=0)
    with pytest.raises(DataValidationError, match="fit_mixed: .*" + msg):
        cf.fit_mixed(d, "outcome ~ session + (1 | therapist) + (1 | client)")
    with pytest.raises(DataValidationError, match="lagged_effects: .*" + msg):
        cf.lagged_effects(d)


def test_client_under_two_therapists_raises_with_ids_and_rows(sim):
    d = sim.data.copy()
    c = d["client"].iloc[0]
    row = d.index[d["client"] == c][-1]
    other = [t for t in d["therapist"].unique() if t != d.loc[row, "therapist"]][0]
    d.loc[row, "therapist"] = other
    pat = rf"client {c!r} under therapists .*{other!r}.*rows .*{row}"
    for view in ("change", "growth"):
        with pytest.raises(DataValidationError, match=pat):
            cf.decompose(d, factors=FACTORS, view=view, n_boot=0)
    # fit_mixed could fit client and therapist as crossed factors; session data say otherwise
    with pytest.raises(DataValidationError, match="fit_mixed: .*" + pat):
        cf.fit_mixed(d, "outcome ~ session + (1 | therapist) + (1 | client)")
    with pytest.raises(DataValidationError, match=pat):
        cf.lagged_effects(d)


# ---------------------------------------------------------------------------------------------
# 7. group names: outside therapy is an argument; typos warn or raise
# ---------------------------------------------------------------------------------------------
def test_outside_argument_and_group_typos(sim, change_ref):
    f = {**{k: v for k, v in FACTORS.items() if k != "extra_therapeutic"},
         "extra_therapeutics": FACTORS["extra_therapeutic"]}
    with pytest.warns(UserWarning, match="'extra_therapeutics'.*Did you mean 'extra_therapeutic'"):
        cf.decompose(sim.data, factors=f, view="change", n_boot=0)
    res = _quiet(cf.decompose, sim.data, factors=f, view="change", n_boot=0,
                 outside=("extra_therapeutics",))
    assert _est(res, "relationship", "share_therapy_variance") == pytest.approx(
        _est(change_ref, "relationship", "share_therapy_variance"), rel=1e-10)
    with pytest.raises(FactorGroupError, match="`outside`: 'extra_therapeutic' is not a factor "
                       "group.*Did you mean 'extra_therapeutics'"):
        cf.decompose(sim.data, factors=f, view="change", n_boot=0,
                     outside=("extra_therapeutic",))
    g = {("relatonship" if k == "relationship" else k): v for k, v in FACTORS.items()}
    with pytest.warns(UserWarning, match="Did you mean 'relationship'"):
        cf.decompose(sim.data, factors=g, view="change", n_boot=0)


# ---------------------------------------------------------------------------------------------
# 8. references validated
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("refs, err, pat", [
    ({"relatonship": {"alliance": 3.0}}, FactorGroupError,
     "'relatonship' is not a factor group.*Did you mean 'relationship'"),
    ({"relationship": {"aliance": 3.0}}, ColumnError,
     "'aliance' is not a column of group 'relationship'.*Did you mean 'alliance'"),
    ({"relationship": {"alliance": 1e6}}, ArgumentError,
     "'alliance' = 1e\\+06 .* far outside the observed values"),
    ({"relationship": {"alliance": "high"}}, ArgumentError, "must be a finite number"),
    ({"extra_therapeutic": {"support": 0.0}}, FactorGroupError, "outside therapy"),
    (["alliance"], ArgumentError, "expecting a mapping"),
])
def test_bad_references(sim, refs, err, pat):
    with pytest.raises(err, match=pat):
        cf.decompose(sim.data, factors=FACTORS, view="change", n_boot=0, references=refs)


def test_reference_just_outside_the_data_warns(sim):
    lo = float(sim.data["alliance"].min())
    with pytest.warns(UserWarning, match="outside the observed values"):
        cf.decompose(sim.data, factors=FACTORS, view="change", n_boot=0,
                     references={"relationship": {"alliance": lo - 0.5}})


# ---------------------------------------------------------------------------------------------
# 9. arguments
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, pat", [
    (dict(n_boot=1), "`n_boot`: expecting 0 .* or at least 20 bootstrap replicates; got 1"),
    (dict(n_boot=2), "got 2, too few for an interval"),
    (dict(level=0), "`level`: expecting a coverage strictly between 0 and 1"),
    (dict(level=1.0), "`level`: expecting a coverage strictly between 0 and 1"),
    (dict(level=95), "got 95"),
    (dict(level="0.95"), "`level`: expecting a number"),
    (dict(seed="abc"), "`seed`: expecting an integer >= 0, None"),
    (dict(seed=-1), "`seed`: expecting an integer >= 0; got -1"),
    (dict(n_jobs=0), "`n_jobs`: expecting a non-zero integer"),
    (dict(n_jobs="2"), "`n_jobs`: expecting a non-zero integer"),
])
def test_bad_arguments(sim, kw, pat):
    with pytest.raises(ArgumentError, match=pat) as info:
        cf.decompose(sim.data, factors=FACTORS, view="change", **{"n_boot": 0, **kw})
    assert isinstance(info.value, (ConfigError, CommonFactorsError, ValueError))


def test_few_replicates_warn_and_seed_none_is_stored(sim):
    with pytest.warns(UserWarning, match="fewer than 200 bootstrap replicates are rough"):
        res = cf.decompose(sim.data, factors=FACTORS, view="change", n_boot=20, progress=False)
    assert isinstance(res.seed, int)
    again = _quiet(cf.decompose, sim.data, factors=FACTORS, view="change", n_boot=20,
                   seed=res.seed, progress=False)
    pd.testing.assert_frame_equal(res.table, again.table)
    gen = _quiet(cf.decompose, sim.data, factors=FACTORS, view="change", n_boot=20,
                 seed=np.random.default_rng(3), progress=False)
    assert isinstance(gen.seed, int)


def test_absent_therapist_column_raises(sim):
    with pytest.raises(ColumnError, match="`therapist`: column\\(s\\) 'TherID' not found"):
        cf.decompose(sim.data, factors=FACTORS, view="change", n_boot=0, therapist="TherID")
    with pytest.raises(ColumnError, match="'TherID' not found"):
        cf.lagged_effects(sim.data, therapist="TherID")


# ---------------------------------------------------------------------------------------------
# 10. therapist ICC with random time slopes
# ---------------------------------------------------------------------------------------------
def test_icc_with_random_slopes_matches_the_truth():
    from commonfactors.simulation.truth import analytic_truth

    s = cf.simulate("norcross_lambert_2011", n_therapists=100, seed=0)
    fit = _quiet(cf.fit_mixed, s.data, "outcome ~ session + alliance + arm + expectancy + "
                 "support + (1 + session | therapist) + (1 | client)")
    res = _quiet(cf.decompose, fit, factors=FACTORS, n_boot=0)
    # the definition: random-intercept null model with the fixed time terms kept, i.e. the
    # intercept variances left after the time trend, which analytic_truth gives for a model
    # whose only predictor is time (its "adjusted" ICC)
    truth = analytic_truth(s.config, factors={"extra_therapeutic": ["session"]},
                           views=("growth",)).set_index(["factor", "estimand"])["value"]
    target = truth[("therapist", "icc_therapist_adjusted")]
    est = _est(res, "therapist", "icc_therapist")
    # sampling SD of this ICC over seeds with 100-150 therapists is about 0.008 (4 seeds)
    assert abs(est - target) < 0.025, (est, target)
    # at intake the simulator has no therapist variance (intake_sd_therapist = 0)
    assert _est(res, "therapist", "icc_therapist_first") < 0.02
    assert _est(res, "therapist", "icc_therapist_last") > _est(res, "therapist",
                                                              "icc_therapist_first")
    assert any("random-intercept null model" in n for n in res.notes)


# ---------------------------------------------------------------------------------------------
# 11. notebook display escaped
# ---------------------------------------------------------------------------------------------
def test_mixed_fit_html_is_escaped(sim):
    bad = "<img src=x onerror=alert(6)>"
    d = sim.data.rename(columns={"alliance": bad})
    fit = _quiet(cf.fit_mixed, d, f"outcome ~ Q('{bad}') + (1 | therapist) + (1 | client)")
    html = fit._repr_html_()
    assert bad not in html
    assert "&lt;img src=x onerror=alert(6)&gt;" in html


# ---------------------------------------------------------------------------------------------
# unclear errors made clear
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["alliance score", "WAI-SR", "class"])
def test_non_identifier_column_names_work(sim, change_ref, name):
    d = sim.data.rename(columns={"alliance": name})
    f = {**FACTORS, "relationship": [name]}
    for view in ("change", "growth"):
        res = _quiet(cf.decompose, d, factors=f, view=view, n_boot=0)
        assert np.isfinite(_est(res, "relationship", "share_total_variance"))
    res = _quiet(cf.decompose, d, factors=f, view="change", n_boot=0)
    np.testing.assert_allclose(res.table["estimate"], change_ref.table["estimate"], rtol=1e-10)


def test_constant_outcome(sim):
    d = sim.data.assign(outcome=7.0)
    for view in ("change", "growth"):
        with pytest.raises(ColumnError, match="column 'outcome': every observed value is 7"):
            cf.decompose(d, factors=FACTORS, view=view, n_boot=0)


def test_infinite_and_text_values_name_the_column(sim):
    d = sim.data.copy()
    d.loc[4, "alliance"] = np.inf
    with pytest.raises(ColumnError, match=r"column 'alliance': expecting finite numbers; found 1 "
                       r"infinite value\(s\) \(rows 4\)"):
        cf.decompose(d, factors=FACTORS, view="change", n_boot=0)
    d = sim.data.astype({"outcome": object})
    d.loc[2, "outcome"] = "n/a"
    with pytest.raises(ColumnError, match="column 'outcome': expecting numbers.*'n/a'"):
        cf.decompose(d, factors=FACTORS, view="change", n_boot=0)
    d = sim.data.assign(outcome=sim.data["outcome"] > 10)
    with pytest.raises(ColumnError, match="column 'outcome': expecting numbers"):
        cf.decompose(d, factors=FACTORS, view="change", n_boot=0)


def test_all_missing_factor_column(sim):
    d = sim.data.assign(expectancy=np.nan)
    with pytest.raises(ColumnError, match="column 'expectancy': every value is missing"):
        cf.decompose(d, factors=FACTORS, view="change", n_boot=0)


def test_few_therapists_or_one_client_each_gives_data_advice(sim):
    two = sim.data[sim.data["therapist"].isin(sim.data["therapist"].unique()[:2])]
    with pytest.raises(DataValidationError, match="2 therapist\\(s\\).*therapist=None"):
        cf.decompose(two, factors=FACTORS, view="change", n_boot=0)
    first = sim.data.groupby("therapist")["client"].transform("first")
    one = sim.data[sim.data["client"] == first]
    for view in ("change", "growth"):
        with pytest.raises(DataValidationError, match="every therapist has one client.*"
                           "therapist=None"):
            cf.decompose(one, factors=FACTORS, view=view, n_boot=0)


def test_callers_frame_is_not_modified(sim):
    d = _arm_labels(sim, three=True)
    d.loc[d["session"] == 0, "alliance"] = np.nan
    d.attrs["commonfactors"] = {"value_labels": {}}
    before = d.copy()
    _quiet(cf.decompose, d, factors=FACTORS, view="change", n_boot=0)
    pd.testing.assert_frame_equal(d, before)
    assert d.attrs == {"commonfactors": {"value_labels": {}}}


def test_report_shows_missing_values_and_the_control_reference(sim, tmp_path):
    from commonfactors.report import run_report

    d = _arm_labels(sim)
    d.loc[d["session"] == 0, "alliance"] = np.nan
    csv = tmp_path / "clinic.csv"
    d.to_csv(csv, index=False)
    path = _quiet(run_report, str(csv), factors=FACTORS, view="change", n_boot=0,
                  out=tmp_path / "out", progress=False)
    html = path.read_text(encoding="utf-8")
    n_missing = int((d["session"] == 0).sum())
    assert f"alliance: {n_missing}" in html and "missing values</th><td>none" not in html
    refs = html[html.index('data-table="references"'):]
    refs = refs[:refs.index("</table>")]
    assert "<td>arm</td><td>TAU</td>" in refs


# ---------------------------------------------------------------------------------------------
# design_based_shares names the user's columns, not internal arrays
# ---------------------------------------------------------------------------------------------
def _arms():
    return pd.DataFrame({"trial": [1, 1, 1, 2, 2, 2, 3, 3, 3],
                         "arm": ["waitlist", "placebo", "active"] * 3,
                         "d": [0.5, 1.2, 1.5, 0.4, 1.3, 1.5, 0.6, 1.25, 1.5],
                         "size": [40] * 9, "var": [0.05] * 9})


@pytest.mark.parametrize("change, kw, err, pat", [
    ({"var": (0, 0.0)}, dict(var_col="var"), DataValidationError,
     r"`var_col`: column 'var' must hold sampling variances > 0; found 0 \(rows 0\)"),
    ({"size": (4, 1)}, dict(n_col="size"), DataValidationError,
     r"`n_col`: column 'size' must hold arm sizes > 1; found 1 \(rows 4\)"),
    ({"d": (2, "abc")}, dict(n_col="size"), ColumnError,
     r"`change_col`: column 'd' must hold numbers .*'abc'"),
    ({"d": (2, np.inf)}, dict(n_col="size"), DataValidationError,
     r"`change_col`: column 'd' .* found inf \(rows 2\)"),
    ({}, dict(n_col="size", pre_post_r=1.0), ConfigError, r"`pre_post_r`: expecting a number"),
])
def test_design_based_shares_messages(change, kw, err, pat):
    from commonfactors.meta import design_based_shares

    arms = _arms()
    for col, (row, value) in change.items():
        arms[col] = arms[col].astype(object)
        arms.loc[row, col] = value
    with pytest.raises(err, match=pat):
        design_based_shares(arms, arm_col="arm", change_col="d", study_col="trial", n_boot=0,
                            **kw)


def test_categorical_reference_is_in_the_notes_and_sensitivity_refuses_it(sim):
    res = _quiet(cf.decompose, _arm_labels(sim, three=True), factors=FACTORS, view="change",
                 n_boot=0)
    assert any(n.startswith("arm (technique) is categorical: levels CBT, IPT, TAU; reference "
                            "level TAU") for n in res.notes)
    with pytest.raises(FactorGroupError, match="'arm' of 'technique' is categorical"):
        res.sensitivity("technique")
    assert len(res.sensitivity("relationship")) == 11


def test_own_column_names_give_the_same_result(sim, change_ref):
    d = sim.data.rename(columns={"therapist": "TherID", "client": "Client ID", "session": "week"})
    f = {**FACTORS, "extra_therapeutic": ["week", "support"]}
    res = _quiet(cf.decompose, d, factors=f, view="change", n_boot=0, therapist="TherID",
                 client="Client ID", session="week")
    np.testing.assert_allclose(res.table["estimate"], change_ref.table["estimate"], rtol=1e-10)
    assert (res.n_clients, res.n_therapists) == (change_ref.n_clients, change_ref.n_therapists)


def test_fit_mixed_names_an_infinite_column(sim):
    d = sim.data.copy()
    d.loc[7, "alliance"] = -np.inf
    with pytest.raises(ColumnError, match=r"column 'alliance' has 1 infinite value\(s\) "
                       r"\(rows 7\)"):
        cf.fit_mixed(d, "outcome ~ alliance + (1 | therapist) + (1 | client)")


def test_analyses_call_check_sessions_when_present(sim, monkeypatch):
    from commonfactors.sessions import _keys

    calls = []

    def fake_check(df, **kw):
        calls.append(dict(kw))
        return pd.DataFrame({"check": [], "severity": []})

    def fake_raise(problems, *, where):
        calls[-1]["where"] = where

    monkeypatch.setattr(_keys, "_shared_checks", lambda: (fake_check, fake_raise))
    _quiet(cf.decompose, sim.data, factors=FACTORS, view="change", n_boot=0)
    _quiet(cf.fit_mixed, sim.data, "outcome ~ session + alliance + (1 | therapist) + (1 | client)")
    _quiet(cf.lagged_effects, sim.data)
    by = {}
    for c in calls:  # the first call of each (lagged_effects then fits three models itself)
        by.setdefault(c["where"], c)
    assert set(by) == {"decompose", "fit_mixed", "lagged_effects"}
    assert by["decompose"]["columns"] == ["alliance", "arm", "expectancy", "support"]
    assert by["fit_mixed"]["outcome"] == "outcome" and "alliance" in by["fit_mixed"]["columns"]
    assert by["lagged_effects"]["columns"] == ["alliance"]
    for c in calls:
        assert (c["client"], c["session"]) == ("client", "session")
