"""The Lagrangian bound's inner loop (relaxation.py, Relaxation.rows), compiled with numba.

For row j with level_j = rp_j - theta_j, each list unit i (gap_ij = rp_j - dp_ij >= 0) adds

    -w_i clip(s, 0, gap_ij),   s = v_i - level_j + gap_ij,

to rho_j, and w_i to the load when 0 < s < gap_ij. The lists are sorted by distance, so the
gaps fall along a row: once gap_ij <= level_j - max(v) no later unit can add anything, and
the row stops there (an exact shortcut, not an approximation), found by binary search before
the loop, so that the loop has no exit: faster than a loop that checks as it goes. One pass
over the pairs instead of NumPy's eight (gather, subtract, add, two compares, clip, two sums).

Two bodies on purpose: the steering pass is branch-free float32 with fastmath, the reported
one float64 in IEEE order. One body compiled both ways (the zero taken from vmax's type)
made fewer steps. Measurements: benchmarks/results/tuning.md, "Bound".
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, fastmath=True)
def terms_fast(idx, gap, w, vt, level, vmax, sel, rho, load):  # pragma: no cover - compiled
    """float32 inputs (gap, w, vt, level): the pass that steers the ascent."""
    zero = np.float32(0.0)
    for q in range(sel.shape[0]):
        r = sel[q]
        lv = level[r]
        gr, ir = gap[r], idx[r]
        acc = np.float32(0.0)
        ld = np.float32(0.0)
        for c in range(_stop(gr, lv - vmax)):
            g = gr[c]
            u = ir[c]
            s = vt[u] - lv + g
            wu = w[u]
            ld += wu if (s > zero) and (s < g) else zero
            acc += wu * min(max(s, zero), g)
        rho[q] = -acc
        load[q] = ld


@njit(cache=True, nogil=True)
def terms_exact(idx, gap, w, vt, level, vmax, sel, rho, load):  # pragma: no cover - compiled
    """float64 arithmetic (the gaps are float32, read exactly): the value reported."""
    for q in range(sel.shape[0]):
        r = sel[q]
        lv = level[r]
        gr, ir = gap[r], idx[r]
        acc = 0.0
        ld = 0.0
        for c in range(_stop(gr, lv - vmax)):
            g = np.float64(gr[c])
            u = ir[c]
            s = vt[u] - lv + g
            if s > 0.0:
                if s < g:
                    acc += w[u] * s
                    ld += w[u]
                else:
                    acc += w[u] * g
        rho[q] = -acc
        load[q] = ld


@njit(cache=True, nogil=True, inline="always")
def _stop(gr, cut):  # pragma: no cover - compiled
    """The first position whose gap is <= cut (gaps fall along a row): binary search."""
    lo, hi = 0, gr.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if gr[mid] <= cut:
            hi = mid
        else:
            lo = mid + 1
    return lo


def warm(idx_dtype) -> None:
    """Compile both kernels (or load them from numba's cache) for the types the bound passes,
    so that the first step's time, which sets the bound's reserve on the clock, is the step's
    own: without it the first bound in a process with a short clock stopped after one step."""
    idx = np.zeros((1, 1), dtype=idx_dtype)
    gap = np.zeros((1, 1), dtype=np.float32)
    sel = np.zeros(1, dtype=np.int64)
    f32 = np.zeros(1, dtype=np.float32)
    terms_fast(idx, gap, f32, f32, f32, np.float32(0.0), sel, np.zeros(1), np.zeros(1))
    terms_exact(idx, gap, np.zeros(1), np.zeros(1), np.zeros(1), 0.0, sel, np.zeros(1), np.zeros(1))


def warm_all() -> None:
    """Both index types: lists of units (lists.py) and lists from a distance matrix."""
    warm(np.int32)
    warm(np.int64)
