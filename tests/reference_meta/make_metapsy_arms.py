"""Write metapsy_arms.csv: the arms of the main design-based analysis of the Metapsy data.

The arms of ``load_dataset("metapsy_depression", view="arms")`` measured on each trial's
preferred instrument (``one_outcome_per_study``), of the three arm types the shares use
(waitlist, supportive counselling, bona fide therapy), with the sampling variance of the
within-arm change at a pre-post correlation of 0.5. make_golden_meta.R fits metafor's
``rma.mv`` to them. Run from the repository root:

    python tests/reference_meta/make_metapsy_arms.py
"""

from __future__ import annotations

from pathlib import Path

import commonfactors as cf
from commonfactors.meta import one_outcome_per_study, pre_post_variance

HERE = Path(__file__).resolve().parent


def metapsy_arms():
    arms = cf.load_dataset("metapsy_depression", view="arms")
    arms = one_outcome_per_study(arms, study_col="study", outcome_col="instrument",
                                 priority_col="outcome_priority")
    arms = arms[arms["arm_type"].isin(["natural_course", "nonspecific", "active"])]
    out = arms[["study", "arm", "arm_type", "instrument", "n", "change"]].copy()
    out["v"] = pre_post_variance(out["change"], out["n"], 0.5)
    return out.reset_index(drop=True)


if __name__ == "__main__":
    metapsy_arms().to_csv(HERE / "metapsy_arms.csv", index=False, float_format="%.17g",
                          lineterminator="\n")
    print("wrote", HERE / "metapsy_arms.csv")
