"""Session data: the canonical long schema, readers, checks and the change view.

Everything a researcher's own file passes through before a model sees it:
:func:`read_sessions` (CSV, TSV, Excel, Parquet, SPSS, Stata), :func:`check_sessions` (every
problem at once), :func:`clean_sessions`, :func:`validate_sessions`,
:func:`change_view` (one row per client: first and last observed outcome, improvement and
process measures), :func:`summarize_sessions`, and for exports that are not session rows yet
:func:`score_items` and :func:`wide_to_long`.
"""

from ._keys import check_keys
from .api import change_view, read_sessions, summarize_sessions, validate_sessions
from .checks import check_sessions, raise_on_errors
from .cleaning import clean_sessions
from .shape import score_items, wide_to_long

__all__ = ["read_sessions", "validate_sessions", "change_view", "summarize_sessions",
           "check_sessions", "clean_sessions", "raise_on_errors", "score_items", "wide_to_long",
           "check_keys"]
