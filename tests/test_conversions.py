"""Tests for commonfactors.conversions: published pairs, round trips, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commonfactors.conversions import besd, d_to_icc, d_to_r, d_to_r2, icc_to_d, r_to_d, r_to_r2
from commonfactors.errors import CommonFactorsError

# --- published pairs -------------------------------------------------------------------------


def test_flueckiger_2018_r_and_d_agree_to_three_decimals():
    # Flückiger et al. 2018: alliance r = .278, reported as d = .579
    assert round(r_to_d(0.278), 3) == 0.579
    assert round(d_to_r(0.579), 3) == 0.278
    assert r_to_d(0.278) == pytest.approx(0.57882, abs=1e-5)


def test_wampold_therapist_d_and_icc_rounding():
    # Wampold 2015: therapist effects d .35 to .55 <-> ICC .03 to .07.
    # Exact: d .35 -> ICC .0297, d .55 -> ICC .0703; ICC .03 -> d .3517, ICC .07 -> d .5487.
    assert d_to_icc(0.35) == pytest.approx(0.029715, abs=1e-6)
    assert d_to_icc(0.55) == pytest.approx(0.070308, abs=1e-6)
    assert round(d_to_icc(0.35), 2) == 0.03
    assert round(d_to_icc(0.55), 2) == 0.07
    assert icc_to_d(0.03) == pytest.approx(0.35173, abs=1e-5)
    assert icc_to_d(0.07) == pytest.approx(0.54870, abs=1e-5)
    assert round(icc_to_d(0.03), 2) == 0.35
    assert round(icc_to_d(0.07), 2) == 0.55


def test_psychotherapy_vs_none_d_080_is_about_14_percent():
    # d = .80 -> r = .371, r^2 = .138 ("about 14% of variance")
    assert d_to_r(0.80) == pytest.approx(0.37139, abs=1e-5)
    assert d_to_r2(0.80) == pytest.approx(0.13793, abs=1e-5)
    assert round(d_to_r2(0.80), 2) == 0.14
    assert r_to_r2(d_to_r(0.80)) == pytest.approx(d_to_r2(0.80))


def test_constantino_expectancy_rounding_is_stated_honestly():
    # Constantino et al. 2018: r = .18, d = .36. d .36 -> r .177 (rounds to .18);
    # r .18 -> d .366, which rounds to .37, not .36: the published d was computed from an
    # unrounded r (about .177).
    assert d_to_r(0.36) == pytest.approx(0.17715, abs=1e-5)
    assert round(d_to_r(0.36), 2) == 0.18
    assert r_to_d(0.18) == pytest.approx(0.36598, abs=1e-5)
    assert round(r_to_d(0.18), 2) == 0.37
    assert r_to_r2(0.18) == pytest.approx(0.0324)


def test_icc_to_d_equals_r_to_d_of_sqrt_icc():
    icc = np.array([0.0, 0.01, 0.05, 0.2, 0.6])
    np.testing.assert_allclose(icc_to_d(icc), r_to_d(np.sqrt(icc)))


# --- vectorisation and missing values --------------------------------------------------------


def test_vectorised_shapes_and_types():
    r = np.array([[0.1, 0.2], [0.3, -0.4]])
    out = r_to_d(r)
    assert isinstance(out, np.ndarray) and out.shape == (2, 2)
    np.testing.assert_allclose(out, 2 * r / np.sqrt(1 - r**2))
    assert isinstance(r_to_d(0.1), float)
    assert isinstance(d_to_r([0.1, 0.2]), np.ndarray)
    np.testing.assert_allclose(d_to_r([0.0, 2.0]), [0.0, 2.0 / np.sqrt(8.0)])


def test_nan_passes_through():
    out = r_to_d([0.2, np.nan])
    assert np.isfinite(out[0]) and np.isnan(out[1])
    assert np.isnan(d_to_icc(np.nan))


def test_sign_is_kept_for_r_and_d():
    assert r_to_d(-0.278) == pytest.approx(-r_to_d(0.278))
    assert d_to_r(-0.5) == pytest.approx(-d_to_r(0.5))
    assert d_to_r2(-0.5) == pytest.approx(d_to_r2(0.5))


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [1.0, -1.0, 1.5, [0.2, 1.2]])
def test_r_to_d_rejects_r_outside_open_interval(bad):
    with pytest.raises(CommonFactorsError, match=r"`r`: expecting a correlation with -1 < r < 1"):
        r_to_d(bad)


def test_r_to_r2_rejects_r_above_one():
    with pytest.raises(CommonFactorsError, match=r"`r`.*-1 <= r <= 1; got 1.1"):
        r_to_r2(1.1)


@pytest.mark.parametrize("bad", [-0.01, 1.0, 2.0])
def test_icc_to_d_rejects_icc_outside_range(bad):
    with pytest.raises(CommonFactorsError, match=r"`icc`: expecting an ICC with 0 <= icc < 1"):
        icc_to_d(bad)


def test_d_to_icc_rejects_negative_d():
    with pytest.raises(CommonFactorsError, match=r"`d`: expecting a non-negative"):
        d_to_icc(-0.2)


def test_infinite_and_non_numeric_rejected():
    with pytest.raises(CommonFactorsError, match=r"`d`: expecting finite values"):
        d_to_r(np.inf)
    with pytest.raises(CommonFactorsError, match=r"`r`: expecting a number"):
        r_to_d("big")


def test_error_counts_several_bad_values():
    with pytest.raises(CommonFactorsError, match=r"2 values out of range"):
        r_to_d([0.1, 1.0, -3.0])


# --- binomial effect size display ------------------------------------------------------------


def test_besd_values_and_shape():
    tab = besd(0.278)
    assert list(tab.columns) == ["group", "success", "failure"]
    assert list(tab["group"]) == ["treatment", "control"]
    np.testing.assert_allclose(tab["success"], [0.639, 0.361])
    np.testing.assert_allclose(tab["success"] + tab["failure"], 1.0)
    # the difference in success rates equals r
    assert tab["success"].iloc[0] - tab["success"].iloc[1] == pytest.approx(0.278)


def test_besd_errors():
    with pytest.raises(CommonFactorsError, match=r"`r`: expecting a single correlation"):
        besd([0.1, 0.2])
    with pytest.raises(CommonFactorsError, match=r"`r`: expecting a correlation"):
        besd(1.2)
    with pytest.raises(CommonFactorsError, match=r"`r`: expecting a correlation"):
        besd(float("nan"))


# --- round trips (hypothesis) ----------------------------------------------------------------

finite_r = st.floats(min_value=-0.999, max_value=0.999, allow_nan=False)
finite_d = st.floats(min_value=-20.0, max_value=20.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(finite_r)
def test_round_trip_r_d_r(r):
    assert d_to_r(r_to_d(r)) == pytest.approx(r, abs=1e-10)


@settings(max_examples=200, deadline=None)
@given(finite_d)
def test_round_trip_d_r_d(d):
    assert r_to_d(d_to_r(d)) == pytest.approx(d, rel=1e-9, abs=1e-10)
    assert d_to_r2(d) == pytest.approx(d_to_r(d) ** 2, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.0, max_value=0.99, allow_nan=False))
def test_round_trip_icc_d_icc(icc):
    assert d_to_icc(icc_to_d(icc)) == pytest.approx(icc, abs=1e-10)


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=0.0, max_value=20.0, allow_nan=False))
def test_d_to_icc_is_monotone_and_bounded(d):
    icc = d_to_icc(d)
    assert 0.0 <= icc < 1.0
    assert d_to_icc(d + 0.1) > icc
