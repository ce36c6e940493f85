"""The sections of one dataset in the HTML report (see :func:`commonfactors.report.write_report`).

Each builder takes the decomposition (duck-typed: only its documented attributes are read)
and the ``extras`` dict, and returns an HTML fragment. Estimates are never recomputed here;
the only arithmetic is formatting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..estimands import ESTIMANDS, SHARE_ESTIMANDS
from . import _html as H

_RANDOM_PARTS = ("therapist", "client", "residual")
_NOT_GROUPS = {"model", "therapist", "client", "residual"}

SECTION_TITLES = (
    ("data", "Data summary"),
    ("model", "Model"),
    ("variance", "Variance components and ICCs"),
    ("shares", "Factor shares under every estimand"),
    ("mean", "Shares of mean improvement"),
    ("claims", "Claims"),
    ("figures", "Figures"),
)


# --------------------------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------------------------
def toc_entry(i: int, anchor: str, name: str, *, failed: bool) -> str:
    if failed:
        return f'<li><a href="#{anchor}">{H.esc(name)}</a> (analysis failed)</li>'
    subs = "".join(f'<li><a href="#{anchor}-{key}">{H.esc(text)}</a></li>'
                   for key, text in SECTION_TITLES)
    return f'<li><a href="#{anchor}">{H.esc(name)}</a><ol>{subs}</ol></li>'


def dataset_section(i: int, anchor: str, name: str, res: Any, extras: Mapping[str, Any]) -> str:
    """The whole ``<section>`` of one dataset."""
    head = f'<section class="dataset" id="{anchor}"><h2>{i}. {H.esc(name)}</h2>'
    desc = extras.get("description")
    if desc:
        head += f"<p>{H.esc(desc)}</p>"
    if extras.get("truth") is not None:
        head += ("<p>Synthetic data with known population values: the <span class=\"truth\" "
                 "style=\"display:inline\">truth</span> is printed under each estimate.</p>")
    head += _provenance(extras)
    if res is None:
        body = H.box("error", "The analysis of this dataset failed; nothing was estimated.",
                     [str(extras.get("error"))] + list(extras.get("warnings", [])))
        return head + body + "</section>"
    truth = _truth_map(extras.get("truth"))
    table = _clean_table(getattr(res, "table", None))
    builders = {
        "data": lambda: _data_section(res, extras),
        "model": lambda: _model_section(res, extras),
        "variance": lambda: _variance_section(res, table, truth),
        "shares": lambda: _shares_section(res, table, truth),
        "mean": lambda: _mean_section(res, table, truth),
        "claims": lambda: _claims_section(res, table, extras),
        "figures": lambda: _figures_section(res, table, extras, anchor),
    }
    parts = [head]
    for key, text in SECTION_TITLES:
        parts.append(f'<section id="{anchor}-{key}" data-section="{key}"><h3>{H.esc(text)}</h3>')
        parts.append(builders[key]())
        parts.append("</section>")
    parts.append("</section>")
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _clean_table(table: Any) -> pd.DataFrame:
    cols = ["factor", "estimand", "estimate", "ci_low", "ci_high"]
    if not isinstance(table, pd.DataFrame):
        return pd.DataFrame(columns=cols)
    out = table.copy()
    for c in ("ci_low", "ci_high"):
        if c not in out.columns:
            out[c] = np.nan
    out["factor"] = out["factor"].astype(str)
    out["estimand"] = out["estimand"].astype(str)
    return out


def _truth_map(truth: Any) -> dict[tuple[str, str], float]:
    if not isinstance(truth, pd.DataFrame) or truth.empty:
        return {}
    out: dict[tuple[str, str], float] = {}
    for f, e, v in zip(truth["factor"], truth["estimand"], truth["value"], strict=True):
        out.setdefault((str(f), str(e)), H.as_float(v))
    return out


def _rows(table: pd.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["factor"], r["estimand"]): r for r in table.to_dict("records")}


def _groups(table: pd.DataFrame) -> list[str]:
    seen: dict[str, None] = {}
    for f in table["factor"]:
        if f not in _NOT_GROUPS:
            seen.setdefault(f, None)
    return list(seen)


def _provenance(extras: Mapping[str, Any]) -> str:
    """Licence, citation and what a real dataset cannot estimate (nothing for other data)."""
    out = ""
    prov = extras.get("provenance") or {}
    for key, label in (("licence", "Licence"), ("citation", "Citation")):
        if prov.get(key):
            out += f'<p class="provenance"><b>{label}.</b> {H.esc(prov[key])}</p>'
    cannot = extras.get("cannot_estimate") or {}
    if cannot:
        items = "".join(f"<li><b>{H.esc(k)}</b>: {H.esc(v)}</li>" for k, v in cannot.items())
        out += (f'<div class="cannot" data-section="cannot-estimate"><h3>What this dataset '
                f"cannot estimate</h3><ul>{items}</ul></div>")
    return out


def _kv_table(pairs: list[tuple[str, str]]) -> str:
    rows = [[f"<th>{H.esc(k)}</th>", H.td(v)] for k, v in pairs]
    return H.simple_table(["", ""], rows, cls="kv").replace("<thead><tr><th></th><th></th></tr>"
                                                             "</thead>", "")


def _mmm(d: Any) -> str:
    if not isinstance(d, Mapping):
        return "\u2014"
    return f"min {d.get('min')}, median {H.fmt(d.get('median'))}, max {d.get('max')}"


# --------------------------------------------------------------------------------------------
# 1. data
# --------------------------------------------------------------------------------------------
def _data_section(res: Any, extras: Mapping[str, Any]) -> str:
    summ = getattr(res, "data_summary", None)
    data = extras.get("data")
    if not isinstance(summ, Mapping) and isinstance(data, pd.DataFrame):
        from ..sessions.api import summarize_sessions

        summ = summarize_sessions(data)
    pairs: list[tuple[str, str]] = []
    if extras.get("source"):
        pairs.append(("source", str(extras["source"])))
    view = getattr(res, "view", None)
    pairs.append(("view", {"change": "change (one row per client: improvement = first minus "
                                     "last observed outcome)",
                           "growth": "growth (sessions in clients in therapists)"}.get(
                                str(view), str(view))))
    if isinstance(summ, Mapping):
        pairs += [
            ("therapists", str(summ.get("n_therapists"))),
            ("clients", str(summ.get("n_clients"))),
            ("sessions (distinct indices)",
             f"{summ.get('n_sessions')} (from {summ.get('session_min')} to "
             f"{summ.get('session_max')})"),
            ("rows", f"{summ.get('n_rows')} ({summ.get('n_observed')} with an outcome)"),
            ("clients per therapist", _mmm(summ.get("clients_per_therapist"))),
            ("sessions per client (observed)", _mmm(summ.get("sessions_per_client"))),
        ]
        miss = {k: v for k, v in (summ.get("missing") or {}).items() if v}
        pairs.append(("missing values", ", ".join(f"{k}: {v}" for k, v in miss.items())
                      or "none"))
    pairs.append(("rows in the model", f"{getattr(res, 'n_obs', '?')} "
                  f"({getattr(res, 'n_clients', '?')} clients, "
                  f"{getattr(res, 'n_therapists', '?')} therapists)"))
    factors = extras.get("factors") or {}
    if factors:
        pairs.append(("factor groups", "; ".join(f"{g}: {', '.join(map(str, c))}"
                                                 for g, c in factors.items())))
    out = _kv_table(pairs)
    dropped: list[str] = []
    info = extras.get("read_info") or {}
    if info:
        n_drop = info.get("n_dropped", 0)
        by = info.get("dropped_by") or {}
        if n_drop:
            why = ", ".join(f"{c}: {n}" for c, n in by.items())
            dropped.append(f"reading: dropped {n_drop} of {info.get('n_rows_read')} rows with "
                           f"missing key values (missing per column: {why}).")
        else:
            dropped.append(f"reading: all {info.get('n_rows_read')} rows kept.")
        for col, codes in (info.get("recoded") or {}).items():
            dropped.append(f"reading: column {col} stored as codes {codes}; the decomposition "
                           "uses its labels, against the reference level listed with the "
                           "shares of mean improvement.")
        if info.get("outcome_transform"):
            dropped.append(f"reading: {info['outcome_transform']}.")
    dropped += [str(n) for n in getattr(res, "notes", ()) or ()]
    dropped += [str(n) for n in extras.get("notes", ()) or ()]
    if dropped:
        out += H.box("info", "What was dropped or changed, and why", dropped)
    else:
        out += H.box("info", "What was dropped or changed, and why", "Nothing was dropped.")
    return out


# --------------------------------------------------------------------------------------------
# 2. model
# --------------------------------------------------------------------------------------------
def _model_section(res: Any, extras: Mapping[str, Any]) -> str:
    fit = getattr(res, "fit", None)
    n_boot = getattr(res, "n_boot", 0) or 0
    failed = getattr(res, "n_boot_failed", 0) or 0
    pairs = [("formula", str(getattr(res, "formula", "")))]
    out = ""
    if fit is not None:
        groups = getattr(fit, "n_groups", {}) or {}
        pairs += [
            ("estimation", f"{'REML' if getattr(fit, 'reml', True) else 'ML'} "
                           f"(engine {getattr(fit, 'engine', '?')})"),
            ("converged", "yes" if fit.converged else "NO"),
            ("singular (boundary) fit", "YES" if fit.singular else "no"),
            ("observations", f"{fit.n_obs} (dropped {getattr(fit, 'n_dropped', 0)}); groups: "
             + (", ".join(f"{g} {n}" for g, n in groups.items()) or "none")),
        ]
    else:
        pairs.append(("estimation", "no random effects: fixed-effects model only"))
    ci = getattr(res, "ci", "percentile")
    ci_words = ("intervals by estimand family: percentile, the logit-scale basic interval for the "
                "marginal R², profile likelihood for the therapist's variance components "
                "(the method column of the estimates CSV names each row's)") if ci == "auto" else (
        f"{ci} intervals")
    pairs.append(("bootstrap", f"{n_boot} cluster-bootstrap replicates (therapists resampled), "
                               f"{failed} failed, {max(n_boot - failed, 0)} used; {ci_words}; "
                               f"seed {getattr(res, 'seed', None)}"))
    out += _kv_table(pairs)
    if fit is not None and not fit.converged:
        out += H.box("error", "The model did not converge: its numbers are not to be trusted.",
                     list(fit.warnings) or ["no message from the optimiser"])
    if fit is not None and fit.singular:
        out += H.box("warn", "Singular fit: a variance component is estimated at (or near) "
                     "zero; the ICC and shares that use it sit on the boundary.",
                     list(fit.warnings) or ["boundary estimate"])
    if fit is not None and fit.converged and not fit.singular and fit.warnings:
        out += H.box("warn", "Warnings from the fit", list(fit.warnings))
    other = list(extras.get("warnings", []))
    if other:
        out += H.box("warn", "Warnings raised while reading and fitting", other)
    if n_boot == 0:
        out += H.box("warn", "No bootstrap", "n_boot = 0: no intervals; claim verdicts use the "
                     "point estimates only.")
    elif failed:
        out += H.box("warn", "Failed bootstrap replicates",
                     f"{failed} of {n_boot} replicates failed (no convergence or an estimation "
                     "error) and are left out of the intervals.")
    if fit is not None:
        fx = pd.DataFrame({"term": fit.fixed.index.astype(str), "estimate": fit.fixed.to_numpy(),
                           "std_error": np.asarray(fit.std_errors, dtype=float)})
        rows = [[H.td(t), H.td(H.fmt(e), "num"), H.td(H.fmt(s), "num")]
                for t, e, s in fx.itertuples(index=False)]
        var = fit.variance
        vrows = [[H.td(r.get("group")), H.td(r.get("term1")), H.td(r.get("term2")),
                  H.td(H.fmt(r.get("estimate")), "num")] for r in var.to_dict("records")]
        out += ("<details><summary>Fixed effects and variance parameters</summary>"
                + H.simple_table(["term", "estimate", "standard error"], rows)
                + H.simple_table(["group", "term", "term", "estimate"], vrows)
                + "</details>")
    return out


# --------------------------------------------------------------------------------------------
# 3. variance components and ICCs
# --------------------------------------------------------------------------------------------
def _variance_section(res: Any, table: pd.DataFrame, truth: dict) -> str:
    comps = getattr(res, "components", None)
    out = ("<p>Rights &amp; Sterba (2019) decomposition of the model-implied outcome variance: "
           "each component as a variance and as a share of the total, within-client, "
           "between-client and between-therapist variance.</p>")
    if isinstance(comps, pd.DataFrame) and not comps.empty:
        measures = [m for m in H.MEASURE_LABELS if m in set(comps["measure"].astype(str))]
        measures += [m for m in pd.unique(comps["measure"].astype(str)) if m not in measures]
        components = list(pd.unique(comps["component"].astype(str)))
        look = {(str(r["component"]), str(r["measure"])): r for r in comps.to_dict("records")}
        rows = []
        for c in components:
            cells = [f"<th>{H.esc(H.COMPONENT_LABELS.get(c, c))}</th>"]
            for m in measures:
                r = look.get((c, m))
                if r is None:
                    cells.append(H.blank_cell("\u2014"))
                else:
                    cells.append(H.estimate_cell(r, factor=c, estimand=f"component_{m}",
                                                 percent=m != "variance"))
            rows.append(cells)
        header = ["component"] + [H.esc(H.MEASURE_LABELS.get(m, m)) for m in measures]
        out += H.simple_table(header, rows, attrs=' data-table="components"')
    else:
        out += "<p class=\"na\">No variance components (model without random effects).</p>"
    look = _rows(table)
    rows = []
    for est, label in H.ICC_ESTIMANDS:
        factor = "therapist" if est == "d_therapist" else (
            "model" if est.startswith("r2_") else None)
        keys = [k for k in look if k[1] == est and (factor is None or k[0] == factor)]
        for k in keys:
            rows.append([f"<th>{H.esc(label)}</th>",
                         H.estimate_cell(look[k], factor=k[0], estimand=est,
                                         truth=truth.get(k),
                                         percent=est != "d_therapist")])
    if rows:
        out += "<h4>ICCs and R\u00b2</h4>" + H.simple_table(
            ["quantity", "estimate [95% interval]"], rows, attrs=' data-table="icc"')
    return out


# --------------------------------------------------------------------------------------------
# 4. shares under every estimand
# --------------------------------------------------------------------------------------------
def _shares_section(res: Any, table: pd.DataFrame, truth: dict) -> str:
    look = _rows(table)
    groups = _groups(table)
    present = {e for _, e in look}
    cols = [(e, w, d) for e, w, d in H.SHARE_ESTIMANDS
            if e in present or e != "share_mean_improvement"]
    header = ["factor"] + [f"{H.esc(w)}<small>{H.esc(d)}</small>" for _, w, d in cols]
    rows = []
    for g in groups + [p for p in _RANDOM_PARTS if (p, "share_total_variance") in look]:
        cells = [f"<th>{H.esc(H.factor_words(g))}</th>"]
        for e, _, _ in cols:
            r = look.get((g, e))
            if r is None and g in _RANDOM_PARTS:
                cells.append(H.blank_cell("not defined"))
            elif (g in ESTIMANDS[e].excludes
                  and (r is None or not math.isfinite(H.as_float(r.get("estimate"))))):
                cells.append(H.blank_cell("not defined: outside this denominator"))
            else:
                cells.append(H.estimate_cell(r, factor=g, estimand=e, truth=truth.get((g, e))))
        rows.append(cells)
    out = ("<p>One row per factor group, one column per estimand. Read each column on its "
           "own: the columns have different denominators and are never added across.</p>")
    out += H.simple_table(header, rows, attrs=' data-table="shares"')
    if "share_mean_improvement" not in present:
        out += H.box("info", "Shares of mean improvement not estimated",
                     "no reference levels were given for this dataset (see below).")
    com = getattr(res, "commonality", None)
    if isinstance(com, pd.DataFrame) and not com.empty:
        crow = [[H.td(str(r["groups"])),
                 H.estimate_cell(r, factor=str(r["groups"]), estimand="commonality",
                                 percent=True)] for r in com.to_dict("records")]
        out += ("<h4>Commonality: unique and shared parts of the marginal R\u00b2</h4>"
                "<p>A single group is its unique part; a '+' joins groups whose shared part is "
                "shown (it can be negative when predictors suppress each other).</p>"
                + H.simple_table(["groups", "share of total outcome variance"], crow,
                                 attrs=' data-table="commonality"'))
    shown = ({e for e, _, _ in H.SHARE_ESTIMANDS} | {e for e, _ in H.ICC_ESTIMANDS}
             | {"mean_improvement"})
    rest = table.loc[~table["estimand"].isin(shown)]
    if not rest.empty:
        orow = [[H.td(H.factor_words(r["factor"])), H.td(H.estimand_words(r["estimand"])),
                 H.estimate_cell(r, factor=r["factor"], estimand=r["estimand"],
                                 truth=truth.get((r["factor"], r["estimand"])))]
                for r in rest.to_dict("records")]
        out += "<h4>Other estimates</h4>" + H.simple_table(
            ["factor", "estimand", "estimate [95% interval]"], orow, attrs=' data-table="other"')
    return out


# --------------------------------------------------------------------------------------------
# 5. mean improvement
# --------------------------------------------------------------------------------------------
def _mean_section(res: Any, table: pd.DataFrame, truth: dict) -> str:
    sub = table.loc[table["estimand"] == "share_mean_improvement"]
    out = ("<p>Parts of the <em>average</em> improvement (docs/methods.md section 5): for each "
           "group, the mean predicted improvement minus the mean predicted with the group's "
           "columns set to their reference level (\u201cabsent\u201d), over the mean "
           "improvement; extra-therapeutic is the rest. The shares move with the reference "
           "levels, which are part of the answer.</p>")
    refs = getattr(res, "references", None)
    if isinstance(refs, pd.DataFrame) and not refs.empty:
        rrows = [[H.td(H.factor_words(r.get("factor"))), H.td(r.get("column")),
                  H.td(r.get("reference")), H.td(r.get("note", ""))]
                 for r in refs.to_dict("records")]
        out += "<h4>Reference levels</h4>" + H.simple_table(
            ["factor", "column", "reference level", "note"], rrows,
            attrs=' data-table="references"')
    if sub.empty:
        return out + H.box("info", "Not estimated", "No reference levels were given, so no "
                           "shares of mean improvement. Pass references={group: {column: "
                           "value}} to decompose.")
    rows = [[f"<th>{H.esc(H.factor_words(r['factor']))}</th>",
             H.estimate_cell(r, factor=r["factor"], estimand="share_mean_improvement",
                             truth=truth.get((r["factor"], "share_mean_improvement")))]
            for r in sub.to_dict("records")]
    out += H.simple_table(["factor", "share of mean improvement [95% interval]"], rows,
                          attrs=' data-table="mean"')
    total = pd.to_numeric(sub["estimate"], errors="coerce").sum()
    out += f"<p>Sum of the shares: {H.fmt(total, True)}.</p>"
    mi = _rows(table).get(("model", "mean_improvement"))
    if mi is not None:
        out += H.simple_table(["", "estimate [95% interval]"], [[
            "<th>mean improvement (outcome units, the denominator of the shares)</th>",
            H.estimate_cell(mi, factor="model", estimand="mean_improvement",
                            truth=truth.get(("model", "mean_improvement")), percent=False)]],
            attrs=' data-table="mean-improvement"')
    return out


# --------------------------------------------------------------------------------------------
# 6. claims
# --------------------------------------------------------------------------------------------
def _claims_frame(table: pd.DataFrame, extras: Mapping[str, Any]) -> pd.DataFrame:
    from ..claims.registry import compare_claims

    factors = extras.get("factors") or None
    return compare_claims(table, available=list(factors) if factors else None)


def _claims_section(res: Any, table: pd.DataFrame, extras: Mapping[str, Any]) -> str:
    try:
        cmp = _claims_frame(table, extras)
    except Exception as exc:  # shown, not hidden
        return H.box("error", "Claims table not computed", f"{type(exc).__name__}: {exc}")
    out = ("<p>Each published claim set only beside an estimate of the same factor and "
           "estimand (docs/claims.md). <span class=\"v-ok\">consistent</span>: the claimed value or "
           "range overlaps the 95% interval; <span class=\"v-bad\">inconsistent</span>: it "
           "does not; <span class=\"v-na\">not estimable here</span>: the data cannot speak "
           "to it.</p>")

    def rows_of(frame: pd.DataFrame) -> list[list[str]]:
        rows = []
        for r in frame.to_dict("records"):
            est = str(r.get("estimand"))
            row_in = {"estimate": r.get("estimate"), "ci_low": r.get("ci_low"),
                      "ci_high": r.get("ci_high")}
            cell = (H.estimate_cell(row_in, factor=str(r.get("factor")), estimand=est)
                    if math.isfinite(H.as_float(r.get("estimate"))) else H.blank_cell("\u2014"))
            verdict = str(r.get("verdict"))
            rows.append([H.td(r.get("claim")), H.td(H.factor_words(r.get("factor"))),
                         H.td(r.get("claimed")), H.td(H.estimand_words(est)), cell,
                         f'<td class="{H.VERDICT_CLASS.get(verdict, "")}" '
                         f'data-verdict="{H.esc(verdict)}">{H.esc(verdict)}</td>',
                         H.td(r.get("reason"))])
        return rows

    header = ["claim", "factor", "claimed", "estimand", "estimate [95% interval]", "verdict",
              "why"]
    tested = cmp.loc[cmp["verdict"] != "not estimable here"]
    untested = cmp.loc[cmp["verdict"] == "not estimable here"]
    counts = cmp["verdict"].value_counts()
    out += "<p>" + "; ".join(f"{H.esc(k)}: {int(v)}" for k, v in counts.items()) + ".</p>"
    out += H.simple_table(header, rows_of(tested), cls="wide",
                          attrs=' data-table="claims"')
    if not untested.empty:
        out += (f"<details><summary>{len(untested)} claim parts not estimable here</summary>"
                + H.simple_table(header, rows_of(untested), cls="wide",
                                 attrs=' data-table="claims-na"')
                + "</details>")
    return out


# --------------------------------------------------------------------------------------------
# 7. figures
# --------------------------------------------------------------------------------------------
def _figures_section(res: Any, table: pd.DataFrame, extras: Mapping[str, Any],
                     anchor: str) -> str:
    from ..plots import figures as plots
    try:
        claims = _claims_frame(table, extras)
    except Exception:  # the claims section shows the error
        claims = None
    parts: list[str] = []

    def draw(key: str, caption: str, alt: str, size: tuple[float, float], fn) -> None:
        fig = H.new_figure(*size)
        try:
            fn(fig)
            parts.append(H.figure_html(fig, caption, alt, fig_id=f"{anchor}-fig-{key}"))
        except Exception as exc:  # a failed figure is reported in the page, never hidden
            parts.append(H.box("warn", f"Figure not drawn: {alt}", f"{type(exc).__name__}: {exc}"))

    present = set(table["estimand"])
    panels = [e for e in SHARE_ESTIMANDS if e != "part_r2" and e in present]

    def shares(fig):
        axes = fig.subplots(math.ceil(len(panels) / 2), 2, squeeze=False).ravel()
        for ax, e in zip(axes, panels, strict=False):
            plots.plot_shares(table.loc[table["estimand"] == e], claims=claims, estimand=e,
                              ax=ax)
        for ax in axes[len(panels):]:
            ax.set_visible(False)

    if panels:
        draw("shares", "Each factor's share with its 95% interval (points and bars) beside the "
             "published claims of the same estimand (diamonds and shaded ranges); one panel per "
             "estimand, never mixed.", "shares beside claims",
             (11, 5.2 * math.ceil(len(panels) / 2)), shares)

    mean = table.loc[table["estimand"] == "share_mean_improvement"]
    var = table.loc[(table["estimand"] == "share_total_variance")]

    def pie(fig):
        plots.plot_pie_vs_bar(mean, var, axes=fig.subplots(1, 2))

    if not mean.empty:
        draw("pie", "Left: shares of the mean improvement (Lambert's pie). Right: shares of "
             "total outcome variance with 95% intervals. The same factors, different wholes.",
             "pie of mean improvement beside variance bars", (11, 4.4), pie)

    data = extras.get("data")
    if isinstance(data, pd.DataFrame) and {"client", "session", "outcome"} <= set(data.columns):
        hue = None
        for col in (extras.get("factors") or {}).get("technique", []):
            if col in data.columns and data[col].nunique() <= 6:
                hue = col
                break
        draw("trajectories", "Outcome over sessions for 30 randomly chosen clients (thin lines) "
             "and the mean trajectory of all clients" + (f", by {hue}" if hue else "") + ".",
             "client trajectories", (8, 4.2),
             lambda fig: plots.plot_trajectories(data, hue=hue, n_clients=30,
                                                 seed=getattr(res, "seed", 0) or 0,
                                                 ax=fig.subplots()))

    ranef = _therapist_ranef(getattr(res, "fit", None))
    if ranef is not None:
        frame, est_col, se_col = ranef
        draw("caterpillar", "Predicted therapist effects (conditional modes) ranked, with 95% "
             "intervals from their conditional variances: ranking uncertainty, not a league "
             "table.", "therapist caterpillar plot", (9, 4.2),
             lambda fig: plots.plot_caterpillar(frame, estimate=est_col, se=se_col,
                                                label="therapist", ax=fig.subplots()))
    else:
        parts.append(H.box("info", "No therapist caterpillar plot",
                           "the model has no therapist random effect."))

    reps = getattr(res, "replicates", None)
    key = "relationship|share_total_variance"
    look = _rows(table)
    if isinstance(reps, pd.DataFrame) and key in reps.columns and \
            np.isfinite(pd.to_numeric(reps[key], errors="coerce")).sum() >= 2:
        est = H.as_float(look.get(("relationship", "share_total_variance"), {}).get("estimate"))
        draw("bootstrap", "Bootstrap distribution of the relationship's share of total outcome "
             "variance, with the estimate and the percentile interval.",
             "bootstrap distribution", (7, 3.6),
             lambda fig: plots.plot_bootstrap(pd.to_numeric(reps[key], errors="coerce")
                                              .to_numpy(dtype=float),
                                              estimate=est, estimand="share_total_variance",
                                              ax=fig.subplots()))
    return "".join(parts)


def _therapist_ranef(fit: Any) -> tuple[pd.DataFrame, str, str] | None:
    if fit is None or not hasattr(fit, "ranef"):
        return None
    re = fit.ranef(condvar=True)
    df = re.get("therapist") if isinstance(re, Mapping) else None
    if df is None or df.empty:
        return None
    est_cols = [c for c in df.columns if not str(c).endswith("_se") and f"{c}_se" in df.columns]
    if not est_cols:
        return None
    frame = df.reset_index()
    if "therapist" not in frame.columns:
        frame = frame.rename(columns={frame.columns[0]: "therapist"})
    return frame, str(est_cols[0]), f"{est_cols[0]}_se"
