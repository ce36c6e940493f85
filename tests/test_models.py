"""Tests of commonfactors.models (fit_mixed, MixedFit, disaggregate, lag_within) and the nested engine."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import commonfactors as cf
from commonfactors.errors import ColumnError, DataValidationError, ModelSpecError
from commonfactors.models import ConvergenceWarning
from commonfactors.models import nested as _nested
from commonfactors.models._nested_deviance import _dev_grad

REF = Path(__file__).parent / "reference"
CASES = REF / "cases.csv"


def _sim(n_t=12, n_c=5, n_s=6, sd_t=0.7, sd_c=1.0, sd_slope=0.0, seed=0, drop=0.0):
    rng = np.random.default_rng(seed)
    t = np.repeat(np.arange(n_t), n_c * n_s)
    c = np.repeat(np.arange(n_t * n_c), n_s)
    s = np.tile(np.arange(n_s), n_t * n_c).astype(float)
    x = rng.normal(size=t.size) + rng.normal(size=n_t * n_c)[c]
    y = (5 + rng.normal(0, sd_t, n_t)[t] + rng.normal(0, sd_c, n_t * n_c)[c]
         + (-0.4 + rng.normal(0, sd_slope, n_t * n_c)[c]) * s + 0.5 * x + rng.normal(size=t.size))
    df = pd.DataFrame({"therapist": [f"T{i}" for i in t], "client": [f"T{i}C{j}" for i, j in zip(t, c, strict=True)],
                       "session": s, "x": x, "y": y})
    if drop:
        df = df.loc[rng.random(len(df)) >= drop].reset_index(drop=True)
    return df


def _fit(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cf.fit_mixed(*args, **kw)


def _var(fit, group, t1, t2=None):
    v = fit.variance
    t2 = t1 if t2 is None else t2
    m = (v.group == group) & (((v.term1 == t1) & (v.term2 == t2)) | ((v.term1 == t2) & (v.term2 == t1)))
    return float(v.loc[m, "estimate"].iloc[0])


# ------------------------------------------------------------------------- R goldens
def _golden_cases():
    if not CASES.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason="tests/reference/cases.csv not written yet"))]
    return [pytest.param(r, id=r["case"]) for r in pd.read_csv(CASES).to_dict("records")]


@pytest.mark.r_reference
@pytest.mark.parametrize("engine", ["nested", "general"])
@pytest.mark.parametrize("case", _golden_cases())
def test_engines_match_lme4(case, engine):
    # values: tests/reference/make_reference.R, lmer(formula, data, REML = reml)
    data = pd.read_csv(REF / case["file"])
    reml = str(case["reml"]).upper() == "TRUE"
    fit = _fit(data, case["formula"], reml=reml, engine=engine)
    assert fit.engine == engine
    fx = pd.read_csv(REF / "golden_fixed.csv").query("case == @case['case']").set_index("term")
    # lme4 and this engine each stop at their own optimiser tolerance (lme4: bobyqa, relative
    # ~1e-6 in theta; here Newton-polished REML): rtol 1e-5 in the estimates and the loglik to
    # 1e-6 absolute (second order at the optimum) rest on that precision, checked on every case
    np.testing.assert_allclose(fit.fixed[fx.index], fx["estimate"], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(fit.std_errors[fx.index], fx["std_error"], rtol=1e-5)
    gv = pd.read_csv(REF / "golden_variance.csv", keep_default_na=False).query("case == @case['case']")
    assert len(gv) == len(fit.variance)
    for r in gv.itertuples():
        est = fit.residual_variance if r.group == "residual" else _var(fit, r.group, r.term1, r.term2)
        assert est == pytest.approx(float(r.estimate), rel=1e-5, abs=1e-7), (r.group, r.term1, r.term2)
    gf = pd.read_csv(REF / "golden_fit.csv").query("case == @case['case']").iloc[0]
    assert fit.loglik == pytest.approx(gf["loglik"], abs=1e-6)
    assert fit.n_obs == gf["n_obs"]
    assert fit.singular == (str(gf["singular"]).upper() == "TRUE")
    assert fit.converged


@pytest.mark.r_reference
@pytest.mark.parametrize("case", _golden_cases())
def test_nested_and_general_engines_agree(case):
    # both minimise the same deviance; agreement limited by optimiser precision: the nested
    # engine stops when L-BFGS-B's relative reduction falls below 1e-12 (|gradient| up to ~3e-4
    # on the deviance scale), the general one polishes with Newton steps to |gradient| < 1e-9;
    # on these cases the variances then differ by up to 4e-6 relative (the general engine's
    # are the closer to lme4's), fixed effects, SEs and logLik by less than 1e-6
    data = pd.read_csv(REF / case["file"])
    reml = str(case["reml"]).upper() == "TRUE"
    a = _fit(data, case["formula"], reml=reml)
    b = _fit(data, case["formula"], reml=reml, engine="general")
    assert a.engine == "nested"
    np.testing.assert_allclose(b.fixed, a.fixed, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b.std_errors, a.std_errors, rtol=1e-6)
    np.testing.assert_allclose(b.variance.estimate, a.variance.estimate, rtol=1e-5, atol=1e-9)
    assert b.loglik == pytest.approx(a.loglik, abs=1e-7)


# ------------------------------------------------------------------------- engines agree
@pytest.mark.parametrize("formula", ["y ~ session + x + (1 | client)",
                                     "y ~ session + x + (1 | therapist) + (1 | client)"])
def test_fast_matches_statsmodels(formula):
    df = _sim(seed=2)
    fast = _fit(df, formula, engine="fast")
    ref = _fit(df, formula, engine="statsmodels")
    assert ref.converged and fast.converged and not fast.singular
    # statsmodels' MixedLM stops at its own gradient tolerance (looser than ours): 1e-4 in the
    # fixed effects and 1e-3 in the variances are what its optimiser reaches on these data
    np.testing.assert_allclose(fast.fixed, ref.fixed, rtol=1e-4)
    np.testing.assert_allclose(fast.variance.estimate, ref.variance.estimate, rtol=1e-3)
    assert fast.loglik == pytest.approx(ref.loglik, abs=1e-5)
    np.testing.assert_allclose(fast.std_errors, ref.std_errors, rtol=5e-3)


def test_statsmodels_refuses_inner_slopes_with_outer_factor():
    with pytest.raises(ModelSpecError, match="use engine='fast'"):
        cf.fit_mixed(_sim(), "y ~ session + (1 | therapist) + (1 + session | client)",
                     engine="statsmodels")


# ------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("formula", "err", "match"),
    [
        ("y ~ nosuch + (1 | client)", ColumnError, "'nosuch' not found"),
        ("y ~ x + (1 | nosuch)", ColumnError, "'nosuch' not found"),
        ("y ~ x", ModelSpecError, "no random term"),
        ("y ~ x + (1 | therapist + client)", ModelSpecError, "one term per factor"),
        ("y ~ x (1 | client)", ModelSpecError, "must be added with"),
        ("y ~ x + (1 | client) + (1 | nosuch/client)", ColumnError, "'nosuch' not found"),
        ("y ~ nosuchfun(x) + (1 | client)", ModelSpecError, "function 'nosuchfun'"),
        ("y ~ x + (1 | client", ModelSpecError, "unbalanced"),
        ("y ~ x + x2 + (1 | client)", ModelSpecError, "x2"),
        ("label ~ x + (1 | client)", ColumnError, "must be numeric"),
    ],
)
def test_bad_formulas(formula, err, match):
    df = _sim()
    df["x2"] = 2 * df["x"] + 1
    df["label"] = "a"
    with pytest.raises(err, match=match):
        cf.fit_mixed(df, formula)


def test_bad_options_and_structures():
    df = _sim()
    with pytest.raises(ValueError, match="`engine`"):
        cf.fit_mixed(df, "y ~ x + (1 | client)", engine="lme4")
    with pytest.raises(DataValidationError, match="at least 2 groups"):
        cf.fit_mixed(df.assign(g="one"), "y ~ x + (1 | g)")
    crossed = df.assign(rater=np.arange(len(df)) % 3)
    with pytest.raises(ModelSpecError, match="nested engine takes"):
        cf.fit_mixed(crossed, "y ~ x + (1 | rater) + (1 | client)", engine="nested")
    with pytest.raises(ModelSpecError, match="statsmodels takes"):
        cf.fit_mixed(crossed, "y ~ x + (1 | rater) + (1 | client)", engine="statsmodels")
    with pytest.raises(ModelSpecError, match="not identifiable"):
        cf.fit_mixed(df.assign(row=np.arange(len(df))), "y ~ x + (1 | row)")
    with pytest.raises(ColumnError, match="DataFrame"):
        cf.fit_mixed(df.to_numpy(), "y ~ x + (1 | client)")


def test_missing_rows_dropped_and_counted():
    df = _sim()
    df.loc[[0, 5, 9], "x"] = np.nan
    df.loc[[5, 11], "y"] = np.nan
    before = df.copy()
    fit = _fit(df, "y ~ x + (1 | client)")
    assert fit.n_dropped == 4 and fit.n_obs == len(df) - 4
    assert any("x (3)" in w and "y (2)" in w for w in fit.warnings)
    pd.testing.assert_frame_equal(df, before)  # caller's data untouched
    with pytest.raises(ColumnError, match="4 row\\(s\\).*x \\(3\\)"):
        cf.fit_mixed(df, "y ~ x + (1 | client)", missing="raise")


# ------------------------------------------------------------------------- edge structures
def test_singular_fit_flagged_with_warning():
    df = _sim(sd_t=0.0, seed=1)
    # remove every therapist difference so the therapist variance is 0
    df["y"] = df["y"] - df.groupby("therapist")["y"].transform("mean") + df["y"].mean()
    with pytest.warns(ConvergenceWarning, match="singular"):
        fit = cf.fit_mixed(df, "y ~ x + (1 | therapist) + (1 | client)")
    assert fit.singular and fit.converged
    assert _var(fit, "therapist", "Intercept") < 1e-8


def test_one_client_per_therapist():
    df = _sim(n_t=30, n_c=1, seed=2)
    with pytest.warns(ConvergenceWarning, match="not separately identified"):
        both = cf.fit_mixed(df, "y ~ x + (1 | therapist) + (1 | client)")
    one = _fit(df, "y ~ x + (1 | client)")
    total = _var(both, "therapist", "Intercept") + _var(both, "client", "Intercept")
    # two optimisations (one on a ridge where only the sum is identified): the sum agrees to the
    # optimiser's precision, the loglik to second order; fixed effects in units of their SE
    assert total == pytest.approx(_var(one, "client", "Intercept"), rel=1e-4)
    assert both.loglik == pytest.approx(one.loglik, abs=1e-6)
    np.testing.assert_array_less(np.abs(both.fixed - one.fixed), 1e-3 * one.std_errors)


def test_therapist_with_one_client_and_client_with_one_session():
    df = _sim(seed=4)
    keep = ~df.client.isin([f"T0C{j}" for j in range(1, 5)])  # therapist T0 keeps one client
    keep &= ~((df.client == "T1C5") & (df.session > 0))  # client T1C5 keeps one session
    df = df.loc[keep]
    f = "y ~ session + x + (1 | therapist) + (1 | client)"
    fast, ref = _fit(df, f), _fit(df, f, engine="statsmodels")
    assert fast.converged and fast.n_groups == {"client": 56, "therapist": 12}
    np.testing.assert_allclose(fast.fixed, ref.fixed, rtol=1e-4)
    np.testing.assert_allclose(fast.variance.estimate, ref.variance.estimate, rtol=1e-3)
    assert "T1C5" in fast.ranef()["client"].index


# ------------------------------------------------------------------------- BLUPs, predict
def test_ranef_and_predict_match_dense_formulas():
    df = _sim(n_t=6, n_c=3, n_s=4, sd_slope=0.2, seed=5)
    fit = _fit(df, "y ~ session + x + (1 | therapist) + (1 + session | client)")
    X, y = fit.X.to_numpy(), fit.y.to_numpy()
    ci, cl = pd.factorize(df.client)
    ti, tl = pd.factorize(df.therapist)
    Zi = fit.Z["client"].to_numpy()
    W = np.zeros((len(df), 2 * len(cl) + len(tl)))
    for r in range(len(df)):
        W[r, 2 * ci[r]:2 * ci[r] + 2] = Zi[r]
        W[r, 2 * len(cl) + ti[r]] = 1.0
    G = np.kron(np.eye(len(cl)), fit.random_cov["client"].to_numpy())
    G = np.block([[G, np.zeros((G.shape[0], len(tl)))],
                  [np.zeros((len(tl), G.shape[0])), fit.random_cov["therapist"].iloc[0, 0] * np.eye(len(tl))]])
    V = W @ G @ W.T + fit.residual_variance * np.eye(len(df))
    u = G @ W.T @ np.linalg.solve(V, y - X @ fit.fixed.to_numpy())
    # conditional variance with b known: G - G W' V^-1 W G
    cv = G - G @ W.T @ np.linalg.solve(V, W @ G)
    re = fit.ranef(condvar=True)
    # same fitted parameters on both sides: only linear algebra differs (dense solve vs the
    # engine's per-cluster formulas), so 1e-6 relative is many orders above rounding error
    np.testing.assert_allclose(re["client"].loc[cl, ["Intercept", "session"]].to_numpy().ravel(),
                               u[: 2 * len(cl)], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(re["therapist"].loc[tl, "Intercept"], u[2 * len(cl):], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(re["client"].loc[cl, "session_se"],
                               np.sqrt(np.diag(cv)[1: 2 * len(cl): 2]), rtol=1e-6)
    np.testing.assert_allclose(fit.predict(random=True), X @ fit.fixed.to_numpy() + W @ u, rtol=1e-8)
    np.testing.assert_allclose(fit.predict(df.head(3)), (X @ fit.fixed.to_numpy())[:3])
    # generalised least squares identity for b and its covariance
    Vi = np.linalg.inv(V)
    np.testing.assert_allclose(fit.fixed_cov, np.linalg.inv(X.T @ Vi @ X), rtol=1e-6)
    assert "Fixed effects" in str(fit) and "<table" in fit._repr_html_()


# ------------------------------------------------------------------------- invariants
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shift=st.floats(-50, 50), scale=st.floats(0.2, 20), seed=st.integers(0, 10_000))
def test_shift_and_rescale_outcome(shift, scale, seed):
    df = _sim(n_t=8, n_c=4, n_s=4, seed=seed % 7)
    f = "y ~ session + x + (1 | therapist) + (1 | client)"
    base = _fit(df, f)
    moved = _fit(df.assign(y=shift + scale * df.y), f)
    # two optimisations, theta agrees to the optimiser's precision (~1e-6 relative); fixed
    # effects and variances inherit it; the margins are 10-1000x that precision
    np.testing.assert_allclose(moved.fixed.iloc[1:], scale * base.fixed.iloc[1:], rtol=1e-5, atol=1e-7 * scale)
    assert moved.fixed["Intercept"] == pytest.approx(shift + scale * base.fixed["Intercept"], rel=1e-5, abs=1e-6 * scale)
    np.testing.assert_allclose(moved.variance.estimate, scale**2 * base.variance.estimate,
                               rtol=1e-4, atol=1e-7 * scale**2)
    np.testing.assert_allclose(moved.theta, base.theta, rtol=1e-3, atol=1e-5)


def test_row_order_and_id_labels_do_not_matter():
    df = _sim(drop=0.1, seed=6)
    f = "y ~ session + x + (1 | therapist) + (1 | client)"
    base = _fit(df, f)
    rng = np.random.default_rng(0)
    perm = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    relab = perm.assign(client=perm.client.map(lambda s: f"z{s[::-1]}"),
                        therapist=perm.therapist.map({t: int(rng.integers(1e6)) * 10 + i for i, t in
                                                      enumerate(perm.therapist.unique())}))
    for other in (_fit(perm, f), _fit(relab, f)):
        # Row order changes only the order of floating-point sums, but each fit is a separate
        # optimisation that stops at the optimiser's tolerance (about 1e-6 relative in theta
        # when the Newton polish is not reached): fixed effects in units of their SE, the
        # variances to 1e-3 relative; the loglik is flat at the optimum (second order), 1e-8.
        np.testing.assert_array_less(np.abs(other.fixed - base.fixed), 1e-3 * base.std_errors)
        np.testing.assert_allclose(other.variance.estimate, base.variance.estimate, rtol=1e-3)
        assert other.loglik == pytest.approx(base.loglik, abs=1e-8)


# ------------------------------------------------------------------------- _nested internals
def _stats(df, slope=False):
    X = np.column_stack([np.ones(len(df)), df.session, df.x])
    Zi = np.column_stack([np.ones(len(df)), df.session]) if slope else np.ones((len(df), 1))
    return _nested.NestedStats.from_arrays(X, df.y, Zi, np.ones((len(df), 1)),
                                           pd.factorize(df.client)[0], pd.factorize(df.therapist)[0])


@pytest.mark.parametrize("slope", [False, True])
@pytest.mark.parametrize("reml", [True, False])
def test_analytic_gradient(slope, reml):
    s = _stats(_sim(seed=7, sd_slope=0.2), slope)
    theta = np.array([0.9, 0.1, 0.3, 0.6]) if slope else np.array([0.9, 0.6])
    f, g = _dev_grad(s, theta, reml)
    assert f == pytest.approx(_nested.profiled_deviance(s, theta, reml), rel=1e-12)
    h = 1e-5
    fd = [(_nested.profiled_deviance(s, theta + h * e, reml)
           - _nested.profiled_deviance(s, theta - h * e, reml)) / (2 * h) for e in np.eye(theta.size)]
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-4)


def test_select_resample_and_moments():
    df = _sim(seed=8)
    s = _stats(df)
    full = _nested.fit_nested(s)
    sub = _nested.fit_nested(s.select([0, 2]))
    ref = _fit(df, "y ~ x + (1 | therapist) + (1 | client)")
    # separate optimisations: agreement to the optimiser's precision, in units of the SE
    se = ref.std_errors.to_numpy()
    np.testing.assert_array_less(np.abs(sub.beta - ref.fixed.to_numpy()), 1e-3 * se)
    # identity resample = same fit; a warm start at the optimum stops at once (same theta, same
    # arithmetic up to summation order), hence 1e-8
    same = _nested.fit_nested(s.resample(np.arange(s.n_outer)), theta0=full.theta)
    np.testing.assert_allclose(same.beta, full.beta, rtol=1e-8)
    assert same.n_eval < full.n_eval
    # duplicated therapist = data with a copied therapist under new ids
    idx = np.array([0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    boot = _nested.fit_nested(s.resample(idx))
    parts = []
    for k, j in enumerate(idx):
        part = df[df.therapist == f"T{j}"].copy()
        parts.append(part.assign(therapist=f"B{k}", client=part.client + f"_{k}"))
    dup = _fit(pd.concat(parts), "y ~ session + x + (1 | therapist) + (1 | client)")
    np.testing.assert_array_less(np.abs(boot.beta - dup.fixed.to_numpy()),
                                 1e-3 * dup.std_errors.to_numpy())
    assert boot.s2 == pytest.approx(dup.residual_variance, rel=1e-4)
    # inner resampling: all clients of each therapist, listed explicitly = identity
    inner = [s.inner_groups_of(j) for j in range(s.n_outer)]
    again = _nested.fit_nested(s.resample(np.arange(s.n_outer), inner))  # a fresh optimisation
    np.testing.assert_array_less(np.abs(again.beta - full.beta), 1e-3 * np.sqrt(np.diag(full.vcov)))
    drawn = s.draw(np.random.default_rng(0), inner=True)
    assert drawn.n_outer == s.n_outer and drawn.gg[-1, -1] > 0
    np.testing.assert_allclose(s.x_cov()[1:, 1:], np.cov(df[["session", "x"]].T), rtol=1e-10)
    assert s.z_mean() == pytest.approx([1.0])
    assert s.y_var() == pytest.approx(df.y.var())


def test_nonconvergence_is_reported():
    s = _stats(_sim(seed=9))
    core = _nested.fit_nested(s, maxiter=1)
    assert not core.converged and "did not converge" in core.message


# ------------------------------------------------------------------------- helpers
def test_disaggregate_parts_orthogonal_and_sum():
    df = _sim(drop=0.2, seed=10)
    out = cf.disaggregate(df, ["x", "session"])
    assert "x_w" not in df.columns  # copy
    for x in ("x", "session"):
        parts = out[[f"{x}_w", f"{x}_c", f"{x}_t"]].to_numpy()
        np.testing.assert_allclose(parts.sum(1), df[x] - df[x].mean(), atol=1e-10)
        gram = parts.T @ parts
        np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0, atol=1e-8)
    two = cf.disaggregate(df, "x", therapist=None)
    np.testing.assert_allclose(two.x_w + two.x_c, df.x - df.x.mean(), atol=1e-12)
    assert "x_t" not in two
    with pytest.raises(ColumnError, match="'client'"):
        cf.disaggregate(df.drop(columns="client"), "x")


@pytest.mark.r_reference
def test_disaggregate_matches_golden():
    path = REF / "golden_disaggregate.csv"
    if not path.exists():
        pytest.skip("tests/reference/golden_disaggregate.csv not written yet")
    gold = pd.read_csv(path).query("case == 'growth3' and column == 'alliance'")
    data = pd.read_csv(REF / "data" / "growth3.csv")
    out = cf.disaggregate(data, "alliance").iloc[gold["row"].to_numpy()]
    for part in ("w", "c", "t"):
        np.testing.assert_allclose(out[f"alliance_{part}"], gold[f"x_{part}"], atol=1e-10)


def test_lag_within_hand_example():
    df = pd.DataFrame({"client": ["a", "a", "a", "b", "b"], "session": [2, 0, 1, 0, 3],
                       "alliance": [3.0, 1.0, 2.0, 5.0, 7.0], "outcome": [10.0, 14.0, 12.0, 9.0, 6.0]})
    out = cf.lag_within(df, "alliance", reverse=True)
    # client a: mean 2 -> within [1, -1, 0] at rows (0, 1, 2); client b: mean 6 -> [-1, 1]
    np.testing.assert_allclose(out["alliance_w"], [1.0, -1.0, 0.0, -1.0, 1.0])
    np.testing.assert_allclose(out["alliance_w_lag1"], [0.0, np.nan, -1.0, np.nan, -1.0])
    np.testing.assert_allclose(out["outcome_lag1"], [12.0, np.nan, 14.0, np.nan, 9.0])
    np.testing.assert_allclose(out["outcome_change_lag1"], [-2.0, np.nan, 0.0, np.nan, 0.0])
    assert list(out.index) == list(df.index) and "alliance_w" not in df
