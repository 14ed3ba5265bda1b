"""The units outside a row's list, counted by spatial block (for the Lagrangian bound).

A row of the bound keeps the m units nearest its representative; every other unit is at
least R away (rp = R^p), and the bound used to count all of them as if at R: a unit far
beyond the list, of large v_i (a remote unit in a sparse region), then looked as cheap to
serve from the row as one at its list's edge. Here the units are grouped into B spatial
blocks (centers c_b, every member within rad_b of c_b), and for a row at q with group
radius delta, every unit i of block b outside the list is at least

    base_rb = max(rp_r, max(0, d(q, c_b) - rad_b - delta - shrink_b)^p)

away (triangle inequality; shrink_b is the largest demand-side radius of the block's units,
aggregate.py). Blocks holding any of the row's list units keep base = rp, so the list
units' terms (measured from rp, see relaxation.Relaxation) stay exact. For each block the units
are sorted by v; a row's outside terms are then sums of prefix sums, as before, block by
block:

    sum over units i of b with v_i > L of w_i (L - v_i),    L = base_rb - theta_r

    Blocks(labels, lat, lon, reach)       make_blocks(problem, count) -> Blocks
    Outside(blocks, v, w, counted)        .terms(levels) -> (rho part, load part); .cover(...)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.bound.lists import SHAVE, demand_shrink


@dataclass(frozen=True)
class Blocks:
    label: np.ndarray  # (n,) block of each unit
    lat: np.ndarray | None  # (B,) block centers; None: one block and no geometry (explicit distances)
    lon: np.ndarray | None
    reach: np.ndarray  # (B,) km: rad_b + shrink_b, how much nearer than c_b a member may count

    @property
    def count(self) -> int:
        return len(self.reach)

    def floor_p(self, lat: np.ndarray, lon: np.ndarray, delta: np.ndarray, p: int) -> np.ndarray:
        """(rows, B): the least d^p from each row (at lat, lon, group radius delta) to any unit
        of each block, rounded down."""
        if self.lat is None or self.lon is None:
            return np.zeros((len(lat), 1))
        from engine.geo import haversine_km

        d = haversine_km(np.asarray(lat)[:, None], np.asarray(lon)[:, None], self.lat[None, :], self.lon[None, :])
        d = d * (1.0 - SHAVE) - self.reach[None, :] - np.asarray(delta)[:, None]
        return np.maximum(0.0, d) ** p * (1.0 - SHAVE)


def make_blocks(problem, count: int, exact: np.ndarray | None = None) -> Blocks:
    """About `count` blocks of the problem's units (or of an Aggregated's clusters). Units in
    `exact` (summed exactly over all rows by the bound) do not widen their block's reach."""
    n = problem.n
    count = int(min(count, n))
    if problem.explicit_distances is not None or count <= 1:
        return Blocks(np.zeros(n, dtype=np.int64), None, None, np.zeros(1))
    from solvers.bound.aggregate import aggregate

    agg = aggregate(problem, count)
    shrink = demand_shrink(problem).copy()
    if exact is not None:
        shrink[exact] = 0.0
    most = np.zeros(agg.n)
    np.maximum.at(most, agg.member, shrink)
    return Blocks(agg.member.astype(np.int64), agg.lat, agg.lon, agg.center_shrink + most)


class Outside:
    """The counted units (not summed exactly) sorted by (block, v), with suffix sums of w and
    w v per block, for one v. Only the (row, block) pairs whose level is below the block's
    largest v count, and those are looked up together: positions are found on one sorted key
    per unit, block * span + v (span > twice the largest v, so blocks never overlap; the
    rounding of the key is ~1e-13 of the largest v, far inside the bound's safety margin)."""

    def __init__(self, blocks: Blocks, v: np.ndarray, w: np.ndarray, counted: np.ndarray) -> None:
        units = np.flatnonzero(counted)
        order = units[np.lexsort((v[units], blocks.label[units]))]
        B = blocks.count
        self.order = order
        vs = v[order]
        lab = blocks.label[order]
        self.start = np.searchsorted(lab, np.arange(B + 1))
        self.vmax = np.full(B, -np.inf)
        np.maximum.at(self.vmax, lab, vs)
        self.span = 2.0 * (float(vs.max(initial=0.0)) + 1.0)
        self.keys = lab * self.span + vs
        # suffix sums within each block: block b's are at positions start_b + b .. start_(b+1) + b
        # (one more than its units: the empty tail)
        ws = w[order]
        slot = np.arange(len(order)) + lab
        self.cw = np.zeros(len(order) + B)
        self.cwv = np.zeros(len(order) + B)
        self.cw[slot] = ws
        self.cwv[slot] = ws * vs
        for a in (self.cw, self.cwv):  # reversed cumulative sums, restarted at each block
            c = np.cumsum(a[::-1])[::-1]
            tail = c[self.start[1:] + np.arange(B)]  # the sums past each block's end
            a[:] = c - np.repeat(tail, np.diff(self.start) + 1)

    def _lookup(self, levels: np.ndarray):
        """The (row, block) pairs that count (level below the block's largest v): their row,
        block, level and position (first unit of v > level, within the sorted units)."""
        r, b = np.nonzero(levels < self.vmax[None, :])
        lev = levels[r, b]
        q = b * self.span + np.clip(lev, -0.25 * self.span, 0.75 * self.span - 1.0)
        return r, b, lev, np.searchsorted(self.keys, q, side="right")

    def terms(self, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """levels (rows, B): per row, sum over counted units with v_i > L_b of w_i (L_b - v_i)
        (<= 0), and of w_i (the weight the row serves there)."""
        R = levels.shape[0]
        r, b, lev, s = self._lookup(levels)
        cw = self.cw[s + b]
        rho = np.bincount(r, weights=lev * cw - self.cwv[s + b], minlength=R)
        return rho, np.bincount(r, weights=cw, minlength=R)

    def cover(self, levels: np.ndarray, cnt: np.ndarray, n: int) -> np.ndarray:
        """How often each unit is served beyond the lists by the chosen rows (levels (rows, B),
        cnt: candidate centers each stands for)."""
        r, b, _, s = self._lookup(levels)
        diff = np.zeros(len(self.order) + 1)
        np.add.at(diff, s, cnt[r])
        np.add.at(diff, self.start[b + 1], -cnt[r])
        cover = np.zeros(n)
        cover[self.order] = np.cumsum(diff)[:-1]
        return cover
