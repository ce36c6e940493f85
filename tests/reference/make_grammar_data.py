"""Write the simulated four-level set fitted by ``make_grammar_reference.R``.

Run from the repository root::

    python tests/reference/make_grammar_data.py

Writes ``tests/reference/data/psy4.csv``: 8 clinics x 5 therapists x 6 clients x sessions
0..5, about 5% of sessions missing at random. ``alliance`` has a clinic part, a therapist part,
a client part and session noise; the outcome has clinic, therapist and client random
intercepts, a client random slope on session, and a different alliance coefficient at each
level. Ids are unique across their parents (``k2_t3_c4``). Only NumPy draws the numbers
(``np.random.default_rng``), so the file is reproducible byte for byte for a given NumPy
version. The public datasets of the same reference set (egsingle, Pastes, Penicillin,
sleepstudy) are written by the R script from the R packages that ship them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "data"


def make_psy4(seed: int = 20261130) -> dict[str, list]:
    """Sessions in clients in therapists in clinics (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_k, n_t, n_c, n_s = 8, 5, 6, 6
    rows: dict[str, list] = {"clinic": [], "therapist": [], "client": [], "session": [],
                             "alliance": [], "outcome": []}
    for k in range(n_k):
        a_k, u_k = rng.normal(0.0, 0.4), rng.normal(0.0, 0.8)
        for t in range(n_t):
            a_t, u_t = rng.normal(0.0, 0.5), rng.normal(0.0, 1.0)
            for c in range(n_c):
                a_c, u_c = rng.normal(0.0, 0.8), rng.normal(0.0, 2.0)
                b_c = -0.8 + rng.normal(0.0, 0.3)
                for s in range(n_s):
                    a = a_k + a_t + a_c + rng.normal(0.0, 1.0)
                    y = (20.0 + u_k + u_t + u_c + b_c * s + 0.3 * (a - a_k - a_t - a_c)
                         + 0.8 * a_c + 1.2 * a_t + 0.5 * a_k + rng.normal(0.0, 1.5))
                    if rng.random() < 0.05:
                        continue
                    rows["clinic"].append(f"k{k}")
                    rows["therapist"].append(f"k{k}_t{t}")
                    rows["client"].append(f"k{k}_t{t}_c{c}")
                    rows["session"].append(s)
                    rows["alliance"].append(a)
                    rows["outcome"].append(y)
    return rows


def main() -> None:
    rows = make_psy4()
    names = list(rows)
    lines = [",".join(names)]
    for i in range(len(rows["outcome"])):
        cells = [repr(float(rows[n][i])) if isinstance(rows[n][i], float) else str(rows[n][i])
                 for n in names]
        lines.append(",".join(cells))
    OUT.mkdir(exist_ok=True)
    (OUT / "psy4.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT / 'psy4.csv'} ({len(lines) - 1} rows)")


if __name__ == "__main__":
    main()
