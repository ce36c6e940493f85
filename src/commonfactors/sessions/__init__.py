"""Session data: the canonical long schema, readers, checks and the change view.

Everything a researcher's own file passes through before a model sees it:
:func:`read_sessions` (CSV, TSV, Parquet, SPSS, Stata), :func:`validate_sessions`,
:func:`change_view` (one row per client: first and last observed outcome, improvement and
process measures) and :func:`summarize_sessions`.
"""

from .api import change_view, read_sessions, summarize_sessions, validate_sessions

__all__ = ["read_sessions", "validate_sessions", "change_view", "summarize_sessions"]
