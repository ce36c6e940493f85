"""Write the small seeded datasets that the R reference script fits.

Run from the repository root::

    python tests/reference/make_data.py

Writes ``tests/reference/data/{slope2,growth3,change2,singular}.csv``. Only NumPy is
used for the random draws (``np.random.default_rng``), so the files are reproducible
byte for byte for a given NumPy version. The R script
``tests/reference/make_reference.R`` then fits the models and writes the golden files.

Datasets
--------
slope2
    60 clients, sessions 0..7 with some sessions missing; ``x`` is measured per session
    (client part + session noise); the outcome has a client random intercept and a
    random slope on session that are correlated.
growth3
    30 therapists x 8 clients x 10 sessions (0..9), a few sessions missing. ``alliance``
    has a therapist part, a client part and session noise; ``arm`` (0/1) is a client
    attribute; ``expectancy`` is a client attribute correlated with the client part of
    alliance; ``support`` is a client attribute. Client ids are unique across therapists
    (``t03_c05``).
change2
    One row per client: 40 therapists with unequal caseloads (2 to 15 clients).
singular
    Clients nested in therapists with repeated measures and no therapist variance at
    all: client effects and noise are centred within therapist and ``x`` is centred
    within client, so every therapist has the same mean outcome and the therapist
    variance estimate is exactly 0 (a singular fit).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "data"


def _write_csv(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Write columns to CSV with full precision (17 significant digits)."""
    names = list(columns)
    n = len(columns[names[0]])
    lines = [",".join(names)]
    for i in range(n):
        cells = []
        for name in names:
            value = columns[name][i]
            if isinstance(value, (float, np.floating)):
                cells.append(repr(float(value)))
            else:
                cells.append(str(value))
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_slope2(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sessions in clients, correlated random intercept and slope on session."""
    n_clients, n_sessions = 60, 8
    tau = np.array([[4.0, -0.3], [-0.3, 0.16]])  # intercept var, slope var; corr -0.375
    u = rng.multivariate_normal(np.zeros(2), tau, size=n_clients)
    x_client = rng.normal(0.0, 1.0, n_clients)
    rows: dict[str, list] = {"client": [], "session": [], "x": [], "outcome": []}
    for i in range(n_clients):
        sessions = np.arange(n_sessions)
        keep = rng.random(n_sessions) > 0.12
        keep[0] = True  # intake always observed
        for t in sessions[keep]:
            x = x_client[i] + rng.normal(0.0, 0.8)
            y = 20.0 - 1.2 * t + 0.9 * x + u[i, 0] + u[i, 1] * t + rng.normal(0.0, 1.5)
            rows["client"].append(f"c{i + 1:02d}")
            rows["session"].append(int(t))
            rows["x"].append(float(x))
            rows["outcome"].append(float(y))
    return {k: np.array(v, dtype=object) for k, v in rows.items()}


def make_growth3(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sessions in clients in therapists, with disaggregable session-level alliance."""
    n_ther, n_cli, n_ses = 30, 8, 10
    rows: dict[str, list] = {
        k: []
        for k in (
            "therapist",
            "client",
            "session",
            "outcome",
            "alliance",
            "arm",
            "expectancy",
            "support",
        )
    }
    for j in range(n_ther):
        a_ther = rng.normal(0.0, 0.5)  # therapist alliance ability
        u_ther = rng.normal(0.0, 1.0)  # residual therapist effect on outcome
        for i in range(n_cli):
            a_cli = rng.normal(0.0, 0.8)  # client trait alliance
            expectancy = 0.6 * a_cli + rng.normal(0.0, 0.8)
            arm = int(rng.random() < 0.5)
            support = rng.normal(0.0, 1.0)
            c0 = rng.normal(0.0, 2.0)
            c1 = rng.normal(0.0, 0.3)  # client slope on session
            keep = rng.random(n_ses) > 0.04
            keep[0] = True
            for t in np.arange(n_ses)[keep]:
                alliance = 5.0 + a_ther + a_cli + 0.05 * t + rng.normal(0.0, 0.6)
                y = (
                    25.0
                    - 0.8 * t
                    - 0.7 * (alliance - 5.0)
                    - 0.6 * a_cli
                    - 0.8 * a_ther
                    - 1.5 * arm
                    - 0.5 * expectancy
                    - 0.7 * support
                    + u_ther
                    + c0
                    + c1 * t
                    + rng.normal(0.0, 2.0)
                )
                rows["therapist"].append(f"t{j + 1:02d}")
                rows["client"].append(f"t{j + 1:02d}_c{i + 1:02d}")
                rows["session"].append(int(t))
                rows["outcome"].append(float(y))
                rows["alliance"].append(float(alliance))
                rows["arm"].append(arm)
                rows["expectancy"].append(float(expectancy))
                rows["support"].append(float(support))
    return {k: np.array(v, dtype=object) for k, v in rows.items()}


def make_change2(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One row per client, 40 therapists with caseloads between 2 and 15."""
    n_ther = 40
    caseloads = rng.integers(2, 16, size=n_ther)
    caseloads[0], caseloads[1] = 2, 15  # make sure both extremes occur
    rows: dict[str, list] = {
        k: []
        for k in (
            "therapist",
            "client",
            "improvement",
            "alliance",
            "arm",
            "expectancy",
            "support",
        )
    }
    for j in range(n_ther):
        a_ther = rng.normal(0.0, 0.5)
        u_ther = rng.normal(0.0, 1.5)
        for i in range(int(caseloads[j])):
            a_cli = rng.normal(0.0, 0.9)
            alliance = 5.0 + a_ther + a_cli
            expectancy = 0.5 * a_cli + rng.normal(0.0, 0.9)
            arm = int(rng.random() < 0.5)
            support = rng.normal(0.0, 1.0)
            improvement = (
                6.0
                + 1.2 * (alliance - 5.0)
                + 0.8 * a_ther
                + 2.0 * arm
                + 0.7 * expectancy
                + 0.9 * support
                + u_ther
                + rng.normal(0.0, 3.0)
            )
            rows["therapist"].append(f"t{j + 1:02d}")
            rows["client"].append(f"t{j + 1:02d}_c{i + 1:02d}")
            rows["improvement"].append(float(improvement))
            rows["alliance"].append(float(alliance))
            rows["arm"].append(arm)
            rows["expectancy"].append(float(expectancy))
            rows["support"].append(float(support))
    return {k: np.array(v, dtype=object) for k, v in rows.items()}


def make_singular(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Repeated measures in clients in therapists with exactly no therapist variance."""
    n_ther, n_cli, n_obs = 20, 5, 4
    rows: dict[str, list] = {"therapist": [], "client": [], "outcome": [], "x": []}
    for j in range(n_ther):
        c = rng.normal(0.0, 1.0, n_cli)
        c -= c.mean()
        x = rng.normal(0.0, 1.0, (n_cli, n_obs))
        x -= x.mean(axis=1, keepdims=True)  # x varies only within client
        e = rng.normal(0.0, 1.0, (n_cli, n_obs))
        e -= e.mean()
        for i in range(n_cli):
            for k in range(n_obs):
                rows["therapist"].append(f"t{j + 1:02d}")
                rows["client"].append(f"t{j + 1:02d}_c{i + 1:02d}")
                rows["outcome"].append(float(10.0 + 0.5 * x[i, k] + c[i] + e[i, k]))
                rows["x"].append(float(x[i, k]))
    return {k: np.array(v, dtype=object) for k, v in rows.items()}


def main(seed: int = 20240611) -> None:
    """Write all datasets; each one gets its own child seed."""
    OUT.mkdir(parents=True, exist_ok=True)
    seeds = np.random.SeedSequence(seed).spawn(4)
    makers = {
        "slope2": make_slope2,
        "growth3": make_growth3,
        "change2": make_change2,
        "singular": make_singular,
    }
    for (name, maker), child in zip(makers.items(), seeds, strict=True):
        data = maker(np.random.default_rng(child))
        _write_csv(OUT / f"{name}.csv", data)
        print(f"wrote {OUT / (name + '.csv')} ({len(next(iter(data.values())))} rows)")


if __name__ == "__main__":
    main()
