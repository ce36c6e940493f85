"""Completeness and internal consistency of the committed R golden files.

The golden CSVs in ``tests/reference/`` are written by ``make_reference.R``; CI has no R, so
these checks catch a broken or partial regeneration: missing cases, R2 by hand that disagrees
with ``performance``, components that do not add up, Shapley values that do not sum to the
full-model marginal R2.
"""

from __future__ import annotations

import itertools
import re
from math import factorial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REF = Path(__file__).resolve().parent / "reference"

CASES = [
    "slope2_reml",
    "slope2_ml",
    "slope2_centred",
    "growth3_ri",
    "growth3_raw",
    "growth3_slope",
    "change2_ri",
    "change2_raw",
    "singular_ri",
]
SHAPLEY_CASES = ["growth3_ri", "change2_ri"]
GROUPS = ["relationship", "technique", "expectancy", "extra_therapeutic"]
# random-intercept-only cases: performance's R2 and the Rights & Sterba R2 coincide exactly
RI_CASES = ["growth3_ri", "growth3_raw", "change2_ri", "change2_raw", "singular_ri"]
RANDOM_COMPONENTS = {"v", "m", "m_client", "m_therapist", "residual"}


def _read(name: str, keep_empty: bool = False) -> pd.DataFrame:
    if keep_empty:
        return pd.read_csv(REF / name, keep_default_na=False, na_values=["NA"])
    return pd.read_csv(REF / name)


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    return _read("cases.csv")


@pytest.fixture(scope="module")
def fit() -> pd.DataFrame:
    return _read("golden_fit.csv").set_index("case")


@pytest.fixture(scope="module")
def components() -> pd.DataFrame:
    return _read("golden_components.csv")


@pytest.fixture(scope="module")
def shapley() -> pd.DataFrame:
    return _read("golden_shapley.csv", keep_empty=True)


@pytest.fixture(scope="module")
def subsets() -> pd.DataFrame:
    return _read("golden_subsets.csv", keep_empty=True)


def _value(components: pd.DataFrame, case: str, component: str, measure: str) -> float:
    sel = components[
        (components["case"] == case)
        & (components["component"] == component)
        & (components["measure"] == measure)
    ]
    assert len(sel) == 1, f"{case}/{component}/{measure}: {len(sel)} rows"
    return float(sel["value"].iloc[0])


def test_every_golden_file_lists_every_case(cases, fit, components):
    assert list(cases["case"]) == CASES
    assert sorted(fit.index) == sorted(CASES)
    for name in ("golden_fixed.csv", "golden_variance.csv"):
        assert sorted(_read(name)["case"].unique()) == sorted(CASES), name
    assert sorted(components["case"].unique()) == sorted(CASES)


def test_case_data_files_hold_the_formula_columns(cases, fit):
    for row in cases.itertuples():
        data = pd.read_csv(REF / row.file)
        names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", row.formula))
        assert names <= set(data.columns), (row.case, names - set(data.columns))
        assert not data.isna().any().any(), row.case
        assert len(data) == fit.loc[row.case, "n_obs"], row.case


def test_fixed_effects_have_intercept_and_positive_se():
    fixed = _read("golden_fixed.csv")
    for case in CASES:
        sel = fixed[fixed["case"] == case]
        assert sel["term"].iloc[0] == "Intercept"
        assert (sel["std_error"] > 0).all()
        assert np.isfinite(sel["estimate"]).all()


def test_variance_rows_are_valid_covariance_matrices():
    var = _read("golden_variance.csv", keep_empty=True)
    for case in CASES:
        sel = var[var["case"] == case]
        resid = sel[sel["group"] == "residual"]
        assert len(resid) == 1 and resid["estimate"].iloc[0] > 0
        for group, block in sel[sel["group"] != "residual"].groupby("group"):
            diag = block[block["term1"] == block["term2"]].set_index("term1")["estimate"]
            assert (diag >= 0).all()
            assert diag.index[0] == "Intercept", (case, group)
            for r in block[block["term1"] != block["term2"]].itertuples():
                bound = np.sqrt(diag[r.term1] * diag[r.term2])
                assert abs(r.estimate) <= bound * (1 + 1e-12), (case, group)
    sing = var[(var["case"] == "singular_ri") & (var["group"] == "therapist")]
    assert sing["estimate"].iloc[0] == 0.0


def test_fit_flags_and_criteria(fit):
    assert fit["converged"].all()
    assert list(fit.index[fit["singular"]]) == ["singular_ri"]
    np.testing.assert_allclose(fit["deviance_criterion"], -2 * fit["loglik"], rtol=1e-12)
    assert list(fit.index[~fit["reml"]]) == ["slope2_ml"]
    assert set(fit.index[fit["level_pure"]]) == {
        "slope2_centred",
        "growth3_ri",
        "change2_ri",
        "singular_ri",
    }


def test_r2_by_hand_agrees_with_performance(fit):
    for col in ("r2_marginal", "r2_conditional", "icc_adjusted"):
        np.testing.assert_allclose(fit[col], fit[f"{col}_hand"], rtol=0, atol=1e-6)
    assert ((fit["r2_marginal"] > 0) & (fit["r2_marginal"] < fit["r2_conditional"])).all()


def test_rights_sterba_matches_nakagawa(fit, components):
    for case in CASES:
        r2m = _value(components, case, "r2_marginal", "total")
        r2c = _value(components, case, "r2_conditional", "total")
        # random slopes: Rights & Sterba use n - 1 covariances, performance uses n
        tol = 1e-10 if case in RI_CASES else 5e-4
        assert r2m == pytest.approx(fit.loc[case, "r2_marginal"], abs=tol), case
        assert r2c == pytest.approx(fit.loc[case, "r2_conditional"], abs=tol), case


def test_components_sum_to_total(components):
    for case in CASES:
        sel = components[components["case"] == case]
        var = sel[sel["measure"] == "variance"].set_index("component")["value"]
        parts = ["f", *sorted(RANDOM_COMPONENTS & set(var.index))]
        assert var[parts].sum() == pytest.approx(var["total"], rel=1e-12), case
        level_f = [c for c in ("f1", "f2", "f3") if c in var.index]
        if level_f:
            assert var[level_f].sum() == pytest.approx(var["f"], rel=1e-10), case
        tot = sel[sel["measure"] == "total"].set_index("component")["value"]
        assert tot[parts].sum() == pytest.approx(1.0, abs=1e-12), case
        assert tot["r2_marginal"] == pytest.approx(tot["f"], abs=1e-15)
        for measure, block in sel.groupby("measure"):
            if measure in ("variance", "total") or block["value"].isna().all():
                continue
            assert block["value"].sum() == pytest.approx(1.0, abs=1e-12), (case, measure)


def test_component_levels_match_the_design(components):
    measures = {
        "slope2_centred": {"variance", "total", "within", "between"},
        "growth3_ri": {"variance", "total", "within_client", "between_client", "between_therapist"},
        "singular_ri": {
            "variance",
            "total",
            "within_client",
            "between_client",
            "between_therapist",
        },
        "change2_ri": {"variance", "total", "between_client", "between_therapist"},
        "growth3_raw": {"variance", "total"},
        "change2_raw": {"variance", "total"},
    }
    for case, expected in measures.items():
        got = set(components.loc[components["case"] == case, "measure"])
        assert got == expected, case


def test_icc_and_therapist_d(components):
    var = _read("golden_variance.csv", keep_empty=True)
    for case in ("growth3_ri", "change2_ri", "growth3_raw", "singular_ri"):
        sel = var[(var["case"] == case) & (var["term1"].isin(["Intercept", ""]))]
        v = sel.set_index("group")["estimate"]
        icc = _value(components, case, "icc_therapist_adjusted", "total")
        assert icc == pytest.approx(v["therapist"] / v.sum(), rel=1e-12), case
        for which in ("null", "adjusted"):
            icc = _value(components, case, f"icc_therapist_{which}", "total")
            d = _value(components, case, f"d_therapist_{which}", "total")
            assert d == pytest.approx(2 * np.sqrt(icc / (1 - icc)), rel=1e-12, abs=1e-15)
    assert _value(components, "singular_ri", "icc_therapist_adjusted", "total") == 0.0


def test_subsets_complete_and_consistent(subsets, fit):
    for case in SHAPLEY_CASES:
        sel = subsets[subsets["case"] == case].set_index("subset")
        expected = {
            "+".join(c) for k in range(len(GROUPS) + 1) for c in itertools.combinations(GROUPS, k)
        }
        # subsets are written with groups in GROUPS order
        assert set(sel.index) == expected, case
        assert sel["converged"].all()
        np.testing.assert_allclose(sel["r2m"], sel["f"] / sel["total"], rtol=1e-12)
        assert sel.loc["", "r2m"] == 0.0
        assert sel.loc["+".join(GROUPS), "r2m"] == pytest.approx(
            fit.loc[case, "r2_marginal"], abs=1e-10
        )


def test_shapley_sums_to_full_r2(shapley, subsets):
    for case in SHAPLEY_CASES:
        sel = shapley[shapley["case"] == case]
        r2_full = float(sel.loc[sel["estimand"] == "r2m_full", "value"].iloc[0])
        phi = sel[sel["estimand"] == "shapley"].set_index("group")["value"]
        assert sorted(phi.index) == sorted(GROUPS)
        assert phi.sum() == pytest.approx(r2_full, abs=1e-10), case
        common = sel[sel["estimand"] == "commonality"].set_index("group")["value"]
        assert len(common) == 2 ** len(GROUPS) - 1
        assert common.sum() == pytest.approx(r2_full, abs=1e-10), case
        unique = sel[sel["estimand"] == "unique"].set_index("group")["value"]
        np.testing.assert_allclose(unique[GROUPS], common[GROUPS], rtol=0, atol=1e-15)
        # part R2 and unique from the subset fits
        sub = subsets[subsets["case"] == case].set_index("subset")
        full = "+".join(GROUPS)
        part = sel[sel["estimand"] == "part_r2"].set_index("group")["value"]
        for g in GROUPS:
            rest = "+".join(x for x in GROUPS if x != g)
            assert unique[g] == pytest.approx(r2_full - sub.loc[rest, "r2m"], abs=1e-14)
            assert part[g] == pytest.approx(
                r2_full - sub.loc[rest, "f"] / sub.loc[full, "total"], abs=1e-14
            )


def test_shapley_matches_a_recomputation(shapley, subsets):
    for case in SHAPLEY_CASES:
        sub = subsets[subsets["case"] == case].set_index("subset")["r2m"]
        k = len(GROUPS)

        def key(members):
            return "+".join(g for g in GROUPS if g in members)

        phi = shapley[(shapley["case"] == case) & (shapley["estimand"] == "shapley")]
        phi = phi.set_index("group")["value"]
        for g in GROUPS:
            others = [x for x in GROUPS if x != g]
            total = 0.0
            for size in range(k):
                w = factorial(size) * factorial(k - size - 1) / factorial(k)
                for s in itertools.combinations(others, size):
                    total += w * (sub[key(set(s) | {g})] - sub[key(set(s))])
            assert phi[g] == pytest.approx(total, abs=1e-14), (case, g)


def test_disaggregation_reconstructs_the_raw_column():
    dis = _read("golden_disaggregate.csv")
    for (case, column), block in dis.groupby(["case", "column"]):
        raw = pd.read_csv(REF / "data" / f"{case}.csv")
        x = raw[column].to_numpy(dtype=float)
        block = block.sort_values("row")
        assert list(block["row"]) == list(range(len(raw)))
        parts = block[["x_w", "x_c", "x_t"]].fillna(0.0).sum(axis=1).to_numpy()
        np.testing.assert_allclose(parts + x.mean(), x, rtol=0, atol=1e-10)
        if "session" in raw.columns:
            w_means = block.groupby(raw["client"].to_numpy())["x_w"].mean()
            np.testing.assert_allclose(w_means, 0.0, atol=1e-10)
        c_means = block.groupby(raw["therapist"].to_numpy())["x_c"].mean()
        np.testing.assert_allclose(c_means, 0.0, atol=1e-10)


def test_versions_recorded():
    versions = _read("golden_versions.csv").set_index("software")["version"]
    assert {"R", "lme4", "performance"} <= set(versions.index)
    assert all(re.fullmatch(r"\d+(\.\d+)+", str(v)) for v in versions)
