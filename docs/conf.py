"""Sphinx configuration of the commonfactors documentation (``make docs``).

Pages are Markdown (MyST); the notebooks are rendered from their committed outputs (myst-nb,
never executed here); the API reference is autodoc with numpydoc. Tables that exist as data in
the package (the claims registry, the dataset catalogue), the figure gallery (the figures of the
committed notebook outputs), an APA table made with the library, and the API pages are generated
into ``_generated/`` and ``api/`` at the start of every build, so nothing is typed twice.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import os
import shutil
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "src"))

import commonfactors as cf  # noqa: E402

project = "commonfactors"
author = "the commonfactors developers"
copyright = "2026, the commonfactors developers"  # noqa: A001
release = version = cf.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "numpydoc",
]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md", "_generated/*.md"]
root_doc = "index"

# notebooks: shown with their committed outputs, never executed by the docs build
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# API: autodoc + numpydoc
autodoc_default_options = {"members": False}
autodoc_typehints = "none"
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "furo"
html_title = f"commonfactors {release}"
html_static_path: list[str] = []
html_last_updated_fmt = None
html_copy_source = False

GENERATED = DOCS / "_generated"
API = DOCS / "api"

# subpackages and modules of the API reference, in pipeline order, with a one-line purpose
MODULES = [
    ("sessions", "Session data: canonical schema, readers, checks, change view"),
    ("datasets", "Named real and synthetic datasets"),
    ("simulation", "Simulator with known truth, presets, truth tables"),
    ("models", "Mixed models in lme4 notation, disaggregation, lagged effects"),
    ("decomposition", "Variance and mean-improvement decompositions"),
    ("bootstrap", "Cluster bootstrap and intervals"),
    ("claims", "The registry of published claims"),
    ("meta", "Meta-regression and design-based shares"),
    ("conversions", "Effect-size conversions"),
    ("planning", "Precision of a planned study"),
    ("plots", "Figures"),
    ("tables", "Tables for papers"),
    ("report", "The HTML report"),
    ("errors", "Errors"),
]


# --------------------------------------------------------------------------------------------
# generated pages
# --------------------------------------------------------------------------------------------
def _md_cell(value) -> str:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text


def _md_table(frame) -> str:
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(_md_cell(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows]) + "\n"


def _claims_table() -> None:
    reg = cf.claims_registry()
    cols = ["id", "factor", "estimand", "text", "value", "low", "high", "source", "status", "note"]
    out = reg[cols].copy()
    for c in ("value", "low", "high"):
        out[c] = out[c].map(lambda v: "" if v != v else f"{v:.4g}")
    out["id"] = out["id"].map(lambda s: f"`{s}`")
    out["estimand"] = out["estimand"].map(lambda s: f"`{s}`")
    (GENERATED / "claims_table.md").write_text(
        f"{out['id'].nunique()} claims in {len(out)} parts.\n\n" + _md_table(out),
        encoding="utf-8")


def _datasets_table() -> None:
    cat = cf.list_datasets()
    cat["name"] = cat["name"].map(lambda s: f"`{s}`")
    cat["n_rows"] = cat["n_rows"].map(lambda v: "" if v is None or v != v else str(int(v)))
    (GENERATED / "datasets_table.md").write_text(_md_table(cat), encoding="utf-8")


def _notebooks() -> list[Path]:
    target = GENERATED / "notebooks"
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        dest = target / nb.name
        shutil.copyfile(nb, dest)
        copied.append(dest)
    return copied


def _gallery(notebooks: list[Path]) -> None:
    import nbformat

    folder = GENERATED / "gallery"
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        title = next((c.source.splitlines()[0].lstrip("# ").strip() for c in nb.cells
                      if c.cell_type == "markdown" and c.source.startswith("# ")), path.stem)
        k = 0
        figures = []
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for out in cell.get("outputs", []):
                png = out.get("data", {}).get("image/png")
                if not png:
                    continue
                k += 1
                name = f"{path.stem}_{k}.png"
                (folder / name).write_bytes(base64.b64decode(png))
                figures.append(name)
        if not figures:
            continue
        lines.append(f"## {title}\n")
        lines.append(f"From the tutorial {{doc}}`_generated/notebooks/{path.stem}`.\n")
        for name in figures:
            lines.append(f"```{{image}} _generated/gallery/{name}\n:alt: figure {name}\n"
                         ":width: 48%\n```\n")
    (GENERATED / "gallery_body.md").write_text("\n".join(lines), encoding="utf-8")


def _apa_table() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim = cf.simulate("wampold_imel_2015", n_therapists=20, clients_per_therapist=10,
                          n_sessions=8, seed=3)
        res = cf.decompose(sim.data, factors=sim.factors, view="change", n_boot=200, seed=0,
                           progress=False)
    tab = res.to_table("apa")
    (GENERATED / "apa_table.html").write_text(tab.render("apa"), encoding="utf-8")
    (GENERATED / "apa_table.tex").write_text(tab.render("latex"), encoding="utf-8")


def _public_names() -> dict[int, str]:
    """id(object) -> its top-level name, for every name in commonfactors.__all__."""
    out = {}
    for name in cf.__all__:
        if name == "__version__":
            continue
        out[id(getattr(cf, name))] = name
    return out


def _directive(obj, qualname: str) -> str:
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return f".. autoexception:: {qualname}\n"
        return f".. autoclass:: {qualname}\n   :members:\n   :undoc-members: false\n"
    if callable(obj):
        return f".. autofunction:: {qualname}\n"
    return f".. autodata:: {qualname}\n   :no-value:\n"


def _api_pages() -> None:
    if API.exists():
        shutil.rmtree(API)
    API.mkdir()
    top = _public_names()
    lines = ["The public face: ``import commonfactors as cf`` gives every name below.", ""]
    lines = ["Top level: ``commonfactors``", "=" * 29, "", ".. module:: commonfactors", "",
             "Every name of ``commonfactors.__all__``; ``import commonfactors as cf`` gives "
             "each as ``cf.name``.", ""]
    for name in sorted(n for n in cf.__all__ if n != "__version__"):
        obj = getattr(cf, name)
        lines += [f"``{name}``", "-" * (len(name) + 4), "", _directive(obj, f"commonfactors.{name}")]
    (API / "commonfactors.rst").write_text("\n".join(lines), encoding="utf-8")

    toc = ["commonfactors"]
    for mod_name, purpose in MODULES:
        mod = importlib.import_module(f"commonfactors.{mod_name}")
        title = f"``commonfactors.{mod_name}``: {purpose}"
        body = [title, "=" * len(title), "", f".. automodule:: commonfactors.{mod_name}",
                "   :no-members:", ""]
        same, own = [], []
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            (same if id(obj) in top else own).append(name)
        if same:
            body += ["Also at the top level (documented there): "
                     + ", ".join(f":py:obj:`{n} <commonfactors.{top[id(getattr(mod, n))]}>`"
                                 for n in same) + ".", ""]
        for name in own:
            qual = f"commonfactors.{mod_name}.{name}"
            body += [f"``{name}``", "-" * (len(name) + 4), "", _directive(getattr(mod, name),
                                                                          qual)]
        (API / f"{mod_name}.rst").write_text("\n".join(body), encoding="utf-8")
        toc.append(mod_name)
    index = ["API reference", "=============", "",
             "Every public name: the top level first, then each subpackage in the order data "
             "flows through the package (sessions, models, decomposition, bootstrap, claims, "
             "plots and report).", "", ".. toctree::", "   :maxdepth: 1", ""]
    index += [f"   {t}" for t in toc]
    (API / "index.rst").write_text("\n".join(index) + "\n", encoding="utf-8")


def _generate(app) -> None:
    GENERATED.mkdir(exist_ok=True)
    _claims_table()
    _datasets_table()
    nbs = _notebooks()
    _gallery(nbs)
    _apa_table()
    _api_pages()


def setup(app):
    os.environ.setdefault("MPLBACKEND", "Agg")
    app.connect("builder-inited", _generate)
