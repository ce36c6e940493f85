"""Tables for papers: what the printed cells, headings and notes say, in every style."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.errors import CommonFactorsError


@pytest.fixture(scope="module")
def sim():
    return cf.simulate("norcross_lambert_2011", n_therapists=8, clients_per_therapist=6,
                       n_sessions=4, seed=1)


@pytest.fixture(scope="module")
def res(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=20, seed=0,
                            progress=False)


@pytest.fixture(scope="module")
def fit(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cf.fit_mixed(sim.data, "outcome ~ session + alliance + (1 | therapist) + "
                                      "(1 | client)")


def _est(res, factor, estimand):
    return res.table.set_index(["factor", "estimand"]).loc[(factor, estimand)]


def _markdown_rows(text):
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in rows]


def test_decomposition_markdown_cells_are_the_estimates(res):
    tab = res.to_table("markdown")
    text = str(tab)
    assert text.startswith("**Table 1**\n\n*Shares of psychotherapy outcome")
    rows = _markdown_rows(text)
    header = rows[0]
    assert header[:6] == ["Factor", "Share of total variance", "Share of explained variance",
                          "Share of therapy-attributable variance", "Part R²",
                          "Share of mean improvement"]
    body = {r[0]: r for r in rows[1:]}
    rel = _est(res, "relationship", "share_total_variance")
    # shares as percentages with 1 decimal, interval in brackets (rounding of the estimate)
    assert body["Relationship"][1] == (f"{100 * rel.estimate:.1f} [{100 * rel.ci_low:.1f}, "
                                       f"{100 * rel.ci_high:.1f}]")
    mi = _est(res, "extra_therapeutic", "share_mean_improvement")
    assert body["Extra-therapeutic"][5].startswith(f"{100 * mi.estimate:.1f} [")
    # not defined by construction: a dash, explained in the notes
    assert body["Extra-therapeutic"][3] == "\u2014"
    assert "not defined for this group" in text
    icc = _est(res, "therapist", "icc_therapist")
    assert body["Therapist ICC, null model"][1].startswith(f"{icc.estimate:.3f} [")
    assert "*Factor shares (%)*" in body and "*Model*" in body


def test_decomposition_notes_say_how_the_intervals_were_made(res):
    notes = " ".join(res.to_table().notes)
    assert "95% " in notes and "cluster-bootstrap intervals in brackets" in notes
    assert f"({res.n_boot} replicates" in notes
    assert f"{res.n_boot_failed} failed and left out" in notes
    assert "share of explained variance = of the variance the predictors explain" in notes
    assert res.formula in notes and f"{res.n_clients} clients" in notes
    for r in res.references.itertuples():
        assert f"{r.column} = {r.reference:g}" in notes
    for note in res.notes:  # singular fits and failed replicates are never hidden
        assert note[1:40] in notes


def test_point_estimates_only_and_other_levels_are_stated(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bare = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=0)
        ninety = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=20,
                              seed=1, level=0.9, progress=False)
    tab = bare.to_table("markdown")
    assert "no bootstrap intervals" in tab.notes[0]
    assert "[" not in _markdown_rows(str(tab))[2][1]
    assert ninety.to_table().notes[0].startswith("Estimates with 90% ")


def test_apa_layout(res):
    text = res.to_table("apa").render()
    assert re.search(r'font-weight:bold">Table 1</p>', text)
    assert re.search(r'font-style:italic">Shares of psychotherapy outcome', text)
    assert "<em>Note.</em>" in text
    assert "border-left" not in text and "border-right" not in text  # horizontal rules only
    # APA: no leading zero for values that cannot exceed 1, a true minus sign
    icc = _est(res, "therapist", "icc_therapist")
    assert f">{icc.estimate:.3f}".replace("0.", ".", 1) in text
    assert res.to_table()._repr_html_() == text
    assert res.to_table("latex")._repr_html_() is None


def test_latex_is_escaped_and_uses_booktabs(res):
    text = res.to_table("latex").render()
    assert text.count(r"\toprule") == text.count(r"\midrule") == text.count(r"\bottomrule") == 1
    assert r"95\%" in text and "extra\\_therapeutic" in text
    assert "Part R\\textsuperscript{2}" in text
    body = text.split(r"\midrule")[1].split(r"\bottomrule")[0]
    n_cols = len(res.to_table().columns)
    for line in body.strip().splitlines():
        if line.startswith(r"\multicolumn"):
            continue  # a panel heading
        spans = [int(k) for k in re.findall(r"\\multicolumn\{(\d+)\}", line)]
        assert line.count(" & ") + 1 + sum(k - 1 for k in spans) == n_cols, line
    # no unescaped special character outside commands
    assert not re.search(r"(?<!\\)[%&_#](?![^{]*\})", body.replace(" & ", ""))


def test_html_table_structure(res):
    text = res.to_table("html").render()
    n_rows = len(res.to_table().rows)
    assert text.count("<tr") == n_rows + 2  # heading row + rows + footer
    assert "<caption>Table 1. Shares of psychotherapy outcome" in text
    assert text.count('class="panel"') == 2
    # a model-level row (one value) spans the share columns
    assert f'<td colspan="{len(res.to_table().columns) - 1}">' in text


def test_fit_table_holds_wald_intervals_and_variances(fit):
    tab = fit.to_table("markdown", digits=3)
    rows = {r[0]: r for r in _markdown_rows(str(tab))}
    for term in fit.fixed.index:
        est, se, ci = rows[term][1:4]
        assert float(est) == pytest.approx(fit.fixed[term], abs=5e-4)  # 3 decimals
        assert float(se) == pytest.approx(fit.std_errors[term], abs=5e-4)
        lo, hi = (float(x) for x in ci.strip("[]").split(", "))
        assert lo == pytest.approx(fit.fixed[term] - 1.959964 * fit.std_errors[term], abs=5e-4)
        assert hi == pytest.approx(fit.fixed[term] + 1.959964 * fit.std_errors[term], abs=5e-4)
    assert float(rows["Residual variance"][1]) == pytest.approx(fit.residual_variance, abs=5e-4)
    assert float(rows["client: Var(Intercept)"][1]) == pytest.approx(
        fit.random_cov["client"].iloc[0, 0], abs=5e-4)
    notes = " ".join(tab.notes)
    assert "REML" in notes and f"{fit.n_obs} observations" in notes and "Wald" in notes
    np.testing.assert_allclose(tab.data.loc[tab.data["part"] == "fixed", "estimate"],
                               fit.fixed.to_numpy(), rtol=0, atol=0)


def test_claims_table_one_row_per_comparison(res):
    cmp = res.compare_claims()
    tab = cf.to_table(cmp, "markdown", number=3)
    rows = _markdown_rows(str(tab))[1:]
    assert len(rows) == len(cmp)
    assert [r[-1] for r in rows] == cmp["verdict"].tolist()
    first = cmp.iloc[0]
    assert rows[0][0] == first["claim"] and rows[0][3] == first["claimed"]
    assert rows[0][4].startswith(f"{100 * first['estimate']:.1f}% [")
    assert str(tab).startswith("**Table 3**")
    assert any("Norcross & Lambert 2011" in n for n in tab.notes)  # sources in the notes


def test_excel_workbook_holds_the_table_and_the_numbers(res, tmp_path):
    path = res.to_excel(tmp_path / "out" / "shares.xlsx")
    book = pd.read_excel(path, sheet_name=None, header=None)
    assert set(book) == {"table", "data"}
    sheet = book["table"]
    assert sheet.iloc[0, 0] == "Table 1" and sheet.iloc[1, 0].startswith("Shares of")
    assert sheet.iloc[2, :2].tolist() == ["Factor", "Share of total variance"]
    assert sheet[0].astype(str).str.startswith("Note. Estimates with 95% ").any()
    data = pd.read_excel(path, sheet_name="data")
    np.testing.assert_allclose(data["estimate"], res.table["estimate"], rtol=1e-15)
    assert data["estimand"].tolist() == res.table["estimand"].tolist()


def test_bad_input_is_a_clear_error(res, tmp_path):
    with pytest.raises(CommonFactorsError, match=r"`obj`: expecting a Decomposition"):
        cf.to_table(42)
    with pytest.raises(CommonFactorsError, match=r"`obj`.*with columns \['a'\]"):
        cf.to_table(pd.DataFrame({"a": [1]}))
    with pytest.raises(CommonFactorsError, match="`style`: expecting one of"):
        res.to_table("word")
    with pytest.raises(CommonFactorsError, match=r"`path`: expecting a file name ending in "
                                                 r"\.xlsx"):
        res.to_excel(tmp_path / "x.csv")


def test_docstring_examples_run():
    import doctest

    from commonfactors import tables

    failed, attempted = doctest.testmod(tables, optionflags=doctest.ELLIPSIS)
    assert attempted >= 4 and failed == 0


@pytest.mark.filterwarnings("ignore")
def test_the_note_names_the_rows_with_profile_likelihood_intervals():
    sim = cf.simulate("wampold_imel_2015", n_therapists=40, clients_per_therapist=5,
                      n_sessions=3, seed=2)
    res = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=20, seed=1)
    notes = " ".join(res.to_table().notes)
    assert "Profile-likelihood intervals, not bootstrap ones: therapist ICC, null model;" in notes
    pct = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=20, seed=1,
                       ci="percentile")
    assert "Profile-likelihood" not in " ".join(pct.to_table().notes)
