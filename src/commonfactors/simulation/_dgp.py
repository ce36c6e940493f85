"""The simulator's data-generating process as a linear map of independent innovations.

Everything the simulator draws for one therapist's caseload (``m`` clients x ``n`` sessions) is a
constant plus a linear combination of independent unit-variance innovations. The same map is
used to draw data (:mod:`commonfactors.simulate`) and to compute population moments exactly
(:mod:`commonfactors.simulation.truth`), so the truth always belongs to the data.

Structural model (client i of therapist j, session s = 0..n-1, ``tau_s`` the trajectory shape,
0 at intake and 1 at the last session):

* trait alliance ``alpha_ij = mu_a + aT_j + aC_ij`` with ``Var(aT) = icc_a * sd_a^2`` (therapist
  part) and ``Var(aC) = (1 - icc_a) * sd_a^2`` (client part);
* expectancy ``X_ij = mu_x + sd_x (rho * aC_ij / sd(aC) + sqrt(1 - rho^2) * e_ij)``;
* arm ``z_ij ~ Bernoulli(p)`` (technique, randomised); support ``w_ij ~ N(0, 1)``;
* intake severity deviation ``B_ij = sd_b * b_ij + sd_b_therapist * u0_j``;
* total improvement ``Delta_ij = delta0 + beta_t (mu_a + aT_j - ref_a) + beta_c aC_ij
  + beta_x (X_ij - ref_x) + beta_z z_ij + gamma_w w_ij + gamma_b B_ij + sd_dt dT_j + sd_dc dC_ij``;
  ``delta0`` is the improvement when every factor sits at its reference level (natural course);
* state alliance ``S_s = phi S_{s-1} + sqrt(1 - phi^2) sd_s eps_s`` (stationary AR(1));
* outcome ``y_s = mu_y + B_ij - Delta_ij tau_s - beta_s S_s + sd_e e_s``;
* observed alliance ``A_s = alpha_ij + S_s + kappa (y_0 - y_{s-1}) [s >= 1] + sd_m m_s``, where
  kappa is reverse causation (alliance responds to improvement so far) and ``sd_m`` follows from
  the alliance reliability.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from .._validation import check_int, check_number, check_option
from ..errors import ConfigError

SHAPES = ("linear", "log", "early")
DROPOUT = ("none", "mcar", "mar", "mnar")

# innovation layout: therapist block, then per client, then per session row
N_THER = 3  # u_a (alliance ability), d_t (therapist improvement effect), u0 (therapist intake)
N_CLIENT = 6  # v_a (client alliance), x_e (expectancy own), zeta (arm), w (support), b (intake), d_c
N_ROW = 3  # eps (state alliance), e (outcome noise), meas (alliance measurement error)


@dataclass(frozen=True)
class SimConfig:
    """Every parameter of the data-generating process (see module docstring for the model).

    Units are points of the outcome scale (PHQ-9-like by default) and of a 1-7 alliance scale.
    """

    # design
    n_therapists: int = 40
    clients_per_therapist: int = 15
    n_sessions: int = 10
    caseload_spread: int = 0  # caseload ~ uniform integer in [m - spread, m + spread]
    # outcome
    intake_mean: float = 16.0
    intake_sd: float = 4.0
    intake_sd_therapist: float = 0.0
    session_sd: float = 2.0
    shape: str = "linear"
    shape_rate: float = 3.0  # sessions; only for shape="early": tau ~ 1 - exp(-s / rate)
    # improvement
    natural_course: float = 3.0
    improvement_sd: float = 2.0
    therapist_effect_sd: float = 1.0
    support_effect: float = 0.5
    baseline_effect: float = 0.0
    # alliance
    alliance_mean: float = 5.0
    alliance_sd: float = 0.8
    alliance_icc: float = 0.15
    alliance_reference: float = 3.0
    alliance_effect: float = 1.0
    alliance_effect_therapist: float | None = None  # None = same as alliance_effect
    alliance_state_sd: float = 0.3
    alliance_state_ar: float = 0.5
    alliance_state_effect: float = 0.0
    alliance_reliability: float = 0.9
    reverse_effect: float = 0.0
    # expectancy
    expectancy_mean: float = 6.0
    expectancy_sd: float = 1.5
    expectancy_reference: float = 3.0
    expectancy_effect: float = 0.5
    expectancy_alliance_corr: float = 0.0
    # technique
    arm_prob: float = 0.5
    technique_effect: float = 1.5
    # observation
    dropout: str = "none"
    dropout_rate: float = 0.0  # per-session hazard after intake
    dropout_strength: float = 0.0  # MAR/MNAR: log-odds change per outcome SD
    bounds: tuple[float, float] | None = None
    integer: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        check_int("n_therapists", self.n_therapists, minimum=2)
        check_int("clients_per_therapist", self.clients_per_therapist, minimum=1)
        check_int("n_sessions", self.n_sessions, minimum=2)
        check_int("caseload_spread", self.caseload_spread, minimum=0)
        if self.caseload_spread >= self.clients_per_therapist:
            raise ConfigError(
                "`caseload_spread`: expecting a value below clients_per_therapist "
                f"({self.clients_per_therapist}); got {self.caseload_spread}."
            )
        check_option("shape", self.shape, SHAPES)
        check_option("dropout", self.dropout, DROPOUT)
        for name in ("intake_sd", "intake_sd_therapist", "session_sd", "improvement_sd",
                     "therapist_effect_sd", "alliance_sd", "alliance_state_sd", "expectancy_sd"):
            check_number(name, getattr(self, name), low=0.0)
        check_number("shape_rate", self.shape_rate, low=0.0, low_inclusive=False)
        check_number("alliance_icc", self.alliance_icc, low=0.0, high=1.0)
        check_number("alliance_state_ar", self.alliance_state_ar, low=-1.0, high=1.0,
                     low_inclusive=False, high_inclusive=False)
        check_number("alliance_reliability", self.alliance_reliability, low=0.0, high=1.0,
                     low_inclusive=False)
        check_number("expectancy_alliance_corr", self.expectancy_alliance_corr, low=-1.0, high=1.0)
        check_number("arm_prob", self.arm_prob, low=0.0, high=1.0, low_inclusive=False,
                     high_inclusive=False)
        check_number("dropout_rate", self.dropout_rate, low=0.0, high=1.0, high_inclusive=False)
        for name in ("natural_course", "support_effect", "baseline_effect", "alliance_mean",
                     "alliance_reference", "alliance_effect", "alliance_state_effect",
                     "reverse_effect", "expectancy_mean", "expectancy_reference",
                     "expectancy_effect", "technique_effect", "dropout_strength",
                     "intake_mean"):
            check_number(name, getattr(self, name))
        if self.alliance_effect_therapist is not None:
            check_number("alliance_effect_therapist", self.alliance_effect_therapist)
        if self.dropout != "none" and self.dropout_rate == 0.0:
            raise ConfigError(
                f"`dropout_rate`: dropout={self.dropout!r} needs a per-session hazard > 0; got 0."
            )
        if self.bounds is not None:
            if len(self.bounds) != 2 or not self.bounds[0] < self.bounds[1]:
                raise ConfigError(f"`bounds`: expecting (low, high) with low < high; got {self.bounds!r}.")
        if self.expectancy_alliance_corr != 0 and self.alliance_icc == 1.0:
            raise ConfigError(
                "`expectancy_alliance_corr`: expectancy correlates with the client part of the "
                "alliance, which is empty when alliance_icc = 1; lower alliance_icc."
            )

    # -- derived quantities -------------------------------------------------------------
    @property
    def beta_therapist(self) -> float:
        return self.alliance_effect if self.alliance_effect_therapist is None else self.alliance_effect_therapist

    @property
    def measurement_sd(self) -> float:
        true_var = self.alliance_sd**2 + self.alliance_state_sd**2
        return float(np.sqrt(true_var * (1 - self.alliance_reliability) / self.alliance_reliability))

    @property
    def analytic(self) -> bool:
        """Whether the truth has a closed form (no dropout, no bounding/rounding)."""
        return self.dropout == "none" and self.bounds is None and not self.integer

    def tau(self) -> np.ndarray:
        s = np.arange(self.n_sessions, dtype=float)
        last = self.n_sessions - 1
        if self.shape == "linear":
            return s / last
        if self.shape == "log":
            return np.log1p(s) / np.log1p(last)
        return (1 - np.exp(-s / self.shape_rate)) / (1 - np.exp(-last / self.shape_rate))

    def mean_parts(self) -> dict[str, float]:
        """Structural parts of the mean improvement relative to the reference levels."""
        rel = self.beta_therapist * (self.alliance_mean - self.alliance_reference)
        exp_ = self.expectancy_effect * (self.expectancy_mean - self.expectancy_reference)
        tech = self.technique_effect * self.arm_prob
        extra = self.natural_course
        return {"relationship": rel, "technique": tech, "expectancy": exp_, "extra_therapeutic": extra}

    def replace(self, **changes: Any) -> SimConfig:
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(
                f"unknown simulator parameter(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(names))}."
            )
        return SimConfig(**{**asdict(self), **changes})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Block:
    """Linear representation of one therapist's caseload: value = const + L @ innovations."""

    m: int
    n: int
    K: int
    const: dict[str, np.ndarray]  # per-row (m*n) or per-client (m) constants
    L: dict[str, np.ndarray]  # matching loadings, shape (rows, K)
    session: np.ndarray  # per row
    client_of_row: np.ndarray


def build_block(cfg: SimConfig, m: int | None = None) -> Block:
    """The linear map from innovations to every variable of one caseload of ``m`` clients."""
    m = cfg.clients_per_therapist if m is None else m
    n = cfg.n_sessions
    R = m * n
    K = N_THER + N_CLIENT * m + N_ROW * R
    tau = cfg.tau()
    ci = np.arange(m)
    cbase = N_THER + N_CLIENT * ci  # per client
    rows = np.arange(R)
    rbase = N_THER + N_CLIENT * m + N_ROW * rows
    client_of_row = rows // n
    sess = rows % n

    sd_at = cfg.alliance_sd * np.sqrt(cfg.alliance_icc)
    sd_ac = cfg.alliance_sd * np.sqrt(1 - cfg.alliance_icc)
    rho = cfg.expectancy_alliance_corr
    p = cfg.arm_prob
    sd_z = np.sqrt(p * (1 - p))

    def client_mat() -> np.ndarray:
        return np.zeros((m, K))

    # client-level variables
    L_aC = client_mat()
    L_aC[ci, cbase + 0] = sd_ac
    L_aT = client_mat()
    L_aT[:, 0] = sd_at
    L_x = client_mat()
    L_x[ci, cbase + 0] = cfg.expectancy_sd * rho
    L_x[ci, cbase + 1] = cfg.expectancy_sd * np.sqrt(1 - rho**2)
    L_z = client_mat()
    L_z[ci, cbase + 2] = sd_z
    L_w = client_mat()
    L_w[ci, cbase + 3] = 1.0
    L_B = client_mat()
    L_B[ci, cbase + 4] = cfg.intake_sd
    L_B[:, 2] = cfg.intake_sd_therapist
    L_dC = client_mat()
    L_dC[ci, cbase + 5] = cfg.improvement_sd
    L_dT = client_mat()
    L_dT[:, 1] = cfg.therapist_effect_sd

    bt, bc = cfg.beta_therapist, cfg.alliance_effect
    L_delta = (bt * L_aT + bc * L_aC + cfg.expectancy_effect * L_x + cfg.technique_effect * L_z
               + cfg.support_effect * L_w + cfg.baseline_effect * L_B + L_dT + L_dC)
    c_delta = np.full(m, cfg.natural_course + sum(
        v for k, v in cfg.mean_parts().items() if k != "extra_therapeutic"))

    # state alliance (AR(1)) per row
    L_S = np.zeros((R, K))
    phi, sd_s = cfg.alliance_state_ar, cfg.alliance_state_sd
    for s in range(n):
        r = ci * n + s
        if s == 0:
            L_S[r, rbase[r] + 0] = sd_s
        else:
            L_S[r] = phi * L_S[r - 1]
            L_S[r, rbase[r] + 0] = sd_s * np.sqrt(1 - phi**2)

    # outcome
    L_y = L_B[client_of_row] - tau[sess][:, None] * L_delta[client_of_row] - cfg.alliance_state_effect * L_S
    L_y[rows, rbase + 1] += cfg.session_sd
    c_y = cfg.intake_mean - tau[sess] * c_delta[client_of_row]

    # observed alliance
    L_A = L_aT[client_of_row] + L_aC[client_of_row] + L_S
    L_A[rows, rbase + 2] += cfg.measurement_sd
    c_A = np.full(R, cfg.alliance_mean)
    if cfg.reverse_effect != 0.0:
        first = client_of_row * n
        prev = np.maximum(rows - 1, first)
        has_prev = sess >= 1
        L_A[has_prev] += cfg.reverse_effect * (L_y[first[has_prev]] - L_y[prev[has_prev]])
        c_A[has_prev] += cfg.reverse_effect * (c_y[first[has_prev]] - c_y[prev[has_prev]])

    const = {
        "outcome": c_y,
        "alliance": c_A,
        "expectancy": np.full(m, cfg.expectancy_mean),
        "arm": np.full(m, p),
        "support": np.zeros(m),
        "delta": c_delta,
    }
    L = {"outcome": L_y, "alliance": L_A, "expectancy": L_x, "arm": L_z, "support": L_w,
         "delta": L_delta}
    return Block(m=m, n=n, K=K, const=const, L=L, session=sess.astype(float),
                 client_of_row=client_of_row)


def draw_innovations(block: Block, cfg: SimConfig, n_blocks: int, rng: np.random.Generator) -> np.ndarray:
    """Independent unit-variance innovations for ``n_blocks`` caseloads (arm ones are Bernoulli)."""
    eps = rng.standard_normal((n_blocks, block.K))
    p = cfg.arm_prob
    zeta_idx = N_THER + N_CLIENT * np.arange(block.m) + 2
    z = rng.random((n_blocks, block.m)) < p
    eps[:, zeta_idx] = (z - p) / np.sqrt(p * (1 - p))
    return eps
