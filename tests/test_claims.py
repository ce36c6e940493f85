"""Tests for commonfactors.claims: the registry of docs/claims.md and claim-vs-estimate tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors.claims import ESTIMANDS, STATUSES, Claim, Registry
from commonfactors.errors import ClaimError, ColumnError

# every id of docs/claims.md, both tables, in order
CLAIMS_MD_IDS = [
    "seed_relationship_low", "seed_relationship_reserved", "seed_relationship_high",
    "seed_technique", "seed_expectancy", "seed_extra",
    "lambert_1992", "norcross_lambert_2011", "cuijpers_2012", "flueckiger_2018_alliance",
    "flueckiger_2020_adjusted", "baldwin_2007", "elliott_2018_empathy",
    "constantino_2018_expectancy", "tryon_2018", "therapist_effects", "wampold_brown_2005",
    "saxon_barkham_2012", "schiefele_2017", "wampold_2015_summary", "wampold_1997",
    "bell_2013_components", "psychotherapy_vs_none", "whiteford_2013", "waitlist_change",
    "kirsch_1998", "laska_2014",
]


def _parts(reg, claim_id, **kw):
    return {(c.factor, c.estimand, c.component): c for c in reg.get(claim_id, **kw)}


# --- the registry ----------------------------------------------------------------------------


def test_registry_holds_every_claims_md_row_in_order():
    tab = cf.claims_registry(registry=Registry())
    assert list(dict.fromkeys(tab["id"])) == CLAIMS_MD_IDS
    assert list(tab.columns) == ["id", "factor", "component", "estimand", "value", "low", "high",
                                 "text", "source", "status", "derived_from", "note"]
    assert set(tab["estimand"]) <= set(ESTIMANDS)
    assert set(tab["status"]) <= set(STATUSES)
    assert not tab.duplicated(["id", "component", "estimand"]).any()
    assert (tab["text"].str.len() > 0).all() and (tab["source"].str.len() > 0).all()
    # ranges are ordered and points lie inside their intervals
    rng = tab.dropna(subset=["low"])
    assert (rng["low"] <= rng["high"]).all()
    pts = rng.dropna(subset=["value"])
    assert ((pts["low"] <= pts["value"]) & (pts["value"] <= pts["high"])).all()


def test_multi_part_claims_sum_to_one():
    reg = Registry()
    tab = reg.table()
    for cid, estimand in [("lambert_1992", "share_mean_improvement"),
                          ("norcross_lambert_2011", "share_total_variance"),
                          ("cuijpers_2012", "share_mean_improvement"),
                          ("kirsch_1998", "share_mean_improvement")]:
        rows = tab[(tab["id"] == cid) & (tab["estimand"] == estimand)]
        assert rows["value"].sum() == pytest.approx(1.0, abs=1e-9), cid
    lam = {c.factor: c.value for c in reg.get("lambert_1992")}
    assert lam == {"extra_therapeutic": 0.40, "relationship": 0.30, "expectancy": 0.15,
                   "technique": 0.15}
    cui = {c.factor: c.value for c in reg.get("cuijpers_2012")}
    assert cui == {"extra_therapeutic": 0.333, "nonspecific": 0.496, "technique": 0.171}


def test_seed_claims_as_specified():
    reg = Registry()
    (low,) = reg.get("seed_relationship_low")
    assert (low.factor, low.estimand, low.value) == ("relationship", "share_total_variance", 0.12)
    (res,) = reg.get("seed_relationship_reserved")
    assert (res.estimand, res.low, res.high, res.value) == ("share_therapy_variance", 0.4, 0.5,
                                                            None)
    (high,) = reg.get("seed_relationship_high")
    assert high.status == "unsupported"
    assert high.estimand == "share_mean_improvement" and high.value == 0.80
    assert "unclear" in high.note
    (tech,) = reg.get("seed_technique")
    (exp,) = reg.get("seed_expectancy")
    assert tech.value == exp.value == 0.15
    assert tech.estimand == exp.estimand == "share_mean_improvement"
    (extra,) = reg.get("seed_extra")
    assert extra.value is None and not extra.is_numeric
    assert "the remainder" in extra.note
    assert math.isnan(extra.claimed_low)


def test_derived_variance_shares_from_r_and_d():
    reg = Registry()
    fl = _parts(reg, "flueckiger_2018_alliance")
    r = fl[("relationship", "correlation", "alliance")]
    assert (r.value, r.low, r.high) == (0.278, 0.256, 0.299)
    assert fl[("relationship", "cohens_d", "alliance")].value == 0.579
    r2 = fl[("relationship", "share_total_variance", "alliance")]
    assert r2.derived_from == "r_to_r2"
    assert r2.value == pytest.approx(0.278**2)
    assert (r2.low, r2.high) == pytest.approx((0.256**2, 0.299**2))
    assert round(r2.value, 3) == 0.077  # "r^2 = 7.7% of total variance"
    # psychotherapy vs none: d .80 -> about 14% of variance
    (share,) = reg.get("psychotherapy_vs_none", estimand="share_total_variance")
    assert share.derived_from == "d_to_r2" and round(share.value, 2) == 0.14
    # constantino: r .18 -> r^2 3.2%
    (c2,) = reg.get("constantino_2018_expectancy", estimand="share_total_variance")
    assert c2.value == pytest.approx(0.0324)
    # therapist d .35-.55 -> ICC .0297-.0703
    (icc,) = reg.get("wampold_2015_summary", factor="therapist", estimand="icc_therapist")
    assert icc.derived_from == "d_to_icc"
    assert (icc.low, icc.high) == pytest.approx((0.029715, 0.070308), abs=1e-6)
    # the adjusted correlation gets no derived variance share (partial r^2 is not of total)
    assert [c.estimand for c in reg.get("flueckiger_2020_adjusted")] == ["correlation"]
    # every derived row has a numeric parent of the same id and component
    tab = reg.table()
    for rec in tab.dropna(subset=["derived_from"]).to_dict("records"):
        parent = tab[(tab["id"] == rec["id"]) & (tab["component"] == rec["component"])
                     & tab["derived_from"].isna()]
        assert len(parent) >= 1, rec["id"]


def test_norcross_lambert_re_expressed_with_other_denominators():
    reg = Registry()
    nl = _parts(reg, "norcross_lambert_2011", factor="relationship")
    assert nl[("relationship", "share_explained_variance", "relationship")].value == \
        pytest.approx(0.20)
    assert nl[("relationship", "share_therapy_variance", "relationship")].value == \
        pytest.approx(0.40)


def test_get_claim_unknown_id_suggests_close_match():
    with pytest.raises(ClaimError, match=r"unknown claim 'lambert_1993'.*'lambert_1992'"):
        cf.get_claim("lambert_1993")
    with pytest.raises(ClaimError, match=r"no part with factor='client'"):
        cf.get_claim("lambert_1992", factor="client")


def test_get_claim_returns_tuple_of_claims():
    out = cf.get_claim("wampold_brown_2005")
    assert isinstance(out, tuple) and len(out) == 1 and isinstance(out[0], Claim)
    assert out[0].estimand == "icc_therapist" and out[0].value == 0.05


# --- adding claims ---------------------------------------------------------------------------


def test_add_claim_to_own_registry_does_not_touch_default():
    n_default = len(cf.claims_registry())
    reg = Registry()
    c = cf.add_claim("my_trial", factor="relationship", estimand="share_total_variance",
                     low=0.05, high=0.09, registry=reg)
    assert c.text == "0.05-0.09" and c.component == "relationship"
    assert "my_trial" in reg and "my_trial" not in cf.claims_registry()["id"].tolist()
    assert len(cf.claims_registry()) == n_default
    # a copy is independent
    other = reg.copy()
    cf.add_claim("second", factor="technique", estimand="part_r2", value=0.01, registry=other)
    assert "second" in other and "second" not in reg


def test_add_claim_unknown_estimand_lists_known_ones():
    with pytest.raises(ClaimError, match=r"unknown estimand 'variance_share'.*share_total_variance"
                       r".*share_mean_improvement"):
        cf.add_claim("x", factor="relationship", estimand="variance_share", value=0.1,
                     registry=Registry(builtin=False))


def test_add_claim_duplicate_rejected():
    reg = Registry()
    with pytest.raises(ClaimError, match=r"'seed_relationship_low'.*already registered"):
        cf.add_claim("seed_relationship_low", factor="relationship",
                     estimand="share_total_variance", value=0.2, registry=reg)
    # same id and factor, other estimand: a new part
    cf.add_claim("seed_relationship_low", factor="relationship", estimand="part_r2", value=0.05,
                 registry=reg)
    assert len(reg.get("seed_relationship_low")) == 2


@pytest.mark.parametrize(
    "kw, pattern",
    [
        (dict(value=0.1, status="rumour"), r"`status`: expecting one of"),
        (dict(low=0.5, high=0.4), r"`low` must not exceed `high`"),
        (dict(low=0.5), r"give both `low` and `high`"),
        (dict(value=0.9, low=0.1, high=0.2), r"`value` 0.9 lies outside"),
        (dict(value=float("nan")), r"`value`: expecting a finite number"),
        (dict(value="big"), r"`value`: expecting a number"),
    ],
)
def test_add_claim_validation(kw, pattern):
    with pytest.raises(ClaimError, match=pattern):
        cf.add_claim("x", factor="relationship", estimand="share_total_variance",
                     registry=Registry(builtin=False), **kw)


def test_claim_id_validated():
    with pytest.raises(ClaimError, match=r"`id`: expecting a non-empty name"):
        Claim(id="", factor="relationship", estimand="part_r2", value=0.1)
    with pytest.raises(ClaimError, match=r"`registry`: expecting a Registry"):
        cf.claims_registry(registry="default")


# --- compare_claims --------------------------------------------------------------------------


def _table(rows):
    return pd.DataFrame(rows, columns=["factor", "estimand", "estimate", "ci_low", "ci_high"])


def test_compare_point_and_range_claims():
    est = _table([
        ("relationship", "share_total_variance", 0.10, 0.08, 0.115),
        ("relationship", "share_therapy_variance", 0.30, 0.22, 0.41),
        ("relationship", "share_mean_improvement", 0.55, 0.45, 0.62),
    ])
    out = cf.compare_claims(est, claims=["seed_relationship_low", "seed_relationship_reserved",
                                         "seed_relationship_high", "lambert_1992"])
    v = dict(zip(out["claim"] + ":" + out["factor"], out["verdict"], strict=True))
    # .12 is above [.08, .115]
    assert v["seed_relationship_low:relationship"] == "inconsistent"
    row = out[out["claim"] == "seed_relationship_low"].iloc[0]
    assert row["reason"].startswith("claim above the estimate")
    assert (row["claimed_low"], row["claimed_high"], row["estimate"]) == (0.12, 0.12, 0.10)
    # [.40, .50] overlaps [.22, .41]
    assert v["seed_relationship_reserved:relationship"] == "consistent"
    # .80 above [.45, .62]; lambert relationship .30 below it
    assert v["seed_relationship_high:relationship"] == "inconsistent"
    lam = out[(out["claim"] == "lambert_1992") & (out["factor"] == "relationship")].iloc[0]
    assert lam["verdict"] == "inconsistent" and lam["reason"].startswith("claim below")
    # lambert's other parts: factors absent from the data
    lam_other = out[(out["claim"] == "lambert_1992") & (out["factor"] != "relationship")]
    assert set(lam_other["verdict"]) == {"not estimable here"}


def test_compare_only_same_estimand_and_factor():
    # a .12 share of *explained* variance must not be read against the .12 total-variance claim
    est = _table([("relationship", "share_explained_variance", 0.12, 0.10, 0.14),
                  ("technique", "share_total_variance", 0.12, 0.10, 0.14)])
    out = cf.compare_claims(est, claims="seed_relationship_low")
    assert len(out) == 1
    assert out["verdict"].iloc[0] == "not estimable here"
    assert np.isnan(out["estimate"].iloc[0])
    assert "no share_total_variance estimate for factor relationship" in out["reason"].iloc[0]


def test_compare_published_interval_overlap():
    # flueckiger r^2 [.0655, .0894] vs estimate interval [.085, .12]: overlap
    est = _table([("relationship", "share_total_variance", 0.10, 0.085, 0.12)])
    out = cf.compare_claims(est, claims=["flueckiger_2018_alliance"])
    der = out[out["estimand"] == "share_total_variance"].iloc[0]
    assert der["verdict"] == "consistent"
    assert der["claimed_low"] == pytest.approx(0.256**2)
    other = out[out["estimand"] != "share_total_variance"]
    assert set(other["verdict"]) == {"not estimable here"}
    assert other["reason"].str.contains("not a decomposition estimand").all()


def test_compare_not_estimable_reasons():
    est = _table([("technique", "share_total_variance", 0.05, 0.02, 0.08)])
    out = cf.compare_claims(est, claims=["seed_relationship_low", "cuijpers_2012", "seed_extra",
                                         "baldwin_2007", "laska_2014", "whiteford_2013"])
    reasons = dict(zip(out["claim"] + ":" + out["factor"], out["reason"], strict=True))
    assert reasons["seed_relationship_low:relationship"] == (
        "no alliance measured: no relationship factor in the data")
    assert "needs waitlist, placebo (nonspecific) and active arms" in \
        reasons["cuijpers_2012:nonspecific"]
    assert "needs a waitlist arm" in reasons["cuijpers_2012:technique"]
    assert reasons["seed_extra:extra_therapeutic"] == "claim has no numeric value"
    assert reasons["baldwin_2007:relationship"] == "claim has no numeric value"
    assert "docs/methods.md section 9.1" in reasons["laska_2014:several"]
    assert "natural-course" in reasons["whiteford_2013:extra_therapeutic"]
    assert set(out["verdict"]) == {"not estimable here"}


def test_compare_available_factors_change_the_reason():
    est = _table([("technique", "share_total_variance", 0.05, 0.02, 0.08)])
    out = cf.compare_claims(est, claims="seed_relationship_low",
                            available={"relationship": ["alliance"], "technique": ["arm"]})
    assert out["reason"].iloc[0] == ("the table has no share_total_variance estimate for "
                                     "factor relationship")


def test_compare_without_interval_uses_point_and_says_so():
    est = _table([("relationship", "share_total_variance", 0.123, np.nan, np.nan),
                  ("technique", "share_mean_improvement", 0.30, np.nan, np.nan)])
    out = cf.compare_claims(est, claims=["seed_relationship_low", "seed_technique"])
    assert list(out["verdict"]) == ["consistent", "inconsistent"]
    assert out["reason"].str.startswith("no interval").all()
    assert "below" in out["reason"].iloc[1]
    tight = cf.compare_claims(est, claims="seed_relationship_low", tol=0.001)
    assert tight["verdict"].iloc[0] == "inconsistent"


def test_compare_missing_ci_columns_and_nan_estimate():
    est = pd.DataFrame({"factor": ["relationship", "therapist"],
                        "estimand": ["share_total_variance", "icc_therapist"],
                        "estimate": [np.nan, 0.05]})
    out = cf.compare_claims(est, claims=["seed_relationship_low", "wampold_brown_2005"])
    assert out["reason"].iloc[0] == "the estimate is missing (NaN)"
    assert out["verdict"].iloc[1] == "consistent"


def test_compare_carries_view_and_accepts_objects_with_table():
    est = _table([("therapist", "icc_therapist", 0.04, 0.02, 0.06),
                  ("therapist", "icc_therapist", 0.10, 0.075, 0.14)])
    est.insert(0, "view", ["growth", "change"])
    before = est.copy()

    class Result:
        table = est

    out = cf.compare_claims(Result(), claims=["therapist_effects"])
    assert "view" in out.columns and len(out) == 6
    rct = out[out["component"] == "RCTs"].set_index("view")["verdict"]
    assert rct.to_dict() == {"growth": "inconsistent", "change": "consistent"}
    pd.testing.assert_frame_equal(est, before)


def test_compare_accepts_registry_table_and_default():
    reg = Registry(builtin=False)
    cf.add_claim("mine", factor="relationship", estimand="share_total_variance", value=0.09,
                 registry=reg)
    est = _table([("relationship", "share_total_variance", 0.10, 0.08, 0.12)])
    out1 = cf.compare_claims(est, claims=reg)
    out2 = cf.compare_claims(est, claims=reg.table())
    pd.testing.assert_frame_equal(out1, out2)
    assert out1["verdict"].tolist() == ["consistent"]
    full = cf.compare_claims(est)
    assert len(full) == len(cf.claims_registry())
    assert set(full["verdict"]) <= {"consistent", "inconsistent", "not estimable here"}


def test_compare_input_errors():
    with pytest.raises(ColumnError, match=r"`estimates`: column\(s\) 'estimand'"):
        cf.compare_claims(pd.DataFrame({"factor": ["x"], "estimate": [1.0]}))
    est = _table([("relationship", "share_total_variance", 0.1, 0.0, 0.2)])
    with pytest.raises(ClaimError, match=r"`claims`: expecting claim ids or Claim objects"):
        cf.compare_claims(est, claims=[1, 2])
    with pytest.raises(ClaimError, match=r"unknown claim 'nope'"):
        cf.compare_claims(est, claims="nope")


def test_compare_with_design_based_table():
    est = _table([("extra_therapeutic", "share_mean_improvement", 0.32, 0.26, 0.38),
                  ("nonspecific", "share_mean_improvement", 0.49, 0.41, 0.58),
                  ("technique", "share_mean_improvement", 0.19, 0.13, 0.25)])
    out = cf.compare_claims(est, claims=["cuijpers_2012", "kirsch_1998", "lambert_1992"])
    v = dict(zip(out["claim"] + ":" + out["component"], out["verdict"], strict=True))
    assert v["cuijpers_2012:nonspecific"] == "consistent"
    assert v["cuijpers_2012:specific"] == "consistent"
    assert v["kirsch_1998:natural history"] == "inconsistent"  # .25 below [.26, .38]
    assert v["lambert_1992:extratherapeutic"] == "inconsistent"  # .40 above [.26, .38]
    rel = out[(out["claim"] == "lambert_1992") & (out["factor"] == "relationship")].iloc[0]
    assert rel["verdict"] == "not estimable here"
    assert rel["reason"].startswith("design-based shares cannot split relationship")
