"""Tests of the HTML report: content, numbers read back from the page, bundled run, browser."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import commonfactors as cf
from commonfactors import cli
from commonfactors.errors import CommonFactorsError, ConfigError, FactorGroupError
from commonfactors.report import run as rp

SECTION_HEADINGS = ("Data summary", "Model", "Variance components and ICCs",
                    "Factor shares under every estimand", "Shares of mean improvement", "Claims",
                    "Figures")
ESTIMAND_WORDS = ("share of total outcome variance", "share of explained variance",
                  "share of therapy-attributable variance", "part R\u00b2",
                  "share of mean improvement")
N_BOOT = 20
SEED = 3

_CELL = re.compile(r"<td\b([^>]*\bdata-factor=[^>]*)>")
_ATTR = re.compile(r'data-([a-z-]+)="([^"]*)"')


def _cells(fragment: str) -> pd.DataFrame:
    """Every estimate cell of an HTML fragment as a DataFrame of its data-* attributes."""
    rows = [dict(_ATTR.findall(m.group(1))) for m in _CELL.finditer(fragment)]
    out = pd.DataFrame(rows)
    for c in ("estimate", "ci-low", "ci-high", "truth"):
        if c in out.columns:
            out[c] = pd.to_numeric(out[c])
    return out


def _table(html: str, name: str, start: int = 0) -> str:
    """The HTML of the first ``<table data-table=name>`` at or after ``start``."""
    i = html.index(f'data-table="{name}"', start)
    return html[i:html.index("</table>", i)]


def _sections(html: str) -> list[str]:
    parts = html.split('<section class="dataset"')[1:]
    return [p.split("<footer>")[0] for p in parts]


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report_user")
    sim = cf.simulate("norcross_lambert_2011", n_therapists=12, seed=1)
    csv = folder / "sessions.csv"
    sim.data.to_csv(csv, index=False)
    fjson = folder / "factors.json"
    fjson.write_text(json.dumps(sim.factors))
    factors = json.loads(fjson.read_text())
    path = rp.run_report(str(csv), factors=factors, view="change", n_boot=N_BOOT,
                         out=folder / "out", seed=SEED, progress=False)
    return {"path": path, "html": path.read_text(encoding="utf-8"), "csv": csv,
            "fjson": fjson, "factors": factors, "folder": folder}


@pytest.fixture(scope="module")
def bundled_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report_bundled")
    path = rp.run_report(None, n_boot=20, out=folder, seed=1, progress=False)
    return {"path": path, "html": path.read_text(encoding="utf-8")}


# ------------------------------------------------------------------------------------------
# user data
# ------------------------------------------------------------------------------------------
def test_report_file_is_written_where_asked(user_run):
    assert user_run["path"] == user_run["folder"] / "out" / "commonfactors_report.html"
    assert user_run["path"].is_file()
    assert user_run["html"].startswith("<!DOCTYPE html>")


def test_report_is_self_contained(user_run):
    html = user_run["html"]
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert "@import" not in html and "url(" not in html
    imgs = re.findall(r'<img\b[^>]*\bsrc="([^"]*)"', html)
    assert len(imgs) >= 4  # shares, pie vs bars, trajectories, caterpillar (+ bootstrap)
    for src in imgs:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith("#") and f'id="{href[1:]}"' in html


def test_report_has_every_section_and_the_explanation(user_run):
    html = user_run["html"]
    assert "Why 12%, 40&ndash;50% and 80% are different questions" in html
    assert '<nav id="contents">' in html
    for heading in SECTION_HEADINGS:
        assert f"<h3>{heading}</h3>" in html
        assert f">{heading}</a>" in html  # in the table of contents
    shares = _table(html, "shares")
    for words in ESTIMAND_WORDS:
        assert words in shares
    for figure in ("fig-shares", "fig-pie", "fig-trajectories", "fig-caterpillar",
                   "fig-bootstrap"):
        assert f'id="ds-1-{figure}"' in html
    assert "Rights &amp; Sterba" in html
    assert "improvement ~ " in html  # the formula
    assert f"{N_BOOT} cluster-bootstrap replicates" in html and "0 failed" in html


def test_shares_table_numbers_equal_decompose(user_run):
    data = cf.read_sessions(user_run["csv"], factors=user_run["factors"])
    res = cf.decompose(data, factors=user_run["factors"], view="change", n_boot=N_BOOT,
                       seed=SEED, progress=False)
    want = res.table.set_index(["factor", "estimand"])
    html = user_run["html"]
    got = _cells(_table(html, "shares")).dropna(subset=["estimate"])
    got = got.set_index(["factor", "estimand"])
    # every finite share of a factor group is in the table, unrounded
    groups = list(user_run["factors"])
    share_names = ["share_total_variance", "share_explained_variance",
                   "share_therapy_variance", "part_r2", "share_mean_improvement"]
    expected = want.loc[want.index.get_level_values(0).isin(groups)
                        & want.index.get_level_values(1).isin(share_names)].dropna(
                            subset=["estimate"])
    assert len(expected) >= 4 * len(groups) - 1
    for key, row in expected.iterrows():
        assert got.loc[key, "estimate"] == row["estimate"], key
        np.testing.assert_array_equal(got.loc[key, ["ci-low", "ci-high"]].to_numpy(float),
                                      row[["ci_low", "ci_high"]].to_numpy(float))
    # the same cells print the number as a percentage with one decimal
    rel = want.loc[("relationship", "share_total_variance")]
    assert f"{100 * rel['estimate']:.1f}%" in _table(html, "shares")
    # ICCs too
    icc = _cells(_table(html, "icc")).set_index(["factor", "estimand"])
    for key in [("therapist", "icc_therapist"), ("model", "r2_marginal")]:
        assert icc.loc[key, "estimate"] == want.loc[key, "estimate"]


def test_claims_table_matches_compare_claims(user_run):
    html = user_run["html"]
    verdicts = re.findall(r'data-verdict="([^"]*)"', _table(html, "claims"))
    data = cf.read_sessions(user_run["csv"], factors=user_run["factors"])
    res = cf.decompose(data, factors=user_run["factors"], view="change", n_boot=N_BOOT,
                       seed=SEED, progress=False)
    cmp = cf.compare_claims(res.table, available=list(user_run["factors"]))
    tested = cmp.loc[cmp["verdict"] != "not estimable here", "verdict"].tolist()
    assert verdicts == tested
    assert {"consistent", "inconsistent"} & set(verdicts)
    assert 'class="v-ok"' in html or 'class="v-bad"' in html


def test_command_line_writes_the_report(user_run, tmp_path):
    code = cli.main(["report", str(user_run["csv"]), "--factors", str(user_run["fjson"]),
                     "--n-boot", "20", "--out", str(tmp_path), "--quiet"])
    assert code == 0
    html = (tmp_path / "commonfactors_report.html").read_text(encoding="utf-8")
    assert "20 cluster-bootstrap replicates" in html


def test_tables_are_written_as_csv_beside_the_html(user_run):
    folder = user_run["path"].parent / "tables"
    files = sorted(p.name for p in folder.glob("*.csv"))
    assert files == ["sessions_csv_claims.csv", "sessions_csv_components.csv",
                     "sessions_csv_estimates.csv"]
    est = pd.read_csv(folder / "sessions_csv_estimates.csv")
    cells = _cells(_table(user_run["html"], "shares")).set_index(["factor", "estimand"])
    got = est.set_index(["factor", "estimand"]).loc[cells.index]
    # the CSV keeps every digit of the number behind each printed cell (float round trip)
    np.testing.assert_allclose(got["estimate"], cells["estimate"], rtol=1e-15)
    assert (est.loc[est["estimand"] == "share_total_variance", "label"]
            == "share of total outcome variance").all()
    claims = pd.read_csv(folder / "sessions_csv_claims.csv")
    assert {"claim", "claimed", "estimate", "verdict"} <= set(claims.columns)
    assert "Tables as CSV (unrounded): 3 files in tables/" in user_run["html"]


def test_figures_are_saved_as_svg_and_pdf_on_request(user_run, tmp_path):
    assert not (user_run["path"].parent / "figures").exists()  # only on request
    code = cli.main(["report", str(user_run["csv"]), "--factors", str(user_run["fjson"]),
                     "--n-boot", "20", "--out", str(tmp_path), "--quiet",
                     "--figures", "svg", "pdf"])
    assert code == 0
    html = (tmp_path / "commonfactors_report.html").read_text(encoding="utf-8")
    n_fig = len(re.findall(r"<figure\b", html))
    svgs = sorted((tmp_path / "figures").glob("*.svg"))
    pdfs = sorted((tmp_path / "figures").glob("*.pdf"))
    assert len(svgs) == len(pdfs) == n_fig >= 4
    assert {p.stem for p in svgs} == {p.stem for p in pdfs}
    assert all(p.stem.startswith("sessions_csv_") for p in svgs)
    for p in svgs:
        text = p.read_text(encoding="utf-8")
        assert text.lstrip().startswith("<?xml") and "<svg" in text and "<dc:date>" not in text
    for p in pdfs:
        assert p.read_bytes()[:5] == b"%PDF-"
    assert f"Figures as SVG, PDF: {2 * n_fig} files in figures/" in html
    with pytest.raises(CommonFactorsError, match="`figure_formats`: expecting one of"):
        rp.write_report([], tmp_path / "x.html", figure_formats=["gif"])


# ------------------------------------------------------------------------------------------
# bundled datasets
# ------------------------------------------------------------------------------------------
def test_bundled_run_has_one_section_per_synthetic_dataset(bundled_run):
    cat = cf.list_datasets()
    names = cat.loc[(cat["kind"] == "synthetic") & cat["n_rows"].notna(), "name"].tolist()
    assert len(names) >= 4
    html = bundled_run["html"]
    sections = _sections(html)
    titles = [*names, "implement (real data)"]
    assert len(sections) == len(titles)
    for i, (name, sec) in enumerate(zip(titles, sections, strict=True), start=1):
        assert f"<h2>{i}. {name}</h2>" in sec
        assert "analysis failed" not in sec
        for heading in SECTION_HEADINGS:
            assert f"<h3>{heading}</h3>" in sec
        # only the real dataset has a provenance block and a list of what it cannot estimate
        assert ("What this dataset cannot estimate" in sec) == name.startswith("implement")


def test_bundled_run_reports_implement_with_provenance_and_limits(bundled_run):
    sec = next(s for s in _sections(bundled_run["html"]) if "implement (real data)</h2>" in s)
    meta = cf.load_dataset("implement").attrs["commonfactors"]
    cannot = sec[sec.index("What this dataset cannot estimate"):]
    for key in meta["cannot_estimate"]:
        assert f"<b>{key}</b>" in cannot
    assert "MIT" in sec and "EBioMedicine" in sec and meta["sha256"] in sec
    assert "analysed in the growth view" in sec
    assert "alliance_time" in sec  # the growth model's formula, whatever the report's view
    # the section's numbers are decompose's on the same data and settings
    res = cf.decompose(cf.load_dataset("implement"), factors=meta["factors"], view="growth",
                       n_boot=0)
    want = res.table.set_index(["factor", "estimand"])["estimate"]
    cells = _cells(_table(sec, "shares")).set_index(["factor", "estimand"])
    key = ("relationship", "share_total_variance")
    # same data, formula and optimiser: equal up to the optimiser's reproducibility
    assert cells.loc[key, "estimate"] == pytest.approx(want.loc[key], abs=1e-9)


def test_bundled_run_shows_the_truth_beside_estimates(bundled_run):
    html = bundled_run["html"]
    sections = _sections(html)
    name = "norcross_lambert_2011"
    sec = next(s for s in sections if f". {name}</h2>" in s)
    truth = pd.read_csv(cf.datasets.data_dir() / "synthetic" / f"{name}_truth.csv")
    truth = truth.loc[truth["view"] == "change"].set_index(["factor", "estimand"])["value"]
    cells = _cells(_table(sec, "shares")).set_index(["factor", "estimand"])
    for key in [("relationship", "share_total_variance"),
                ("relationship", "share_therapy_variance"),
                ("technique", "share_mean_improvement")]:
        assert cells.loc[key, "truth"] == pytest.approx(truth.loc[key], abs=1e-12)
    assert "truth 12.0%" in sec  # Norcross & Lambert's 12%, the preset's population value
    # the presets' reference levels were used for the mean shares
    refs = _table(sec, "references")
    assert "alliance" in refs and "<td>3.0</td>" in refs
    assert "20 cluster-bootstrap replicates" in html


# ------------------------------------------------------------------------------------------
# warnings, failures, escaping
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_result():
    sim = cf.simulate("wampold_imel_2015", n_therapists=8, clients_per_therapist=6,
                      n_sessions=4, seed=2)
    res = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=0, seed=0,
                       progress=False)
    return sim, res


def test_failed_and_singular_fits_are_shown_in_warning_boxes(small_result, tmp_path):
    sim, res = small_result
    bad_fit = dataclasses.replace(res.fit, converged=False, singular=True,
                                  warnings=("optimiser stopped at the iteration limit",))
    bad = dataclasses.replace(res, fit=bad_fit, notes=("dropped <b>5</b> clients",))
    path = rp.write_report([("<script>alert(1)</script>", bad, {"data": sim.data}),
                            ("broken", None, {"error": "EstimationError: no rows"})],
                           tmp_path / "r.html")
    html = path.read_text(encoding="utf-8")
    assert '<div class="box error"' in html and "did not converge" in html
    assert "Singular fit" in html and "optimiser stopped at the iteration limit" in html
    assert "<td>NO</td>" in html and "<td>YES</td>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "dropped &lt;b&gt;5&lt;/b&gt; clients" in html
    assert "EstimationError: no rows" in html and "analysis failed" in html
    assert "n_boot = 0: no intervals" in html  # no bootstrap is said, not hidden


def test_n_boot_default_depends_on_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert rp._resolve_n_boot(None) == 1000
    monkeypatch.setenv("CI", "true")
    assert rp._resolve_n_boot(None) == 100
    assert rp._resolve_n_boot(7) == 7


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------
def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommonFactorsError, match=r"`data`: file .*nope\.csv.* not found"):
        rp.run_report(tmp_path / "nope.csv", factors={"relationship": ["alliance"]},
                      out=tmp_path, progress=False)


def test_factors_are_required_for_user_data(user_run, tmp_path):
    with pytest.raises(FactorGroupError, match=r"`factors`: expecting a mapping.*--factors"):
        rp.run_report(user_run["csv"], out=tmp_path, progress=False)
    assert not (tmp_path / "commonfactors_report.html").exists()


def test_other_bad_arguments(tmp_path, small_result):
    with pytest.raises(CommonFactorsError, match="`view`: expecting one of"):
        rp.run_report(None, view="pooled", out=tmp_path)
    with pytest.raises(ConfigError, match="`n_boot`: expecting an integer >= 0"):
        rp.run_report(None, n_boot=-1, out=tmp_path)
    with pytest.raises(CommonFactorsError, match="`data`: expecting None"):
        rp.run_report(42, factors={"a": ["b"]}, out=tmp_path)
    with pytest.raises(CommonFactorsError, match=r"`results`: expecting a list"):
        rp.write_report("not a list", tmp_path / "x.html")
    with pytest.raises(CommonFactorsError, match=r"`results\[0\]`: the decomposition is None"):
        rp.write_report([("x", None, {})], tmp_path / "x.html")


# ------------------------------------------------------------------------------------------
# headless browser
# ------------------------------------------------------------------------------------------
def test_report_loads_in_headless_chromium(user_run, tmp_path):
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    page = user_run["path"].resolve().as_uri()
    shot = tmp_path / "shot.png"
    base = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run(base + [f"--screenshot={shot}", "--window-size=1200,3000", page],
                   capture_output=True, timeout=180, check=True)
    dom = subprocess.run(base + ["--dump-dom", page], capture_output=True, text=True,
                         timeout=180, check=True).stdout
    for heading in SECTION_HEADINGS:
        assert f"<h3>{heading}</h3>" in dom
    n_img = len(re.findall(r"<img\b", user_run["html"]))
    assert len(re.findall(r"<img\b", dom)) == n_img >= 4
    assert shot.is_file() and shot.stat().st_size > 10_000
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1200, 3000)
        pixels = np.asarray(im.convert("L"))
    assert (pixels < 128).mean() > 0.005  # text was drawn, not a blank page


# ------------------------------------------------------------------------------------------
# arm-level data: the design-based section (Metapsy)
# ------------------------------------------------------------------------------------------
def test_bundled_run_includes_the_metapsy_design_based_section(bundled_run):
    from commonfactors.meta import design_based_shares, one_outcome_per_study

    html = bundled_run["html"]
    assert html.count('<section class="armlevel"') == 1
    sec = html[html.index('<section class="armlevel"'):]
    sec = sec[:sec.index("</section>") + len("</section>")]
    assert "metapsy_depression" in sec
    for heading in ("Design-based shares of mean improvement", "Sensitivity analyses",
                    "What this dataset cannot estimate", "Source, licence and citation"):
        assert f"<h3>{heading}</h3>" in sec
    assert "ODC-By 1.0" in sec and "zenodo.7254845" in sec
    assert "causal arm contrasts across trials" in sec
    # the shares printed are those of design_based_shares on the same arms (point estimates
    # are deterministic: exact equality of the full-precision data attributes)
    arms = cf.load_dataset("metapsy_depression", view="arms")
    arms = one_outcome_per_study(arms, study_col="study", outcome_col="instrument",
                                 priority_col="outcome_priority")
    ref = design_based_shares(arms, arm_col="arm_type", change_col="change", study_col="study",
                              n_col="n", arm_level=True, n_boot=0,
                              mapping={"usual_care": None, "other_control": None})
    cells = _cells(_table(sec, "design_shares")).set_index("factor")
    for row in ref.to_dict("records"):
        assert cells.loc[row["factor"], "estimate"] == row["estimate"]
    sens = _table(sec, "design_sensitivity")
    for label in ("care as usual as natural course", "self-report instruments only",
                  "clinician-rated instruments only", "published up to 2011",
                  "pre-post correlation r = 0.3"):
        assert label in sens
    assert "cuijpers_2012" in _table(sec, "design_claims")
    # the table of contents links to it
    assert 'href="#ds-' in html and "(arm-level data: design-based shares)" in html


def test_bundled_sections_keep_their_order_and_every_one_has_csv_tables(bundled_run):
    html = bundled_run["html"]
    order = [int(k) for k in re.findall(r'<section class="(?:dataset|armlevel)" id="ds-(\d+)"',
                                        html)]
    assert order == list(range(1, len(order) + 1)) and len(order) >= 5
    folder = bundled_run["path"].parent / "tables"
    stems = {p.name.rsplit("_", 1)[0] for p in folder.glob("*.csv")}
    assert "metapsy_depression" in stems and "norcross_lambert_2011" in stems
    shares = pd.read_csv(folder / "metapsy_depression_shares.csv")
    assert {"factor", "estimate"} <= set(shares.columns) and len(shares) == 3
