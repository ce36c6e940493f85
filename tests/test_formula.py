"""Tests of the formula layer: lme4 random-term grammar and the fixed part through formulaic."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.errors import ColumnError, ModelSpecError
from commonfactors.models import ConvergenceWarning
from commonfactors.models._formula import parse_formula


def _data(seed=0):
    rng = np.random.default_rng(seed)
    n_c, n_s = 40, 6
    c = np.repeat(np.arange(n_c), n_s)
    s = np.tile(np.arange(n_s), n_c).astype(float)
    arm = np.array(["CBT", "IPT", "TAU"])[np.arange(n_c) % 3][c]
    x = rng.uniform(1, 3, c.size)
    y = (10 + np.where(arm == "TAU", 0.0, -1.0) - 0.5 * s + 0.05 * s**2 + np.log(x)
         + rng.normal(0, 1, n_c)[c] + rng.normal(size=c.size))
    return pd.DataFrame({"client": c, "session": s, "arm": arm, "x": x, "y": y,
                         "my score": x + rng.normal(size=c.size)})


def _fit(*a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cf.fit_mixed(*a, **k)


# ------------------------------------------------------------------------- the reported bug
def test_builtins_of_the_formula_language_are_not_columns():
    # was: ColumnError "column 'C' not found in data" (names of functions taken as columns)
    df = _data()
    fit = _fit(df, "y ~ C(arm) + I(session**2) + session + (1 | client)")
    assert "C(arm)[T.IPT]" in fit.fixed.index and "I(session ** 2)" in fit.fixed.index
    # the same model with the squares made by hand: identical estimates (exact arithmetic)
    by_hand = df.assign(s2=df.session**2, ipt=(df.arm == "IPT") * 1.0, tau=(df.arm == "TAU") * 1.0)
    ref = _fit(by_hand, "y ~ ipt + tau + s2 + session + (1 | client)")
    np.testing.assert_allclose(fit.fixed.to_numpy(), ref.fixed.to_numpy(), rtol=1e-8)


def test_named_reference_level_and_transforms():
    df = _data()
    fit = _fit(df, 'y ~ C(arm, Treatment("TAU")) + np.log(x) + poly(session, 2) + (1 | client)')
    cols = list(fit.fixed.index)
    assert "C(arm, Treatment('TAU'))[T.CBT]" in cols and "C(arm, Treatment('TAU'))[T.IPT]" in cols
    assert "np.log(x)" in cols and "poly(session, 2)[2]" in cols
    # TAU as reference: the two dummies are the CBT and IPT contrasts against TAU
    ref = _fit(df.assign(cbt=(df.arm == "CBT") * 1.0, ipt=(df.arm == "IPT") * 1.0, lx=np.log(df.x)),
               "y ~ cbt + ipt + lx + poly(session, 2) + (1 | client)")
    np.testing.assert_allclose(fit.fixed.to_numpy(), ref.fixed.to_numpy(), rtol=1e-8)
    # the stored coding re-codes new data exactly (counterfactual designs)
    new = df.head(5).assign(arm="TAU")
    Xn = fit.design_matrix(new)
    assert (Xn.filter(like="Treatment").to_numpy() == 0).all()
    np.testing.assert_allclose(Xn["poly(session, 2)[1]"], fit.X["poly(session, 2)[1]"].head(5))


def test_splines_operators_and_quoted_names():
    df = _data()
    fit = _fit(df, 'y ~ bs(x, df=4) + session * C(arm) - C(arm) + Q("my score") + (1 | client)')
    cols = list(fit.fixed.index)
    assert sum(c.startswith("bs(x") for c in cols) == 4
    assert "session:C(arm)[T.IPT]" in cols and "C(arm)[T.IPT]" not in cols
    assert "Q('my score')" in cols
    no_int = _fit(df, "y ~ 0 + C(arm) + session + (1 | client)")
    assert "Intercept" not in no_int.fixed.index and len(no_int.fixed) == 4
    minus = _fit(df, "y ~ session + x - 1 + (1 | client)")
    assert list(minus.fixed.index) == ["session", "x"]


def test_user_function_from_the_calling_namespace():
    df = _data()

    def centre(v):
        return v - v.mean()

    fit = cf.fit_mixed(df, "y ~ centre(session) + (1 | client)")  # found where fit_mixed is called
    ref = _fit(df.assign(cs=df.session - df.session.mean()), "y ~ cs + (1 | client)")
    assert fit.fixed.iloc[1] == pytest.approx(ref.fixed.iloc[1], rel=1e-10)


def test_unknown_names_are_clear_errors():
    df = _data()
    with pytest.raises(ColumnError, match="'nosuch' not found"):
        cf.fit_mixed(df, "y ~ C(nosuch) + (1 | client)")
    with pytest.raises(ModelSpecError, match="function 'nofun'"):
        cf.fit_mixed(df, "y ~ nofun(x) + (1 | client)")
    with pytest.raises(ColumnError, match="'my_score' not found"):
        cf.fit_mixed(df, "y ~ my_score + (1 | client)")


# ------------------------------------------------------------------------- random grammar
@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("y ~ x + (1 | g)", [("1", ("g",), "g")]),
        ("y ~ x + (1 | a/b)", [("1", ("a",), "a"), ("1", ("a", "b"), "b:a")]),
        ("y ~ (1 | a/b/c)", [("1", ("a",), "a"), ("1", ("a", "b"), "b:a"),
                             ("1", ("a", "b", "c"), "c:(b:a)")]),
        ("y ~ (1 | a:b)", [("1", ("a", "b"), "a:b")]),
        ("y ~ x + (1 + s || g)", [("1", ("g",), "g"), ("0 + s", ("g",), "g.1")]),
        ("y ~ x + (s || g)", [("1", ("g",), "g"), ("0 + s", ("g",), "g.1")]),
        ("y ~ (1 | g) + (0 + x | g)", [("1", ("g",), "g"), ("0 + x", ("g",), "g.1")]),
        ("y ~ (x | Q('my group'))", [("x", ("my group",), "my group")]),
        ("y ~ x + (1 | r) + (1 | g)", [("1", ("r",), "r"), ("1", ("g",), "g")]),
    ],
)
def test_random_grammar(formula, expected):
    got = [(t.expr, t.factors, t.label) for t in parse_formula(formula).random]
    assert got == expected


def test_fixed_part_keeps_everything_but_random_terms():
    p = parse_formula("y ~ 0 + x + (1 | g) + I(a + b) + (0 + x | g) + z - 1")
    assert p.fixed == "0 + x + I(a + b) + z - 1"
    assert parse_formula("y ~ (1 | g)").fixed == "1"
