"""Write arms_example.csv: simulated arm-level pre-post changes for the R golden values.

Run from the repository root: python tests/reference_meta/make_arms_example.py
(then Rscript tests/reference_meta/make_golden_meta.R). Values are rounded so the CSV is exact.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from commonfactors.meta import pre_post_variance

MEANS = {"waitlist": 0.50, "placebo": 1.25, "active": 1.50}


def main(seed: int = 20240611, n_studies: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_studies):
        # every study has an active arm and one or two comparison arms
        kind = rng.choice(["wl", "pl", "both"], p=[0.4, 0.3, 0.3])
        arms = ["active"] + {"wl": ["waitlist"], "pl": ["placebo"],
                             "both": ["waitlist", "placebo"]}[kind]
        u = rng.normal(0.0, 0.25)
        for arm in arms:
            n = int(rng.integers(15, 90))
            v = float(pre_post_variance(MEANS[arm], n))
            d = MEANS[arm] + u + rng.normal(0.0, 0.10) + rng.normal(0.0, np.sqrt(v))
            rows.append({"study": f"s{s:02d}", "arm": arm, "n": n, "d": round(d, 4),
                         "v": round(float(pre_post_variance(d, n)), 6)})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    out = Path(__file__).with_name("arms_example.csv")
    main().to_csv(out, index=False)
    print(f"wrote {out}")
