"""Per-segment sums of row products for the nested engine's statistics (see :mod:`.nested`)."""

from __future__ import annotations

import numpy as np

_BLOCK_ROWS = 1 << 17  # rows per block of _segment_cross: a 1 MB scratch vector


def _sorted_columns(A: np.ndarray, order: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
    """``[A, extra][order].T`` as a C-contiguous (cols, n) array, gathered one column at a time
    (no row-major copy of the sorted rows besides the result)."""
    cols = A.shape[1] + (extra is not None)
    out = np.empty((cols, order.size))
    for j in range(A.shape[1]):
        np.take(A[:, j], order, out=out[j])
    if extra is not None:
        np.take(extra, order, out=out[-1])
    return out


def _segment_cross(At: np.ndarray, Bt: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per-segment cross-products ``C_s = sum_{r in s} a_r b_r'``, shape (m, a, b).

    ``At`` (a, n) and ``Bt`` (b, n) hold the columns of rows sorted by segment; ``starts`` the
    first row of each of the m segments. Entry (u, v) of every ``C_s`` is a segment sum of the
    product vector ``At[u] * Bt[v]``; the rows are taken in blocks of whole segments of at most
    ``_BLOCK_ROWS`` rows (a longer segment is a block of its own), so the scratch memory is one
    block-length vector whatever n is, instead of the (n, a, b) array of all row products. When
    ``At is Bt`` only u >= v is computed and mirrored.
    """
    n, m = At.shape[1], starts.size
    sym = At is Bt
    out = np.empty((m, At.shape[0], Bt.shape[0]))
    ends = np.r_[starts[1:], n]
    buf = np.empty(min(n, _BLOCK_ROWS))
    g0 = 0
    while g0 < m:
        r0 = starts[g0]
        g1 = max(int(np.searchsorted(ends, r0 + _BLOCK_ROWS, side="right")), g0 + 1)
        r1 = ends[g1 - 1]
        local = starts[g0:g1] - r0
        tmp = buf[: r1 - r0] if r1 - r0 <= buf.size else np.empty(r1 - r0)
        for u in range(At.shape[0]):
            for v in range(u + 1 if sym else Bt.shape[0]):
                np.multiply(At[u, r0:r1], Bt[v, r0:r1], out=tmp)
                out[g0:g1, u, v] = np.add.reduceat(tmp, local)
                if sym:
                    out[g0:g1, v, u] = out[g0:g1, u, v]
        g0 = g1
    return out
