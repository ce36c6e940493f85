"""Structural checks of the example notebooks in notebooks/.

The numbers in the notebooks are checked by nbval (``pytest notebooks --nbval-lax``), which
re-runs every notebook and compares the cells marked ``# NBVAL_CHECK_OUTPUT``. These tests check
what nbval cannot: that the committed notebooks were executed, that they say which published
claims they test, and that they stay thin clients of the library.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import commonfactors as cf

nbformat = pytest.importorskip("nbformat")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SMOKE_RE = re.compile(r"""SMOKE\s*=\s*["']CI["']\s+in\s+os\.environ""")
DEF_RE = re.compile(r"^\s*(async\s+)?(def|class)\s", re.MULTILINE)
NAME_RE = re.compile(r"^\d{2}_[a-z0-9_]+\.ipynb$")


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _what_this_shows(nb) -> str:
    """Text of the markdown from the '## What this shows' heading to the end of the notebook."""
    texts = []
    found = False
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        if not found and re.search(r"^#+\s*What this shows", cell.source, re.MULTILINE):
            found = True
        if found:
            texts.append(cell.source)
    return "\n".join(texts)


@pytest.fixture(scope="module")
def claim_ids() -> set[str]:
    return set(cf.claims_registry()["id"])


def test_notebooks_exist():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
class TestNotebook:
    def test_name_and_kernel(self, path):
        assert NAME_RE.match(path.name), f"{path.name}: expected NN_snake_name.ipynb"
        nb = _read(path)
        assert nb.nbformat == 4
        assert nb.metadata.get("kernelspec", {}).get("name") == "python3"

    def test_names_existing_claims(self, path, claim_ids):
        section = _what_this_shows(_read(path))
        assert section, f"{path.name}: no markdown '## What this shows' section"
        words = set(re.findall(r"[a-z][a-z0-9_]*", section))
        named = words & claim_ids
        assert named, f"{path.name}: the 'What this shows' section names no registry claim id"

    def test_has_checked_cells(self, path):
        checked = [
            c for c in _code_cells(_read(path))
            if c.source.lstrip().startswith("# NBVAL_CHECK_OUTPUT")
        ]
        assert checked, f"{path.name}: no cell starts with '# NBVAL_CHECK_OUTPUT'"
        for cell in checked:
            assert cell.outputs, f"{path.name}: a checked cell has no committed output"

    def test_outputs_committed(self, path):
        cells = _code_cells(_read(path))
        assert cells
        missing = [i for i, c in enumerate(cells) if c.source.strip() and c.execution_count is None]
        assert not missing, f"{path.name}: code cells {missing} were not executed; run tools/run_notebooks.py"
        counts = [c.execution_count for c in cells if c.source.strip()]
        assert counts == sorted(counts), f"{path.name}: cells were not run top to bottom"
        errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{path.name}: committed outputs contain an error"

    def test_defines_no_library_code(self, path):
        for i, cell in enumerate(_code_cells(_read(path))):
            assert not DEF_RE.search(cell.source), (
                f"{path.name}: code cell {i} defines a function or class; "
                "statistics belong in the library"
            )

    def test_smoke_flag_from_ci(self, path):
        cells = [c for c in _code_cells(_read(path)) if c.source.strip()]
        assert cells and SMOKE_RE.search(cells[0].source), (
            f"{path.name}: the first code cell must set SMOKE = \"CI\" in os.environ"
        )
