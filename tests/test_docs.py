"""The documentation site: it builds without warnings, every internal link resolves, the pages
load in headless Chromium and the navigation reaches every page.

Builds ``docs/`` exactly as ``make docs`` does (Sphinx with ``-W``) into ``docs/_build/html`` and
keeps screenshots in ``docs/_build/screenshots/`` (the CI artifact). Skipped, with the reason,
when the ``docs`` extra or Chromium is not installed.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import numpy as np
import pytest

import commonfactors as cf

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BUILD = DOCS / "_build" / "html"
SHOTS = DOCS / "_build" / "screenshots"
PAGES = ["index", "methods", "claims", "datasets", "tutorials", "tables", "gallery", "cli",
         "api/index", "api/commonfactors", "api/plots"]


def _missing_docs_extra() -> list[str]:
    return [m for m in ("sphinx", "myst_nb", "numpydoc", "furo")
            if importlib.util.find_spec(m) is None]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "link" and a.get("rel") in ("preconnect",)):
                self.links.append(a[key])


def _parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def _internal(link: str) -> bool:
    parts = urlsplit(link)
    return not parts.scheme and not parts.netloc and not link.startswith(("mailto:", "data:"))


@pytest.fixture(scope="module")
def site():
    missing = _missing_docs_extra()
    if missing:
        pytest.skip(f"docs extra not installed ({', '.join(missing)} missing): "
                    'pip install -e ".[docs]" (make test installs it)')
    if BUILD.exists():
        shutil.rmtree(BUILD)
    res = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
                          "-q", str(DOCS), str(BUILD)], capture_output=True, text=True,
                         cwd=ROOT, timeout=900)
    assert res.returncode == 0, f"sphinx -W failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    assert res.stderr.strip() == "", res.stderr[-4000:]  # no warning at all
    return BUILD


def test_every_page_exists(site):
    for page in PAGES:
        assert (site / f"{page}.html").is_file(), page
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(notebooks) >= 8
    for nb in notebooks:
        assert (site / "_generated" / "notebooks" / f"{nb}.html").is_file(), nb


def test_no_internal_link_is_broken(site):
    broken = []
    pages = sorted(site.rglob("*.html"))
    ids = {}
    for page in pages:
        parsed = _parse(page)
        ids[page.resolve()] = parsed.ids
    for page in pages:
        for link in _parse(page).links:
            if not _internal(link):
                continue
            parts = urlsplit(link)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page.resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)} -> {link}")
            elif parts.fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = _parse(target).ids
                if unquote(parts.fragment) not in ids[target]:
                    broken.append(f"{page.relative_to(site)} -> {link} (no such anchor)")
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken[:40])


def test_navigation_reaches_every_page_from_the_index(site):
    seen, todo = set(), [(site / "index.html").resolve()]
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        for link in _parse(page).links:
            parts = urlsplit(link)
            if _internal(link) and parts.path.endswith(".html"):
                target = (page.parent / unquote(parts.path)).resolve()
                if target.is_file() and target.is_relative_to(site.resolve()):
                    todo.append(target)
    wanted = {(site / f"{p}.html").resolve() for p in PAGES}
    wanted |= {p.resolve() for p in (site / "_generated" / "notebooks").glob("*.html")}
    assert wanted - seen == set(), sorted(str(p) for p in wanted - seen)


def test_generated_content_comes_from_the_package(site):
    claims = (site / "claims.html").read_text(encoding="utf-8")
    for cid in cf.claims_registry()["id"].unique():
        assert cid in claims, cid
    datasets = (site / "datasets.html").read_text(encoding="utf-8")
    for name in cf.list_datasets()["name"]:
        assert name in datasets, name
    api = (site / "api" / "commonfactors.html").read_text(encoding="utf-8")
    for name in cf.__all__:
        if name != "__version__":
            assert f'id="commonfactors.{name}"' in api, name
    n_png = sum(1 for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
                for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code"
                for o in c.outputs if "image/png" in o.get("data", {}))
    gallery = (site / "gallery.html").read_text(encoding="utf-8")
    assert len(re.findall(r"<img\b[^>]*_images/", gallery)) == n_png >= 8
    tables = (site / "tables.html").read_text(encoding="utf-8")
    assert "commonfactors-apa" in tables and "Table 1" in tables and "<em>Note.</em>" in tables


def _chromium(args, tmp_path, timeout=180):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    base = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=timeout,
                          check=True)


def test_pages_load_in_headless_chromium_and_a_screenshot_is_kept(site, tmp_path):
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("chromium not installed: apt-get install chromium (.ci/run installs it)")
    index = _parse(site / "index.html")
    # the sidebar navigation, followed as the browser resolves it: each target loads and shows
    # its own heading
    nav = [link for link in index.links if _internal(link) and link.endswith(".html")
           and not link.startswith(("genindex", "search", "py-modindex", "_"))]
    nav = list(dict.fromkeys(nav))
    assert {f"{p}.html" for p in ["methods", "claims", "datasets", "tables", "gallery"]} <= set(nav)
    for link in nav[:12]:
        page = (site / link).resolve()
        dom = _chromium(["--dump-dom", page.as_uri()], tmp_path).stdout
        title = re.search(r"<h1>(.*?)<a", (site / link).read_text(encoding="utf-8"), re.S)
        assert title, link
        assert title.group(1).strip() in dom, link
        assert 'class="sidebar-tree"' in dom, link  # the navigation is on every page
    SHOTS.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    for name in ("index", "tables"):
        shot = SHOTS / f"{name}.png"
        shot.unlink(missing_ok=True)
        _chromium([f"--screenshot={shot}", "--window-size=1280,1600",
                   (site / f"{name}.html").as_uri()], tmp_path)
        with Image.open(shot) as im:
            assert im.size == (1280, 1600)
            pixels = np.asarray(im.convert("L"))
        assert (pixels < 128).mean() > 0.005, name  # text was drawn, not a blank page
