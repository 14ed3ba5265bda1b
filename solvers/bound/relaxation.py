"""The relaxation's rows for fixed lists: each row's list terms of LB(v, theta), and the
workload bounds L and U it keeps per center (the model: solvers.bound.lagrangian).

    Relaxation(problem, lists, blocks, spare=0)   .rows(vt, level, exact) -> (list terms, load)
    workload_bounds(problem) -> (L, U, balanced)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.problem import Problem
from engine.tolerance import NOISE, slack
from solvers.bound.lists import NeighbourLists, down32, up32
from solvers.bound.outside import Blocks

# Rows are written this many pairs at a time (the temporaries of _fill stay small).
_CHUNK_PAIRS = 65536


def workload_bounds(problem: Problem) -> tuple[float, float, bool]:
    """L and U of the relaxed model (the first measure's bounds, 0 and inf when it is not
    balanced), widened by the slack within which the evaluator accepts a total (so must the
    bound), and whether any of them binds."""
    if not problem.balanced[0]:
        return 0.0, np.inf, False
    lo = float(problem.lower[0])
    hi = float(problem.upper[0])
    lo = float(max(0.0, lo - slack(lo) - NOISE))
    hi = float(hi + slack(hi) + NOISE) if np.isfinite(hi) else np.inf
    return lo, hi, lo > 0 or np.isfinite(hi)


class Relaxation:
    """LB(v, theta) for fixed lists (solvers.bound.kernels). Lists are stored in float32, every
    value rounded down (a shorter distance keeps the bound valid): idx and the gap
    rp_j - dp_ij >= 0, each row's gaps falling. The fast float32 pass steers the ascent; the
    reported bound comes from the float64 pass over the same numbers.

    For row j, level_j = rp_j - theta_j and s_i = v_i + theta_j, a list unit's term

        w_i min(0, dp_ij - s_i) - w_i min(0, rp_j - s_i) = -w_i clip(v_i - level_j + gap_ij, 0, gap_ij)

    is what it adds to the outside correction, which counts every non-top unit as if at its
    block's base (rp_j for the blocks the list reaches; solvers.bound.outside)."""

    def __init__(self, problem: Problem, lists: NeighbourLists, blocks: Blocks, spare: int = 0) -> None:
        """The rows of `lists`, with room for `spare` more (refined rows, see place); units
        outside a row's list are counted by `blocks` (solvers.bound.outside)."""
        self.w = np.asarray(problem.weights, dtype=float)
        self.w32 = self.w.astype(np.float32)
        self.blocks = blocks
        self.p = problem.distance_power
        R, m = lists.idx.shape
        cap = R + max(0, int(spare))
        self.R = R
        self.chunk = max(1, _CHUNK_PAIRS // max(m, 1))
        self.idx = lists.idx if cap == R else np.empty((cap, m), dtype=lists.idx.dtype)
        self.gap = np.empty((cap, m), dtype=np.float32)
        self.rp = np.empty(cap)
        self.base = np.empty((cap, blocks.count))  # per block, the least d^p of its units outside the list
        self.mult = np.empty(cap, dtype=np.int64)
        self.delta = np.empty(cap)
        self.rep = np.empty(cap, dtype=np.int64)
        self.located = lists.rep_lat is not None or problem.explicit_distances is None
        self.lat = np.empty(cap)
        self.lon = np.empty(cap)
        if lists.rep_lat is None and problem.explicit_distances is None:
            lists = replace(
                lists, rep_lat=np.asarray(problem.lat)[lists.rep], rep_lon=np.asarray(problem.lon)[lists.rep]
            )
        self._fill(np.arange(R), lists)
        from solvers.bound.kernels import warm

        warm(self.idx.dtype)  # before the ascent times its first step

    def _fill(self, slots: np.ndarray, lists: NeighbourLists) -> None:
        """Write the rows of `lists` into `slots`, chunk by chunk."""
        for a in range(0, len(slots), self.chunk):
            s, b = slots[a : a + self.chunk], min(len(slots), a + self.chunk)
            rp = down32(lists.radius_p[a:b]).astype(float)  # exactly representable in float32
            dp = np.minimum(lists.dp[a:b].astype(float), rp[:, None])
            gap = up32(rp[:, None] - dp)  # implied dp = rp - gap <= dp: still a lower bound
            idx = lists.idx[a:b]
            unsorted = (gap[:, 1:] > gap[:, :-1]).any(axis=1)
            if unsorted.any():  # demand-side shrinks: order by gap, falling (the kernels stop early)
                order = np.argsort(-gap[unsorted], axis=1, kind="stable")
                gap[unsorted] = np.take_along_axis(gap[unsorted], order, axis=1)
                idx = idx.copy()
                idx[unsorted] = np.take_along_axis(idx[unsorted], order, axis=1)
            self.idx[s] = idx
            self.gap[s] = gap
            self.rp[s] = rp
        self.mult[slots], self.delta[slots], self.rep[slots] = lists.mult, lists.delta, lists.rep
        if self.located:
            self.lat[slots], self.lon[slots] = lists.rep_lat, lists.rep_lon
        self._fill_base(slots)

    def _fill_base(self, slots: np.ndarray) -> None:
        """base of the rows in `slots`: rp, or further for blocks none of the list is in."""
        B = self.blocks.count
        for a in range(0, len(slots), self.chunk):
            s = slots[a : a + self.chunk]
            rp = self.rp[s]
            floor = self.blocks.floor_p(self.lat[s], self.lon[s], self.delta[s], self.p)
            listed = np.zeros((len(s), B), dtype=bool)
            listed[np.arange(len(s))[:, None], self.blocks.label[self.idx[s]]] = True
            self.base[s] = np.where(listed, rp[:, None], np.maximum(rp[:, None], floor))

    def room(self) -> int:
        """How many more rows place() can append."""
        return len(self.rp) - self.R

    def place(self, extra: NeighbourLists, parent: np.ndarray) -> np.ndarray:
        """Rows of `extra` (grouped by parent row) stand for their parent's candidate centers
        from now on: the first of each parent takes its slot, the others are appended (the
        caller keeps within room()). Returns the parent rows of the appended rows, in order."""
        first = np.r_[True, parent[1:] != parent[:-1]]
        slots = np.empty(len(parent), dtype=np.int64)
        slots[first] = parent[first]
        slots[~first] = self.R + np.arange(int((~first).sum()))
        self._fill(slots, extra)
        self.R += int((~first).sum())
        return parent[~first]

    def rows(
        self, vt: np.ndarray, level: np.ndarray, exact: bool, subset: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per row (of `subset` when given): the list terms (sum of -w clip(...)) and the
        weight they serve; vt is v with the top units at -1e30 (their terms are summed
        separately). float32 arithmetic steers, float64 (`exact`) is reported
        (solvers.bound.kernels)."""
        from solvers.bound.kernels import terms_exact, terms_fast

        R = len(level)
        sel = np.arange(R) if subset is None else np.asarray(subset, dtype=np.int64)
        rho = np.empty(len(sel))
        load = np.empty(len(sel))
        vmax = float(vt.max(initial=-1e30))
        if exact:
            terms_exact(
                self.idx,
                self.gap,
                self.w,
                np.asarray(vt, dtype=np.float64),
                np.asarray(level, dtype=np.float64),
                vmax,
                sel,
                rho,
                load,
            )
        else:
            terms_fast(
                self.idx,
                self.gap,
                self.w32,
                vt.astype(np.float32),
                level.astype(np.float32),
                np.float32(vmax),
                sel,
                rho,
                load,
            )
        return rho, load

    def served(self, r: int, vt: np.ndarray, level: float) -> np.ndarray:
        """The list units row r serves within its list (0 < s < gap; beyond it, the outside
        correction serves them)."""
        S = vt[self.idx[r]] - level + self.gap[r]
        return self.idx[r][(S > 0) & (S < self.gap[r])]
