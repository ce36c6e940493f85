"""decompose(fit) for fits of the general engine: 3- and 4-level and crossed models."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.errors import EstimationError
from commonfactors.models import ConvergenceWarning

REF = Path(__file__).parent / "reference"
FACTORS = {"relationship": ["alliance_w", "alliance_c", "alliance_t"],
           "technique": ["arm_c", "arm_t"], "expectancy": ["expectancy_c", "expectancy_t"],
           "extra_therapeutic": ["session_w", "session_c", "session_t", "support_c", "support_t"]}


def _fit(*a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cf.fit_mixed(*a, **k)


@pytest.mark.r_reference
def test_general_decomposition_matches_nested_and_r():
    data = pd.read_csv(REF / "data/growth3_fitted.csv")
    formula = pd.read_csv(REF / "cases.csv").set_index("case").loc["growth3_ri", "formula"]
    nested = cf.decompose(_fit(data, formula), factors=FACTORS, n_boot=0)
    general = cf.decompose(_fit(data, formula, engine="general"), factors=FACTORS, n_boot=0)
    cn = nested.components.set_index(["component", "measure"]).estimate
    cg = general.components.set_index(["component", "measure"]).estimate
    assert set(cn.index) == set(cg.index)
    # the two engines' optima agree to ~1e-6 relative (optimiser precision)
    np.testing.assert_allclose(cg[cn.index], cn, rtol=1e-5, atol=1e-7)
    tn = nested.table.set_index(["factor", "estimand"]).estimate
    tg = general.table.set_index(["factor", "estimand"]).estimate
    common = tn.index.intersection(tg.index)
    assert len(common) == len(tg) == len(tn)  # shares of mean improvement included
    np.testing.assert_allclose(tg[common], tn[common], rtol=1e-5, atol=1e-7)
    # R: golden_components.csv (performance + Rights & Sterba by hand), lme4 precision 1e-5
    gold = pd.read_csv(REF / "golden_components.csv").query("case == 'growth3_ri'")
    gold = gold.set_index(["component", "measure"]).value
    both = gold.index.intersection(cg.index)
    assert len(both) >= 20
    np.testing.assert_allclose(cg[both], gold[both], rtol=1e-5, atol=1e-7)


def _four_level(seed=0, n_clinic=6, n_t=4, n_c=5, n_s=6):
    rng = np.random.default_rng(seed)
    k = np.repeat(np.arange(n_clinic), n_t * n_c * n_s)
    t = np.repeat(np.arange(n_clinic * n_t), n_c * n_s)
    c = np.repeat(np.arange(n_clinic * n_t * n_c), n_s)
    s = np.tile(np.arange(n_s), n_clinic * n_t * n_c).astype(float)
    a_k = rng.normal(size=n_clinic)[k]
    a_t = rng.normal(size=t.max() + 1)[t]
    a_c = rng.normal(size=c.max() + 1)[c]
    a_s = rng.normal(size=c.size)
    y = (10 + 0.3 * a_s + 0.5 * a_c + 0.4 * a_t + 0.2 * a_k - 0.3 * s
         + rng.normal(0, 0.5, n_clinic)[k] + rng.normal(0, 0.6, t.max() + 1)[t]
         + rng.normal(0, 1, c.max() + 1)[c] + rng.normal(size=c.size))
    df = pd.DataFrame({"clinic": k, "therapist": t, "client": c, "session": s, "y": y})
    # level-pure parts of the alliance-like predictor (row means at each level)
    x = a_s + a_c + a_t + a_k
    mc = pd.Series(x).groupby(c).transform("mean").to_numpy()
    mt = pd.Series(x).groupby(t).transform("mean").to_numpy()
    mk = pd.Series(x).groupby(k).transform("mean").to_numpy()
    sw = s - pd.Series(s).groupby(c).transform("mean").to_numpy()
    return df.assign(x_w=x - mc, x_c=mc - mt, x_t=mt - mk, x_k=mk - x.mean(), session_w=sw)


def test_four_levels_components_and_identities():
    df = _four_level()
    fit = _fit(df, "y ~ session_w + x_w + x_c + x_t + x_k + (1 | clinic/therapist/client)")
    assert fit.engine == "general"
    res = cf.decompose(fit, factors={"relationship": ["x_w", "x_c", "x_t", "x_k"],
                                     "extra_therapeutic": ["session_w"]}, n_boot=0)
    c = res.components.set_index(["component", "measure"]).estimate
    levels = ["f1", "f2", "f3", "f4"]
    # components are named by each factor's innermost variable (lme4 labels client:(therapist:clinic)...)
    labels = ["client", "therapist", "clinic"]
    lme4_labels = [i["label"] for i in fit.random_terms]
    # f splits exactly over the level-pure columns (exact arithmetic, orthogonal parts)
    assert sum(c[(f, "variance")] for f in levels) == pytest.approx(c[("f", "variance")], rel=1e-9)
    parts = ["f", "v", "residual"] + [f"m_{g}" for g in labels]
    assert sum(c[(p, "total")] for p in parts) == pytest.approx(1.0, abs=1e-12)
    within = [("f1", f"within_{labels[0]}"), ("v", f"within_{labels[0]}"),
              ("residual", f"within_{labels[0]}")]
    assert sum(c[k] for k in within) == pytest.approx(1.0, abs=1e-12)
    for k, g in enumerate(labels, start=2):
        assert c[(f"f{k}", f"between_{g}")] + c[(f"m_{g}", f"between_{g}")] == pytest.approx(1.0, abs=1e-12)
    # m per level = that level's intercept variance (the decomposition refits the full model
    # from the fit's optimum: equal to optimiser precision)
    for g, lab in zip(labels, lme4_labels, strict=True):
        assert c[(f"m_{g}", "variance")] == pytest.approx(fit.random_cov[lab].iloc[0, 0], rel=1e-6)
    t = res.table.set_index(["factor", "estimand"]).estimate
    shares = t[[("relationship", "share_total_variance"), ("extra_therapeutic", "share_total_variance")]]
    assert shares.sum() == pytest.approx(t[("model", "r2_marginal")] - res.subsets.r2m.iloc[0], abs=1e-12)
    assert t[("model", "r2_marginal")] == pytest.approx(c[("f", "total")], rel=1e-12)


def test_crossed_model_total_measures_and_no_cluster_bootstrap():
    rng = np.random.default_rng(3)
    n = 600
    client, rater = rng.integers(0, 60, n), rng.integers(0, 8, n)
    x = rng.normal(size=n)
    z = rng.normal(size=n)
    y = rng.normal(size=60)[client] + 0.7 * rng.normal(size=8)[rater] + 0.5 * x + 0.3 * z + rng.normal(size=n)
    df = pd.DataFrame({"client": client, "rater": rater, "x": x, "z": z, "y": y})
    fit = _fit(df, "y ~ x + z + (1 | client) + (1 | rater)")
    res = cf.decompose(fit, factors={"relationship": ["x"], "extra_therapeutic": ["z"]}, n_boot=0)
    assert set(res.components.measure) == {"variance", "total"}
    assert any("crossed" in n for n in res.notes)
    c = res.components.set_index(["component", "measure"]).estimate
    assert c[("m_rater", "variance")] == pytest.approx(fit.random_cov["rater"].iloc[0, 0], rel=1e-6)
    with pytest.raises(EstimationError, match="crossed"):
        cf.decompose(fit, factors={"relationship": ["x"], "extra_therapeutic": ["z"]}, n_boot=20)


def test_cluster_bootstrap_of_a_three_level_fit():
    df = _four_level(seed=1, n_clinic=8, n_t=3, n_c=4, n_s=4)
    fit = _fit(df, "y ~ session_w + x_w + x_c + x_t + x_k + (1 | clinic) + (1 | therapist) + (1 | client)")
    assert fit.engine == "general"
    res = cf.decompose(fit, factors={"relationship": ["x_w", "x_c", "x_t", "x_k"],
                                     "extra_therapeutic": ["session_w"]}, n_boot=20, seed=2)
    assert res.n_boot == 20 and len(res.replicates) == 20 - res.n_boot_failed
    again = cf.decompose(fit, factors={"relationship": ["x_w", "x_c", "x_t", "x_k"],
                                       "extra_therapeutic": ["session_w"]}, n_boot=20, seed=2)
    pd.testing.assert_frame_equal(res.table, again.table)  # seeded
    t = res.table.dropna(subset=["ci_low"])
    assert len(t) > 10 and (t.ci_low <= t.ci_high).all()
    # shares of mean improvement follow the drawn clusters (and add up to 1 in every replicate)
    reps = res.replicates.filter(like="share_mean_improvement")
    assert reps.shape[1] == 2
    np.testing.assert_allclose(reps.sum(axis=1), 1.0, atol=1e-12)
