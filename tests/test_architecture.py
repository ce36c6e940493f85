"""The shape of the package: no import circles, no private names across subpackages, small modules.

Imports are read from the source with ``ast`` (module-level and inside functions, since a late
import still ties two modules together), so these tests need no import of the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "commonfactors"
PKG = "commonfactors"
MAX_LINES = 600

# Debt recorded when the general engine and the inference modules were merged (main 21a4496):
# each entry must shrink, never grow; a new circle or a new long module fails the tests.
KNOWN_CYCLES = [
    # fit_mixed computes inference through the adapter, which refits through mixed (late imports)
    ["commonfactors.models._adapter", "commonfactors.models._kenward_roger",
     "commonfactors.models._profile", "commonfactors.models._protocol",
     "commonfactors.models.inference", "commonfactors.models.mixed"],
]
KNOWN_LONG: dict[str, int] = {}  # models/mixed.py is short again (derived predictors in models/derived.py)


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = [PKG, *rel.parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _imports(name: str) -> list[tuple[str, str | None, int]]:
    """(target module, imported name or None, line) of every import of the package's own code."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = name if _is_package(name) else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == PKG or a.name.startswith(PKG + "."):
                    out.append((a.name, None, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not (mod == PKG or mod.startswith(PKG + ".")):
                continue
            for a in node.names:
                sub = f"{mod}.{a.name}"
                if sub in MODULES:  # `from . import _estimates`: the module itself
                    out.append((sub, None, node.lineno))
                else:
                    out.append((mod, a.name, node.lineno))
    return out


def _graph() -> dict[str, set[str]]:
    return {m: {t for t, _, _ in _imports(m) if t in MODULES and t != m} for m in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _subpackage(module: str) -> str:
    """The room a module lives in: 'models', 'decomposition', ...; '' for the top level."""
    parts = module.split(".")
    if len(parts) >= 2 and _is_package(".".join(parts[:2])):
        return parts[1]
    return ""


def test_the_import_reader_sees_the_package():
    # guards the tests below against passing because nothing was parsed
    assert len(MODULES) > 40
    g = _graph()
    assert "commonfactors.models.nested" in g["commonfactors.decomposition._estimates"]
    assert "commonfactors.decomposition.api" in g["commonfactors.decomposition"]


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles():
    cycles = [c for c in _cycles(_graph()) if c not in KNOWN_CYCLES]
    assert not cycles, "import circles (module-level or late imports):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_no_private_name_crosses_a_subpackage():
    """A subpackage's private modules and private names are used only inside it."""
    bad = []
    for m in MODULES:
        src = _subpackage(m)
        for target, name, line in _imports(m):
            dst = _subpackage(target)
            if dst == src:
                continue
            inner = target.split(".")[2:] if dst else []
            private_module = any(p.startswith("_") for p in inner)
            private_name = name is not None and name.startswith("_") and not name.startswith("__")
            if private_module or private_name:
                bad.append(f"{MODULES[m].relative_to(ROOT)}:{line} imports "
                           f"{target}{'.' + name if name else ''}")
    assert not bad, "private names used across subpackages:\n" + "\n".join(bad)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small(name):
    n = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    limit = KNOWN_LONG.get(name, MAX_LINES)
    assert n <= limit, f"{MODULES[name].relative_to(ROOT)} has {n} lines (at most {limit})"


def test_known_debt_still_exists():
    """An entry of KNOWN_CYCLES / KNOWN_LONG that is fixed must be removed from the list."""
    cycles = _cycles(_graph())
    for c in KNOWN_CYCLES:
        assert c in cycles, f"the circle {c} is gone: remove it from KNOWN_CYCLES"
    for name in KNOWN_LONG:
        n = len(MODULES[name].read_text(encoding="utf-8").splitlines())
        assert n > MAX_LINES, f"{name} is short again: remove it from KNOWN_LONG"


def test_data_flows_one_way():
    """Upstream rooms never import downstream ones (late imports included)."""
    order = ["sessions", "models", "decomposition", "claims", "plots", "report"]
    bad = []
    for m in MODULES:
        src = _subpackage(m)
        if src not in order:
            continue
        for target, _, line in _imports(m):
            dst = _subpackage(target)
            if dst in order and order.index(dst) > order.index(src):
                # a result object may offer .compare_claims() / .plot() through a late import
                if src == "decomposition" and dst in ("claims", "plots"):
                    continue
                bad.append(f"{MODULES[m].relative_to(ROOT)}:{line} ({src}) imports {target} ({dst})")
    assert not bad, "\n".join(bad)
