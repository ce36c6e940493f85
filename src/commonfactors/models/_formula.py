"""Model formulas in lme4's notation: the random-effects grammar and the fixed part.

The fixed part (and the left-hand side of every random term) is handed to **formulaic**, the
maintained successor of patsy (patsy is in maintenance mode and its authors point to formulaic).
formulaic reads the R/patsy notation researchers already write: ``C(arm, Treatment("TAU"))``,
``I(session**2)``, ``poly(x, 2)``, ``np.log(x)``, ``bs(x, df=4)``, ``cr(x, df=3)``, ``a * b``,
``a:b``, ``- x``, ``0 +``, and ``Q("my column")`` or ```my column``` for column names that are
not identifiers, with no import on the user's side; it keeps the coding of a fitted design
(reference levels, spline knots, polynomial bases) in a picklable ``ModelSpec`` that re-codes new
data exactly (the counterfactual designs of ``decompose``). Names in a formula are looked up in
the data first, then in formulaic's transforms and NumPy (``np``), then in the namespace of the
code that called :func:`commonfactors.fit_mixed`.

Random terms follow lme4 (Bates et al. 2015, section 2.1):

=============================  ==============================================================
``(1 | g)``                    random intercept per level of ``g``
``(1 + x | g)``, ``(x | g)``   correlated intercept and slope
``(0 + x | g)``                slope only
``(x || g)``                   uncorrelated: ``(1 | g) + (0 + x | g)``
``(1 | a/b)``                  nested: ``(1 | a) + (1 | b:a)``; ``a/b/c`` adds ``c:(b:a)``
``(1 | a:b)``                  one level per observed combination of ``a`` and ``b``
``(1 | g) + (0 + x | g)``      several terms per factor (independent blocks)
=============================  ==============================================================

Grouping factors may be nested or crossed, any number of them. Group labels follow lme4's
``VarCorr``: ``b:a`` for the inner factor of ``a/b`` and ``g.1``, ``g.2``... for the second and
later terms of the same factor.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from ..errors import ModelSpecError

__all__ = ["RandomTerm", "ParsedFormula", "parse_formula", "fixed_names"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term after expansion.

    Attributes
    ----------
    expr : str
        Left of the bar, e.g. ``"1 + session"`` (formulaic notation).
    factors : tuple of str
        Columns whose combination defines the groups (``("therapist", "client")`` for
        ``therapist:client``).
    label : str
        lme4's name of the group in ``VarCorr`` (``"client:therapist"``, ``"Subject.1"``).
    source : str
        The term as written, for messages.
    """

    expr: str
    factors: tuple
    label: str
    source: str
    group: str = ""

    @property
    def factor_label(self) -> str:
        """The grouping factor's label without the ``.1`` suffix of repeated factors."""
        return _factor_label(self.factors)


@dataclass(frozen=True)
class ParsedFormula:
    lhs: str
    fixed: str
    random: tuple

    @property
    def fixed_formula(self) -> str:
        return f"{self.lhs} ~ {self.fixed}"


def _factor_label(factors: tuple) -> str:
    return ":".join(factors)


# ---------------------------------------------------------------------------- scanning
def _scan(text: str):
    """Yield (index, char, depth) outside quotes/backticks; depth counts parentheses."""
    depth, quote = 0, None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"`":
            quote = ch
            continue
        if ch == "(":
            depth += 1
            yield i, ch, depth - 1
            continue
        if ch == ")":
            depth -= 1
            yield i, ch, depth
            continue
        yield i, ch, depth


def _split_top(text: str, sep: str) -> list[str]:
    out, last = [], 0
    for i, ch, d in _scan(text):
        if ch == sep and d == 0:
            out.append(text[last:i])
            last = i + 1
    out.append(text[last:])
    return out


def _bar_position(inner: str) -> tuple[int, int] | None:
    """(start, length) of the top-level '|' or '||' in a parenthesised term, or None."""
    prev = None
    for i, ch, d in _scan(inner):
        if ch == "|" and d == 0:
            if prev == i - 1:
                return i - 1, 2
            prev = i
    if prev is None:
        return None
    return prev, 1


def _random_chunks(rhs: str, formula: str) -> tuple[str, list[str]]:
    """Cut the top-level parenthesised terms with a bar out of ``rhs``."""
    chunks = []
    events = list(_scan(rhs))
    pos = 0
    while pos < len(events):
        i, ch, d = events[pos]
        if ch == "(" and d == 0:
            j = pos + 1
            while j < len(events) and not (events[j][1] == ")" and events[j][2] == 0):
                j += 1
            if j == len(events):
                raise ModelSpecError(f"`formula`: unbalanced parentheses in {formula!r}.")
            inner = rhs[i + 1:events[j][0]]
            if _bar_position(inner) is not None:
                before = rhs[:i].rstrip()
                if before and not before.endswith("+"):
                    raise ModelSpecError(
                        f"`formula`: the random term ({inner.strip()}) must be added with '+' "
                        f"(e.g. y ~ x + (1 | g)); got {formula!r}.")
                chunks.append(inner)
            pos = j + 1
            continue
        pos += 1
    return _without_chunks(rhs, chunks), chunks


def _without_chunks(rhs: str, chunks: list[str]) -> str:
    out = rhs
    for c in chunks:
        k = out.find("(" + c + ")")
        out = out[:k] + out[k + len(c) + 2:]
    # tidy dangling '+'
    parts = [p.strip() for p in _split_top(out, "+")]
    parts = [p for p in parts if p]
    return " + ".join(parts)


def _group_name(tok: str, term: str) -> str:
    tok = tok.strip()
    m = re.fullmatch(r"Q\(\s*(['\"])(.*)\1\s*\)", tok)
    if m:
        return m.group(2)
    if tok.startswith("`") and tok.endswith("`") and len(tok) > 2:
        return tok[1:-1]
    if not _NAME.fullmatch(tok):
        raise ModelSpecError(
            f"`formula`: cannot read the grouping factor {tok!r} in ({term}); write column names "
            "joined by '/' (nested: a/b) or ':' (interaction: a:b), Q(\"name\") for a name with "
            "spaces.")
    return tok


def _expand_groups(spec: str, term: str) -> list[tuple]:
    """``a/b/c`` -> [(a,), (a, b), (a, b, c)]; ``a:b`` -> [(a, b)]."""
    spec = spec.strip()
    while spec.startswith("(") and spec.endswith(")") and _balanced(spec[1:-1]):
        spec = spec[1:-1].strip()
    if not spec:
        raise ModelSpecError(f"`formula`: no grouping factor after the bar in ({term}).")
    if len(_split_top(spec, "+")) > 1 or len(_split_top(spec, "*")) > 1:
        raise ModelSpecError(
            f"`formula`: the grouping part of ({term}) uses '+' or '*'; lme4 takes one factor, "
            "an interaction a:b or a nesting a/b after the bar: write one term per factor, e.g. "
            "(1 | a) + (1 | b).")
    chain = [[_group_name(t, term) for t in _split_top(part, ":")]
             for part in _split_top(spec, "/")]
    out, prefix = [], []
    for part in chain:
        prefix = prefix + part
        out.append(tuple(prefix))
    return out


def _balanced(s: str) -> bool:
    d = 0
    for _, ch, _depth in _scan(s):
        if ch == "(":
            d += 1
        elif ch == ")":
            d -= 1
            if d < 0:
                return False
    return d == 0


def _nested_label(factors: tuple, chain_len: int) -> str:
    """lme4's label of a nested factor: (a, b) -> 'b:a'; (a, b, c) -> 'c:(b:a)'."""
    if chain_len <= 1 or len(factors) == 1:
        return _factor_label(factors)
    label = factors[0]
    for k, f in enumerate(factors[1:], start=1):
        label = f"{f}:{label}" if k == 1 else f"{f}:({label})"
    return label


def _split_expr_terms(expr: str, term: str) -> list[str]:
    """``x || g`` expansion: the terms of ``expr`` one by one (intercept first)."""
    from formulaic import Formula

    try:
        f = Formula(expr)
    except Exception as exc:  # noqa: BLE001 - formulaic's syntax errors vary
        raise ModelSpecError(f"`formula`: cannot read {expr!r} in ({term}): {exc}") from None
    terms = [str(t) for t in f]
    out = []
    if "1" in terms:
        out.append("1")
    out += [f"0 + {t}" for t in terms if t != "1"]
    if not out:
        raise ModelSpecError(f"`formula`: ({term}) has no random effect.")
    return out


def parse_formula(formula: str) -> ParsedFormula:
    """Split an lme4 formula into outcome, fixed part and expanded random terms.

    Raises
    ------
    ModelSpecError
        A formula that is not ``outcome ~ ...``, a random term that cannot be read (saying
        which and what lme4 grammar is accepted), or no random term.
    """
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise ModelSpecError(f"`formula`: expecting one 'outcome ~ predictors' formula; got {formula!r}.")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    if not lhs:
        raise ModelSpecError(f"`formula`: no outcome on the left of '~' in {formula!r}.")
    fixed, chunks = _random_chunks(rhs, formula)
    if any(ch == "|" for _, ch, _ in _scan(fixed)):
        raise ModelSpecError(f"`formula`: random terms must be in parentheses, e.g. (1 | g); got {rhs!r}.")
    if not chunks:
        raise ModelSpecError(f"`formula`: no random term such as (1 | client) in {formula!r}.")
    random: list[RandomTerm] = []
    for inner in chunks:
        start, width = _bar_position(inner)
        expr, gspec = inner[:start].strip() or "1", inner[start + width:]
        term = inner.strip()
        if "|" in gspec:
            raise ModelSpecError(f"`formula`: more than one bar in ({term}).")
        chain = _expand_groups(gspec, term)
        exprs = _split_expr_terms(expr, term) if width == 2 else [expr]
        for factors in chain:
            label = _nested_label(factors, len(chain))
            for e in exprs:
                random.append(RandomTerm(expr=e, factors=factors, label=label, source=f"({term})"))
    # lme4 names repeated factors g, g.1, g.2 ...
    seen: dict[str, int] = {}
    named = []
    for t in random:
        k = seen.get(t.label, 0)
        seen[t.label] = k + 1
        named.append(RandomTerm(t.expr, t.factors, t.label if k == 0 else f"{t.label}.{k}",
                                t.source, group=t.label))
    return ParsedFormula(lhs=lhs, fixed=fixed or "1", random=tuple(named))


# ---------------------------------------------------------------------------- names used
_FUNCTION_ONLY = {"C", "I", "Q", "poly", "bs", "cr", "cc", "te", "center", "scale", "lag",
                  "hashed", "Treatment", "contr", "Sum", "Helmert", "Poly", "Diff", "np",
                  "numpy", "log", "exp", "sqrt", "abs"}


def fixed_names(expr: str) -> tuple[set[str], set[str]]:
    """Names a formula reads: (column candidates, function/module names).

    ``Q("...")`` and backticked names are columns; the first argument position of a call is
    whatever the expression is, names called as functions or used as ``np.`` prefixes are not
    columns; keyword values and string constants are not names.
    """
    from formulaic import Formula

    try:
        f = Formula(expr)
    except Exception as exc:  # noqa: BLE001
        raise ModelSpecError(f"`formula`: cannot read {expr!r}: {exc}") from None
    cols: set[str] = set()
    funcs: set[str] = set()
    sides = [f.lhs, f.rhs] if hasattr(f, "lhs") else [f]
    for side in sides:
        for t in side:
            for fac in t.factors:
                code = str(fac.expr)
                if getattr(fac.eval_method, "value", "") == "lookup":
                    cols.add(code)
                    continue
                try:
                    tree = ast.parse(code, mode="eval")
                except SyntaxError:
                    cols.add(code)
                    continue
                for node in ast.walk(tree):
                    if isinstance(node, ast.Call):
                        fn = node.func
                        if isinstance(fn, ast.Name):
                            funcs.add(fn.id)
                            if fn.id == "Q" and node.args and isinstance(node.args[0], ast.Constant):
                                cols.add(str(node.args[0].value))
                    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                        funcs.add(node.value.id)
                for node in ast.walk(tree):
                    if isinstance(node, ast.Name) and node.id not in funcs:
                        cols.add(node.id)
    return cols - {"Q"}, funcs
