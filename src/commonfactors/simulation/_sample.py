"""Drawing the rows of one simulated dataset: caseloads, sessions, dropout and the outcome scale.

Used by :func:`.simulator.simulate_config` and by the Monte Carlo truth
(:func:`.truth.monte_carlo_truth`), so that neither imports the other.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._dgp import SimConfig, build_block, draw_innovations


def sample_rows(cfg: SimConfig, rng: np.random.Generator) -> pd.DataFrame:
    """One dataset of the configured design (rows in therapist, client, session order)."""
    J, n = cfg.n_therapists, cfg.n_sessions
    m0, spread = cfg.clients_per_therapist, cfg.caseload_spread
    sizes = (rng.integers(m0 - spread, m0 + spread + 1, size=J) if spread else np.full(J, m0))
    width = len(str(J))
    cwidth = len(str(int(sizes.max())))
    frames = []
    for m in np.unique(sizes):
        which = np.flatnonzero(sizes == m)
        block = build_block(cfg, int(m))
        eps = draw_innovations(block, cfg, len(which), rng)
        vals = {k: block.const[k] + eps @ block.L[k].T for k in ("outcome", "alliance")}
        cvals = {k: block.const[k] + eps @ block.L[k].T for k in ("expectancy", "arm", "support")}
        cor = block.client_of_row
        tid = np.repeat(which, m * n)
        frames.append(pd.DataFrame({
            "_t": tid,
            "_c": np.tile(cor, len(which)),
            "session": np.tile(block.session.astype(np.int64), len(which)),
            "outcome": vals["outcome"].ravel(),
            "alliance": vals["alliance"].ravel(),
            "expectancy": cvals["expectancy"][:, cor].ravel(),
            "arm": np.rint(cvals["arm"][:, cor].ravel()).astype(np.int64),
            "support": cvals["support"][:, cor].ravel(),
        }))
    df = pd.concat(frames, ignore_index=True).sort_values(["_t", "_c", "session"], kind="stable")
    t = df["_t"].to_numpy()
    c = df["_c"].to_numpy()
    tnames = np.array([f"t{i + 1:0{width}d}" for i in range(J)], dtype=object)
    cnames = np.array([f"_c{i + 1:0{cwidth}d}" for i in range(int(sizes.max()))], dtype=object)
    key = t * int(sizes.max()) + c
    uniq, inv = np.unique(key, return_inverse=True)
    labels = tnames[uniq // int(sizes.max())] + cnames[uniq % int(sizes.max())]
    df.insert(0, "therapist", tnames[t])
    df.insert(1, "client", labels[inv])
    df["therapist"] = df["therapist"].astype(str)
    df["client"] = df["client"].astype(str)
    df = df.drop(columns=["_t", "_c"]).reset_index(drop=True)
    return _observe(df, cfg, rng)


def _observe(df: pd.DataFrame, cfg: SimConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Apply dropout and the bounded/integer scale."""
    if cfg.dropout != "none":
        n = cfg.n_sessions
        y = df["outcome"].to_numpy().reshape(-1, n)
        z = (y - cfg.intake_mean) / max(cfg.intake_sd, 1e-9)
        base = np.log(cfg.dropout_rate / (1 - cfg.dropout_rate))
        u = rng.random(y.shape)
        gone = np.zeros(y.shape[0], dtype=bool)
        keep = np.ones(y.shape, dtype=bool)
        for s in range(1, n):
            if cfg.dropout == "mcar":
                logit = np.full(y.shape[0], base)
            elif cfg.dropout == "mar":
                logit = base + cfg.dropout_strength * z[:, s - 1]
            else:
                logit = base + cfg.dropout_strength * z[:, s]
            gone |= u[:, s] < 1 / (1 + np.exp(-logit))
            keep[:, s] = ~gone
        df = df[keep.ravel()].reset_index(drop=True)
    if cfg.bounds is not None or cfg.integer:
        y = df["outcome"].to_numpy()
        if cfg.integer:
            y = np.rint(y)
        if cfg.bounds is not None:
            y = np.clip(y, *cfg.bounds)
        df["outcome"] = y
    return df
