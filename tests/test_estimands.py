"""One vocabulary: every estimand defined once, and every published number pinned to the registry."""

from __future__ import annotations

import numpy as np
import pytest

import commonfactors as cf
from commonfactors import estimands as est
from commonfactors.claims import ESTIMANDS as CLAIM_ESTIMANDS
from commonfactors.plots import ESTIMAND_LABELS
from commonfactors.report import _html as H
from commonfactors.simulation.simulator import PRESETS
from commonfactors.simulation.whatif import _PUBLISHED


def test_tables_truth_plots_report_and_claims_use_the_same_words():
    for name, text in CLAIM_ESTIMANDS.items():
        assert text == est.ESTIMANDS[name].meaning
    for name, text in ESTIMAND_LABELS.items():
        assert text == est.ESTIMANDS[name].label
    for name, text, den in H.SHARE_ESTIMANDS:
        assert (text, den) == (est.ESTIMANDS[name].label, est.ESTIMANDS[name].denominator)
    for name, text in H.ICC_ESTIMANDS:
        assert text == est.ESTIMANDS[name].label


def test_every_estimand_of_a_decomposition_and_of_the_truth_is_defined():
    sim = cf.simulate("norcross_lambert_2011", n_therapists=8, clients_per_therapist=4,
                      n_sessions=3, seed=2)
    res = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=0)
    names = set(res.table["estimand"]) | set(sim.truth["estimand"])
    # the mean improvement itself is a number of the model, not a share or claim estimand
    assert names - set(est.ESTIMANDS) <= {"mean_improvement"}
    # share_therapy_variance leaves out the groups outside therapy: NaN there, nowhere else
    t = res.table.set_index(["factor", "estimand"])["estimate"]
    assert np.isnan(t[(est.EXTRA_THERAPEUTIC, "share_therapy_variance")])
    assert np.isfinite(t[("relationship", "share_therapy_variance")])


def _claim_numbers(ids):
    """Numbers a preset target may take from its claims: values, bounds, range midpoints, and
    cohens_d turned into a share of variance or an ICC (the conversions the presets use)."""
    reg = cf.claims_registry()
    rows = reg[reg["id"].isin(ids)]
    out = []
    for r in rows.itertuples():
        vals = [v for v in (r.value, r.low, r.high) if np.isfinite(v)]
        if np.isfinite(r.low) and np.isfinite(r.high):
            vals.append((r.low + r.high) / 2)
        out += vals
        if r.estimand == "cohens_d":
            out += [cf.d_to_r2(v) for v in vals] + [cf.d_to_icc(v) for v in vals]
    return np.array(out)


# targets that are not a claim's number, with the reason
_NOT_FROM_CLAIMS = {
    ("norcross_lambert_2011", "expectancy"): "Norcross & Lambert's 3% 'other' put on expectancy",
    ("seed_relationship_high", "relationship"): "the 80% claim is about mean improvement",
    ("spurious_alliance", "relationship"): "a share of 0 is the point of this preset",
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_targets_are_numbers_of_their_claims(name):
    p = PRESETS[name]
    numbers = _claim_numbers(p.claims)
    for factor, estimand, _view, value in p.targets:
        if (name, factor) in _NOT_FROM_CLAIMS:
            continue
        assert np.any(np.isclose(numbers, value, rtol=1e-6, atol=1e-12)), (name, factor, estimand, value)


def test_whatif_published_values_are_the_registry_values_as_printed():
    reg = cf.claims_registry()
    for factor, rows in _PUBLISHED.items():
        for estimand, value, _source in rows:
            sel = reg[(reg["factor"] == factor) & (reg["estimand"] == estimand)]
            nums = np.concatenate([sel[c].dropna().to_numpy() for c in ("value", "low", "high")])
            # printed with three decimals (or two): the registry value rounds to it
            assert np.any(np.abs(nums - value) <= 0.0005), (factor, estimand, value)
