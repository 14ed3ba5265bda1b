"""A valid lower bound on the objective: Lagrangian p-median relaxation with balance kept
per center (DESIGN.md 3, 4).

Model (contiguity, locks, skills, disruption and every measure but workload dropped; the
disruption term is >= 0, so dropping it keeps the bound valid):

    min  sum_ij w_i d(i,j)^p x_ij
    s.t. sum_j x_ij = 1                    (i)      relaxed with multipliers u_i = w_i v_i
         sum_j y_j = k,  x_ij <= y_j
         L y_j <= sum_i w_i x_ij <= U y_j  (j)      relaxed with one multiplier theta_j per center

For any v and theta the Lagrangian function

    LB(v, theta) = sum_i w_i v_i + (sum of the k smallest rho_j)
    rho_j        = theta_j^+ L - theta_j^- U + sum_i w_i min(0, d(i,j)^p - v_i - theta_j)

is a lower bound on the optimum (weak duality). Only pairs with d(i,j)^p < v_i + theta_j
count, so each candidate center j keeps a fixed list of its m nearest units (KD-tree on
3-D unit-sphere coordinates, which orders by great-circle distance exactly). Units outside
the list are at least R_j away, and further by spatial block where the block holds none of
the list (bound_outside; prefix sums over v sorted per block);
the T units of largest v are summed exactly over all centers. So the truncated sums are
exact lower bounds, and the bound is valid whatever m is; m only decides how tight it can
get. v follows Polyak subgradient steps towards the incumbent's objective; each theta_j
follows its own derivative with a step that halves when the sign flips.

The steps are steered by a float32 pass over the lists; the bound reported is the float64
value at the best point (lists rounded down, so still a lower bound). Both passes are one
compiled loop over the pairs (solvers.bound.kernels) that stops each row where no later unit
can count. Against NumPy's float32 pass in row chunks (itself 7x the steps of a float64 pass
over whole arrays), 20,000 US places, k = 20, 30 s: 310 steps instead of 124, 44.95 M ->
46.19 M (plan 49.2 M). Between full passes (every _FULL_EVERY steps) only the
quarter of rows of smallest rho at the last full pass is recomputed, the others keep their
list terms and theta: about twice the steps (20k/20, 8,000 clusters: 241 -> 480 in 35 s).
The reported bound re-evaluates the best points (of any step, and of the full passes) in
float64 over all rows. Where the demand is aggregated (bound_aggregate), the cluster rows the
bound picks as centers are refined into their members' own rows as the ascent goes
(_refining_ascent: 20k/20, 25 s, 38.97 M -> 43.48 M). At that scale solve() runs the whole
bound in a child process beside the search (bound_side).

    lagrangian_bound(problem, clock, upper=None, labels=None) -> BoundResult | None
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from engine.problem import Problem
from solvers.clock import Clock
from solvers.bound.lists import NeighbourLists, down32, long_lists_fit, neighbour_lists, up32, wide_clusters
from solvers.bound.outside import Blocks, Outside, make_blocks

SOURCE_BALANCED = "lagrangian p-median relaxation, workload balance kept per center (contiguity and other measures dropped)"
SOURCE_PLAIN = "lagrangian p-median relaxation (contiguity and balance dropped)"
_TOP = 32
_MAX_ITER = 3000
# An aggregated row's list holds 5 territories' worth of clusters, at least 5 % of them, or
# more where the clusters are as many as the units (the lists take the pairs' budget); the
# units beyond it count by spatial block (bound_outside). Each row's pass stops where no later
# unit can count (bound_terms), so long lists cost little more than short ones. 55 s bounds
# on 20,000 US places (clusters / share of them in a list / pairs -> bound):
#   k = 20:  14,000 / 0.15 / 30 M -> 46.71 M, 12,600 / 0.25 / 40 M -> 46.84 M (plan 49.2 M)
#   k = 100: 20,000 / 0.05 / 20 M -> 18.98 M, 20,000 / 0.1 / 40 M -> 19.07 M,
#            17,300 / 0.1 / 30 M -> 18.91 M, 20,000 / 0.15 / 60 M -> 19.03 M (plan 20.0 M)
# With NumPy's pass (ten times the work per pair: shorter lists paid, and more clusters), the
# best were 14,000 / 0.15 at k = 20 and 20,000 / 0.05 at k = 100: 46.49 M and 18.96 M. A 10 %
# floor lost at 100,000 / 500 (20,000 clusters, 50 territories' worth each: 104.0 M -> 79.3 M).
_AGG_TERRITORIES = 5.0
_AGG_SHARE = 0.05
_MAX_PAIRS_AGG = 40_000_000  # ~12 bytes a pair (the lists' unit and distance, the bound's gap)
_FULL_EVERY = 4  # between full passes over the lists, only the rows most likely to be chosen
_ACTIVE_SHARE = 0.25
_REFINE_AT = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)  # shares of the time at which rows are refined
_REFINE_COVER = (25.0, 100.0)  # refine rows standing for this many times k centers: short, long ascents
_REFINE_LONG_S = 30.0
_REFINE_SPARE = 4.0  # room for refined rows: this many times what one refinement covers
_BLOCKS_PER_K, _BLOCKS_MIN, _BLOCKS_MAX = 4, 64, 256
_SAFETY = 1e-9  # relative, absorbs floating-point rounding of the summed bound


@dataclass(frozen=True)
class BoundResult:
    bound: float
    source: str
    iterations: int
    runtime_s: float


def lagrangian_bound(
    problem: Problem,
    clock: Clock,
    upper: float | Callable[[], float | None] | None = None,
    labels: np.ndarray | None = None,
    max_list: int | None = None,
    max_pairs: int | None = None,
    aggregate_groups: int | None = None,
    max_iter: int = _MAX_ITER,
) -> BoundResult | None:
    """Best Lagrangian bound found before the clock stops; None when it cannot be computed
    (explicit distance matrix too large, nothing found in time). `upper` (a plan's objective,
    or a function giving the best one so far) only steers the steps; `max_iter` caps them
    (the child process of bound_side, which has the whole solve, allows more)."""
    n, k = problem.n, problem.k
    w = np.asarray(problem.weights, dtype=float)
    if n == 0 or k >= n or w.sum() <= 0:
        return BoundResult(0.0, SOURCE_PLAIN, 0, clock.elapsed())
    kw = {} if max_pairs is None else {"max_pairs": max_pairs}
    groups, pairs = _groups_for(problem, clock.remaining())
    if aggregate_groups is not None:
        groups = aggregate_groups
    if groups and problem.explicit_distances is None and groups <= n:
        from solvers.bound.aggregate import aggregate

        agg = aggregate(problem, groups)
        m = int(max(32, np.ceil(_agg_list_share(k) * agg.n)))
        if aggregate_groups is None and groups >= n:
            m = max(m, pairs // agg.n)  # clusters as many as the units: lists take the pairs left
        m = max_list if max_list is not None else int(min(m, agg.n - 1))
        lists = neighbour_lists(agg, k, clock, max_list=m, max_pairs=max_pairs if max_pairs is not None else agg.n * m)
        if lists is None:
            return None
        v0 = None
        if labels is not None:
            # start from the plan: each cluster at its members' mean cost per unit of workload
            v_unit = _plan_costs(problem, np.asarray(labels))
            w = np.asarray(problem.weights, dtype=float)
            tot = np.bincount(agg.member, weights=w * v_unit, minlength=agg.n)
            v0 = np.where(agg.weights > 0, tot / np.where(agg.weights > 0, agg.weights, 1.0), 0.0)
        # the clusters' relaxation is the original's plus the offset C (bound_aggregate)
        res, refined = _refining_ascent(problem, agg, lists, clock, _shifted(upper, agg.offset), v0, max_iter)
        if res is None:
            return None
        how = "members' distance to their cluster subtracted" if agg.offset else "distances shrunk by their radii"
        own = f"; {refined:,} candidate centers at their own position" if refined else ""
        note = f" (demand aggregated into {agg.n:,} clusters, {how}{own})"
        bound = max(0.0, res.bound - agg.offset - _SAFETY * max(1.0, agg.offset))
        return BoundResult(bound, res.source + note, res.iterations, res.runtime_s)
    lists = neighbour_lists(problem, k, clock, max_list=max_list, **kw)
    if lists is None:
        return None
    return _subgradient(problem, lists, clock, upper, labels, max_iter=max_iter)


def _shifted(upper, offset: float):
    """The upper bound (a number, or a function giving the best one so far) plus offset."""
    if upper is None:
        return None
    if not callable(upper):
        return upper + offset

    def shifted() -> float | None:
        u = upper()
        return None if u is None else u + offset

    return shifted


def _refining_ascent(problem: Problem, agg, lists: NeighbourLists, clock: Clock, upper, v0,
                     max_iter: int) -> tuple[BoundResult | None, int]:
    """The ascent over the clusters' rows, refining as it goes: at _REFINE_AT shares of the
    time and whenever the steps converge, the cluster rows among those of smallest rho that
    stand for `cover` * k candidate centers (the rows the bound picks as centers, and those
    nearly picked) are replaced by one row per member at its own position
    (bound_aggregate.member_rows). That removes their center-side shrink; every candidate
    center keeps exactly one row, so the bound stays valid. The new rows cost steps, which a
    short ascent cannot spare: `cover` is 25 below _REFINE_LONG_S seconds, else 100.

    Measured on 20,000 US places (plan 49.1 M at k = 20, 19.9 M at k = 100), busy machine:
    k = 20, 4,580 clusters, 25 s: 38.97 M without refining, 43.48 M; with no center-side
    shrink at all (not a valid bound) 44.62 M. In 9 s: 39.24 M -> 41.33 M (cover 25; cover
    100: 38.38 M). In 55 s: 44.58 M (cover 25), 45.03 M (cover 100); k = 100: 17.19 M both."""
    from solvers.bound.aggregate import member_rows

    k = agg.k
    if len(lists.rep) != agg.n:  # rows stand for groups of clusters (tiny row budgets): as they are
        value, iterations, _ = _ascend(agg, lists, clock, upper, None, v0, max_iter=max_iter)
        return _result(agg, value, iterations, clock), 0
    m = lists.idx.shape[1]

    def refine(relax: _Relaxation, rho: np.ndarray):
        R = relax.R
        order = np.argsort(rho, kind="stable")
        mult = relax.mult[:R][order]
        near = order[np.cumsum(mult) - mult < cover * k]
        # a row standing for several candidate centers is a cluster's (row r = cluster r) not
        # refined yet; take them in order of rho while their extra rows fit
        pick = near[relax.mult[near] > 1]
        pick = pick[np.cumsum(relax.mult[pick] - 1) <= relax.room()]
        if not len(pick):
            return None
        extra = member_rows(agg, problem, pick, m)
        return extra, extra.rep  # rows grouped by cluster, and cluster r is row r

    t0, total = clock.elapsed(), clock.remaining()
    cover = _REFINE_COVER[1] if total >= _REFINE_LONG_S else _REFINE_COVER[0]
    spare = int(min(problem.n - agg.n, _REFINE_SPARE * cover * k, _MAX_PAIRS_AGG // (2 * max(m, 1))))
    value, iterations, refined = _ascend(agg, lists, clock, upper, None, v0, refine=refine, max_iter=max_iter,
                                         refine_at=tuple(t0 + s * total for s in _REFINE_AT), spare=spare)
    return _result(agg, value, iterations, clock), refined


def _blocks_for(k: int) -> int:
    """Spatial blocks counting the units outside each row's list (bound_outside)."""
    return int(min(_BLOCKS_MAX, max(_BLOCKS_MIN, _BLOCKS_PER_K * k)))


def _groups_for(problem: Problem, seconds: float) -> tuple[int, int]:
    """Clusters to aggregate the demand into (0: only when one row per unit with long lists
    would not fit, bound_lists.long_lists_fit), and the pairs the lists may take: as many
    clusters as the time allows with lists of _agg_list_share(k) of them (1.4e6 pairs per
    second available: the steps must converge), at most n (every distinct location its own
    cluster) and _MAX_PAIRS_AGG pairs. Measured
    before the blocks (bound_outside), on 20,000 US places, k = 20 (plan 50.5 M):
    in 9 s (what a 60 s solve leaves), 2,500 clusters 35.7 M (converged in 5 s), 3,549 37.3 M,
    5,000 40.1 M, 7,000 34.2 M (45 steps); in 35 s, 4,581 39.5 M, 6,000 40.7 M, 8,000 42.0 M,
    11,000 42.1 M (36 M pairs, 920 MB). k = 100 (plan 21.6 M), in 35 s: 6,663 clusters 13.1 M
    with 10 territories' worth, 11.6 M with 6; 12,000 clusters 15.4 M with 10 (the same in
    80 s), 13.6 M with 6: lists matter more when k is large; in 9 s 12,000 gave 14.1 M."""
    n, k = problem.n, problem.k
    pairs = float(np.clip(1.4e6 * max(seconds, 0.0), 1e6, _MAX_PAIRS_AGG))
    if problem.explicit_distances is not None or long_lists_fit(n, k):
        return 0, int(pairs)
    return int(max(k + 1, min(n, np.sqrt(pairs / _agg_list_share(k))))), int(pairs)


def _agg_list_share(k: int) -> float:
    """Share of the clusters in each aggregated row's list (see _AGG_TERRITORIES)."""
    return min(1.0, max(_AGG_TERRITORIES / k, _AGG_SHARE))


def _bounds_on_workload(problem: Problem) -> tuple[float, float, bool]:
    if not problem.balanced[0]:
        return 0.0, np.inf, False
    lo = float(problem.lower[0])
    hi = float(problem.upper[0])
    # the evaluator accepts totals within a relative 1e-9 of the bounds: so must the bound
    lo = max(0.0, lo - 1e-9 * max(abs(lo), 1.0) - 1e-12)
    hi = hi + 1e-9 * max(abs(hi), 1.0) + 1e-12 if np.isfinite(hi) else np.inf
    return lo, hi, lo > 0 or np.isfinite(hi)


def _plan_costs(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """d(i, center of i's territory)^p per unit, centers as the evaluator picks them."""
    from engine.evaluate import best_centers

    centers = best_centers(problem, labels)
    return _dist_p(problem, np.arange(problem.n), centers[labels], problem.distance_power)


class _Relaxation:
    """LB(v, theta) for fixed lists (solvers.bound.kernels). Lists are stored in float32, every
    value rounded down (a shorter distance keeps the bound valid): idx and the gap
    rp_j - dp_ij >= 0, each row's gaps falling. The fast float32 pass steers the ascent; the
    reported bound comes from the float64 pass over the same numbers.

    For row j, level_j = rp_j - theta_j and s_i = v_i + theta_j, a list unit's term

        w_i min(0, dp_ij - s_i) - w_i min(0, rp_j - s_i) = -w_i clip(v_i - level_j + gap_ij, 0, gap_ij)

    is what it adds to the outside correction, which counts every non-top unit as if at its
    block's base (rp_j for the blocks the list reaches; bound_outside)."""

    def __init__(self, problem: Problem, lists: NeighbourLists, blocks: Blocks, spare: int = 0) -> None:
        """The rows of `lists`, with room for `spare` more (refined rows, see place); units
        outside a row's list are counted by `blocks` (bound_outside)."""
        self.w = np.asarray(problem.weights, dtype=float)
        self.w32 = self.w.astype(np.float32)
        self.blocks = blocks
        self.p = problem.distance_power
        R, m = lists.idx.shape
        cap = R + max(0, int(spare))
        self.R = R
        self.chunk = max(1, 65536 // max(m, 1))
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
            lists = replace(lists, rep_lat=np.asarray(problem.lat)[lists.rep], rep_lon=np.asarray(problem.lon)[lists.rep])
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
            if unsorted.any():  # demand-side shrinks: order by gap, falling (bound_terms stops early)
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

    def rows(self, vt: np.ndarray, level: np.ndarray, exact: bool, subset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
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
            terms_exact(self.idx, self.gap, self.w, np.asarray(vt, dtype=np.float64), np.asarray(level, dtype=np.float64),
                        vmax, sel, rho, load)
        else:
            terms_fast(self.idx, self.gap, self.w32, vt.astype(np.float32), level.astype(np.float32),
                       np.float32(vmax), sel, rho, load)
        return rho, load

    def served(self, r: int, vt: np.ndarray, level: float) -> np.ndarray:
        S = vt[self.idx[r]] - level + self.gap[r]
        return self.idx[r][(S > 0) & (S < self.gap[r])]


def _subgradient(problem: Problem, lists: NeighbourLists, clock: Clock, upper, labels, v0=None,
                 max_iter: int = _MAX_ITER) -> BoundResult | None:
    value, iterations, _ = _ascend(problem, lists, clock, upper, labels, v0, max_iter=max_iter)
    return _result(problem, value, iterations, clock)


def _result(problem: Problem, value: float, iterations: int, clock: Clock) -> BoundResult | None:
    if not np.isfinite(value):
        return None
    bound = value - _SAFETY * max(1.0, abs(value))
    balanced = _bounds_on_workload(problem)[2]
    return BoundResult(bound=max(bound, 0.0), source=SOURCE_BALANCED if balanced else SOURCE_PLAIN,
                       iterations=iterations, runtime_s=clock.elapsed())


def _ascend(problem: Problem, lists: NeighbourLists, clock: Clock, upper, labels, v0=None,
            refine=None, refine_at: tuple[float, ...] = (), spare: int = 0,
            max_iter: int = _MAX_ITER) -> tuple[float, int, int]:
    """Subgradient ascent on (v, theta) until the clock stops it or the steps vanish: the
    float64 value at the best point (before the safety margin, -inf if none) and the steps.

    refine(relax, rho) -> (extra rows, parent row of each, grouped by parent) or None is called
    at the first full pass after each time in refine_at (the clock's elapsed seconds); the
    extra rows replace their parents (_Relaxation.place, within `spare` rows more) and start
    from their parent's theta."""
    n, k = problem.n, problem.k
    p = problem.distance_power
    w = np.asarray(problem.weights, dtype=float)
    pos = w > 0
    shrink = getattr(problem, "unit_shrink", None)
    shrink = np.zeros(n) if shrink is None else np.asarray(shrink, dtype=float)
    wide = np.flatnonzero(wide_clusters(shrink))
    blocks = make_blocks(problem, _blocks_for(k), exact=wide)
    relax = _Relaxation(problem, lists, blocks, spare if refine is not None else 0)
    R = relax.R
    rp, mult = relax.rp[:R], relax.mult[:R]
    lo, hi, balanced = _bounds_on_workload(problem)

    # start: each unit's distance to its plan center (or to a near neighbour)
    if v0 is not None:
        v = np.asarray(v0, dtype=float).copy()
    elif labels is not None:
        v = _plan_costs(problem, np.asarray(labels))
    else:
        from scipy.spatial import cKDTree
        from engine.geo import project_km

        xy = project_km(problem.lat, problem.lon)
        dd, _ = cKDTree(xy).query(xy, k=min(n, max(2, n // (3 * k))))
        v = np.atleast_2d(dd)[:, -1] ** p if dd.ndim > 1 else dd**p
    v = np.where(pos, v, 0.0)
    theta = np.zeros(R)
    tstep = np.full(R, max(float(np.median(v[pos])) if pos.any() else 1.0, 1e-12) * 0.1)
    last_sign = np.zeros(R)
    top_rows: dict[int, np.ndarray] = {}

    list_part = np.zeros((2, R))  # rows' list and outside terms, and load, at the last full pass

    def evaluate(v, theta, exact, subset=None):
        """LB(v, theta) and what the step needs; with a subset of rows, the others' list
        terms are those of the last full pass (an estimate that only steers)."""
        # units of largest v are summed exactly over all rows
        top = np.argsort(-v)[:_TOP] if n > _TOP else np.arange(n)
        if len(wide):  # clusters of large radius too: lists' outside radius ignores them
            top = np.union1d(top, wide)
        is_top = np.zeros(n, dtype=bool)
        is_top[top] = True
        vt = np.where(is_top, -1e30, v)
        level = rp - theta
        # every non-top unit counted as if at its block's base from the row: w_i min(0, base -
        # v_i - theta), summed by prefix sums over v sorted (the list units' terms correct it);
        # the units it counts are served by the row as far as theta is concerned: without them
        # in the load, theta climbs past the lists' radius (100,000 units, k = 500)
        out = Outside(blocks, v, w, ~is_top)
        if subset is None:
            rho, load = relax.rows(vt, level, exact)
            o_rho, o_load = out.terms(relax.base[:R] - theta[:, None])
            list_part[0], list_part[1] = rho + o_rho, load + o_load
            rho, load = list_part[0].copy(), list_part[1].copy()
        else:
            rho, load = list_part[0].copy(), list_part[1].copy()
            rho[subset], load[subset] = relax.rows(vt, level, exact, subset)
            o_rho, o_load = out.terms(relax.base[subset] - theta[subset, None])
            rho[subset] += o_rho
            load[subset] += o_load
        top_list = np.asarray([int(t) for t in top if pos[t]], dtype=np.int64)
        negt = None
        if len(top_list):
            nonlocal top_rows
            if len(top_rows) > 8 * _TOP + len(wide):
                keep = set(top_list.tolist())
                top_rows = {t: r for t, r in top_rows.items() if t in keep}
            for t in top_list:
                if t not in top_rows:
                    d = _row_dist(problem, relax, t)
                    top_rows[t] = np.maximum(0.0, d * (1.0 - 1e-9) - relax.delta[:R] - shrink[t]) ** p
            D = np.vstack([top_rows[t] for t in top_list])  # (T, R)
            rt = D - v[top_list][:, None] - theta[None, :]
            negt = rt < 0
            wt = w[top_list][:, None]
            rho += np.where(negt, wt * rt, 0.0).sum(axis=0)
            load += np.where(negt, wt, 0.0).sum(axis=0)
        if balanced:
            rho += np.where(theta > 0, theta * lo, np.where(theta < 0, theta * (hi if np.isfinite(hi) else 0.0), 0.0))
        # the k smallest rho_j: each row stands for `mult` candidate centers
        order = np.argsort(rho, kind="stable")
        before = np.concatenate([[0], np.cumsum(mult[order])[:-1]])
        take = np.clip(k - before, 0, mult[order])
        rows = order[take > 0]
        cnt = take[take > 0].astype(float)
        value = float((w * v).sum() + (rho[rows] * cnt).sum())
        return value, load, rows, cnt, (vt, level, top_list, negt, out, rho)

    t0 = clock.elapsed()
    best, _, _, _, _ = evaluate(v, theta, exact=True)  # a valid bound at once; and its cost
    reserve = 3.0 * (clock.elapsed() - t0)
    subset = None  # rows of smallest rho at the last full pass, between full passes
    best_v, best_theta, best_approx, best_exact = v.copy(), theta.copy(), best, best
    full_v, full_theta = best_v, best_theta
    lam = 1.0
    stale = 0
    it = 1
    refined = 0
    while it < max_iter:
        if clock.remaining() <= reserve or clock.cancelled():
            break
        it += 1
        if not np.isfinite(hi):
            theta = np.maximum(theta, 0.0)
        full = subset is None or it % _FULL_EVERY == 0
        value, load, rows, cnt, (vt, level, top_list, negt, out, rho) = evaluate(
            v, theta, exact=False, subset=None if full else subset)
        if full and R * _ACTIVE_SHARE > 4 * len(rows):
            subset = np.sort(np.argsort(rho, kind="stable")[: int(R * _ACTIVE_SHARE)])
        if value > best_approx + 1e-12 * max(1.0, abs(best_approx)):
            best_approx = value
            best_v, best_theta = v.copy(), theta.copy()
            if full:
                full_v, full_theta = best_v, best_theta
            stale = 0
        else:
            stale += 1
            if stale >= 12:
                lam *= 0.5
                stale = 0
        best = max(best, value)
        # subgradient w.r.t. u = w v: 1 - (times unit i is served by the chosen centers)
        cover = np.zeros(n)
        for r, c in zip(rows, cnt):
            cover[relax.served(r, vt, level[r])] += c
        if negt is not None:
            cover[top_list] += negt[:, rows] @ cnt
        cover += out.cover(relax.base[rows] - theta[rows, None], cnt, n)
        g = np.where(pos, 1.0 - cover, 0.0)
        norm = float((g * g).sum())
        converged = lam < 1e-4 or norm == 0  # the steps vanished, or nothing more to gain on v
        if converged:
            if refine is None:
                break
            if not full:  # refine from a full pass: the next one
                subset = None
                continue
            refine_at = (clock.elapsed(), *refine_at)  # refine now, or stop if nothing is left
        up = upper() if callable(upper) else upper
        tgt = up if up is not None and up > best else abs(best) * 1.05 + 1e-9
        step = lam * (tgt - value) / norm if norm > 0 else 0.0
        v = np.where(pos, np.maximum(0.0, v + step * g / np.where(pos, w, 1.0)), 0.0)
        # theta: per-row ascent on rho (independent of which rows are chosen)
        if balanced:
            at_zero = np.where(load < lo, lo - load, np.where(load > hi, hi - load, 0.0))
            deriv = np.where(theta > 0, lo - load, np.where(theta < 0, hi - load, at_zero))
            sign = np.sign(deriv)
            flip = sign * last_sign < 0
            new_step = np.where(flip, tstep * 0.5, tstep * 1.1)
            if full:
                theta, last_sign, tstep = theta + new_step * sign, sign, new_step
            else:  # rows outside the subset keep theta: their load is stale
                sub = subset
                theta, tstep = theta.copy(), tstep.copy()
                theta[sub] += new_step[sub] * sign[sub]
                tstep[sub], last_sign[sub] = new_step[sub], sign[sub]
        if refine is not None and full and refine_at and clock.elapsed() >= refine_at[0]:
            refine_at = tuple(t for t in refine_at if t > clock.elapsed())
            got = refine(relax, rho)
            if got is None and converged:
                break
            if got is not None:
                parent = relax.place(*got)  # of the appended rows: they start from it
                R = relax.R
                rp, mult = relax.rp[:R], relax.mult[:R]
                theta, tstep, last_sign, best_theta = (np.concatenate([a, a[parent]]) for a in (theta, tstep, last_sign, best_theta))
                full_theta = best_theta if full_v is best_v else np.concatenate([full_theta, full_theta[parent]])
                list_part = np.zeros((2, R))
                top_rows.clear()
                subset = None
                lam = max(lam, 0.5)  # the function changed: the steps may grow again
                refined += len(got[1])
    # with rows refined since, the best point's (v, theta) is evaluated over the refined rows:
    # each refined candidate's rho can only have grown, so this is no lower than at the time
    if it > 1:
        best_exact = max(best_exact, evaluate(best_v, best_theta, exact=True)[0])
        if full_v is not best_v and clock.remaining() > reserve / 3.0:
            best_exact = max(best_exact, evaluate(full_v, full_theta, exact=True)[0])
    return best_exact, it, refined


def _row_dist(problem: Problem, relax: _Relaxation, t: int) -> np.ndarray:
    """Distance from unit t to every row's representative."""
    R = relax.R
    if relax.located:
        from engine.geo import haversine_km

        return haversine_km(problem.lat[t], problem.lon[t], relax.lat[:R], relax.lon[:R])
    return _dist(problem, np.full(R, t), relax.rep[:R])


def _dist(problem: Problem, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    if problem.explicit_distances is not None:
        return np.asarray(problem.explicit_distances[i, j], dtype=float)
    from engine.geo import haversine_km

    return haversine_km(problem.lat[i], problem.lon[i], problem.lat[j], problem.lon[j])


def _dist_p(problem: Problem, i: np.ndarray, j: np.ndarray, p: int) -> np.ndarray:
    d = _dist(problem, i, j)
    return d if p == 1 else d**p
