"""Print the worst relative difference per quantity between the nested engine and the grammar goldens.

Run from the repository root: ``python tests/reference/agreement_grammar.py`` (about a minute;
the profiles dominate). The table "Agreement of the nested engine" in README.md is its output.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import commonfactors as cf
from commonfactors.models import inference as inf

REF = Path(__file__).resolve().parent


def _read(name):
    return pd.read_csv(REF / name, keep_default_na=False, na_values=["NA"])


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _profile_name(p: str) -> str:
    return p.replace("|cask:batch", "|sample").replace("|batch:cask", "|sample")


def main() -> None:
    cases = _read("grammar_cases.csv")
    cases = cases[cases["nested_formula"] != ""]
    fx_all, var_all = _read("grammar_fixed.csv"), _read("grammar_variance.csv")
    fit_all, prof_all = _read("grammar_fit.csv").set_index("case"), _read("grammar_profile.csv")
    out = []
    for r in cases.itertuples():
        data = pd.read_csv(REF / r.file)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = cf.fit_mixed(data, r.nested_formula, reml=str(r.reml).upper() == "TRUE")
        g = fx_all[fx_all["case"] == r.case].set_index("term")
        gf = fit_all.loc[r.case]
        gv = var_all[var_all["case"] == r.case]
        est = [f.residual_variance if v.factor == "residual"
               else float(f.random_cov[v.factor].loc[v.term1, v.term2]) for v in gv.itertuples()]
        ic = inf.information_criteria(f)
        sat = f.fixed_effects()
        row = {"case": r.case, "fixed": _rel(f.fixed[g.index], g["estimate"]),
               "se": _rel(f.std_errors[g.index], g["std_error"]),
               "varcomp": _rel(est, gv["estimate"]),
               "loglik_aic_bic": max(_rel(ic[k], gf[k]) for k in ("loglik", "aic", "bic")),
               "loglik_ml": _rel(inf.adapter(f).refit_ml().loglik, gf["loglik_ml_refit"]),
               "df_satt": _rel(sat.loc[g.index, "df"], g["df_satterthwaite"]),
               "t": _rel(sat.loc[g.index, "t"], g["t_value"]),
               "p_satt": _rel(sat.loc[g.index, "p_value"], g["p_satterthwaite"])}
        if f.reml:
            kr = f.fixed_effects("Kenward-Roger")
            row.update(se_kr=_rel(kr.loc[g.index, "std_error"], g["std_error_kr"]),
                       df_kr=_rel(kr.loc[g.index, "df"], g["df_kr"]),
                       p_kr=_rel(kr.loc[g.index, "p_value"], g["p_kr"]))
        gp = prof_all[prof_all["case"] == r.case]
        if len(gp):
            t0 = time.perf_counter()
            ci = f.confint_variance().loc[[_profile_name(p) for p in gp["parameter"]]]
            row["profile_s"] = time.perf_counter() - t0
            row["prof_exact"] = max(_rel(ci["ci_low"], gp["lower_exact"]),
                                    _rel(ci["ci_high"], gp["upper_exact"]))
            row["prof_lme4"] = max(_rel(ci["ci_low"], gp["lower_lme4"]),
                                   _rel(ci["ci_high"], gp["upper_lme4"]))
        out.append(row)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(pd.DataFrame(out).set_index("case").to_string(float_format=lambda v: f"{v:.1e}"))


if __name__ == "__main__":
    main()
