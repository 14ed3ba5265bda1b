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
the list are at least R_j away; theta_j is capped so that R_j^p >= v_i + theta_j for every
unit not among the T units of largest v, and those T are summed exactly over all centers.
So the truncated sums are exact, and the bound is valid whatever m is; m only decides how
tight it can get. v follows Polyak subgradient steps towards the incumbent's objective;
each theta_j follows its own derivative with a step that halves when the sign flips.

    lagrangian_bound(problem, clock, upper=None, labels=None) -> BoundResult | None
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.problem import Problem
from solvers.base import Clock
from solvers.bound_lists import _MAX_PAIRS_LONG, NeighbourLists, long_lists_fit, neighbour_lists, wide_clusters

SOURCE_BALANCED = "lagrangian p-median relaxation, workload balance kept per center (contiguity and other measures dropped)"
SOURCE_PLAIN = "lagrangian p-median relaxation (contiguity and balance dropped)"
_TOP = 32
_MAX_ITER = 3000
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
    upper: float | None = None,
    labels: np.ndarray | None = None,
    max_list: int | None = None,
    max_pairs: int | None = None,
    aggregate_groups: int | None = None,
) -> BoundResult | None:
    """Best Lagrangian bound found before the clock stops; None when it cannot be computed
    (explicit distance matrix too large, nothing found in time)."""
    n, k = problem.n, problem.k
    w = np.asarray(problem.weights, dtype=float)
    if n == 0 or k >= n or w.sum() <= 0:
        return BoundResult(0.0, SOURCE_PLAIN, 0, clock.elapsed())
    kw = {} if max_pairs is None else {"max_pairs": max_pairs}
    groups = aggregate_groups if aggregate_groups is not None else _groups_for(problem, clock.remaining())
    if groups and problem.explicit_distances is None and groups < n:
        from solvers.bound_aggregate import aggregate

        agg = aggregate(problem, groups)
        lists = neighbour_lists(agg, k, clock, max_list=max_list, **kw)
        if lists is None:
            return None
        v0 = None
        if labels is not None:
            # start from the plan: each cluster at its members' mean cost per unit of workload
            v_unit = _plan_costs(problem, np.asarray(labels))
            w = np.asarray(problem.weights, dtype=float)
            tot = np.bincount(agg.member, weights=w * v_unit, minlength=agg.n)
            v0 = np.where(agg.weights > 0, tot / np.where(agg.weights > 0, agg.weights, 1.0), 0.0)
        res = _subgradient(agg, lists, clock, upper, None, v0=v0)
        if res is None:
            return None
        note = f" (demand aggregated into {agg.n:,} clusters, distances shrunk by their radii)"
        return BoundResult(res.bound, res.source + note, res.iterations, res.runtime_s)
    lists = neighbour_lists(problem, k, clock, max_list=max_list, **kw)
    if lists is None:
        return None
    return _subgradient(problem, lists, clock, upper, labels)


def _groups_for(problem: Problem, seconds: float) -> int:
    """Clusters to aggregate the demand into, or 0: only when one row per unit with long lists
    would not fit (bound_lists.list_length); then as many as the time allows with such lists
    (10 G^2 / k pairs, about 3e5 pairs per second available: the steps must converge), at
    most a third of the units. Measured on 20,000 US places, k = 20, against a 50.0 M plan:
    2,500 clusters gave 32.1 M in 10 s, 4,000 gave 35.3 M in 20 s, 5,653 gave 37.9 M in 45 s;
    without aggregation 21.4 M in 45 s."""
    n, k = problem.n, problem.k
    if problem.explicit_distances is not None or long_lists_fit(n, k):
        return 0
    pairs = float(np.clip(3e5 * max(seconds, 0.0), 1e6, _MAX_PAIRS_LONG))
    return int(max(k + 1, min(n // 3, np.sqrt(pairs * k / 10.0))))


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


def _subgradient(problem: Problem, lists: NeighbourLists, clock: Clock, upper, labels, v0=None) -> BoundResult | None:
    n, k = problem.n, problem.k
    p = problem.distance_power
    w = np.asarray(problem.weights, dtype=float)
    pos = w > 0
    idx, dp, rp, mult = lists.idx, lists.dp, lists.radius_p, lists.mult  # rows: (R, m), (R, m), (R,), (R,)
    R = len(rp)
    w_idx = w[idx]
    shrink = getattr(problem, "unit_shrink", None)
    shrink = np.zeros(n) if shrink is None else np.asarray(shrink, dtype=float)
    wide = np.flatnonzero(wide_clusters(shrink))
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

    best = -np.inf
    lam = 1.0
    stale = 0
    it = 0
    while it < _MAX_ITER:
        if clock.should_stop() and it > 0:
            break
        it += 1
        # units of largest v are summed exactly over all rows
        top = np.argsort(-v)[:_TOP] if n > _TOP else np.arange(n)
        if len(wide):  # clusters of large radius too: lists' outside radius ignores them
            top = np.union1d(top, wide)
        is_top = np.zeros(n, dtype=bool)
        is_top[top] = True
        if not np.isfinite(hi):
            theta = np.maximum(theta, 0.0)
        vi = v[idx]
        red = dp - vi - theta[:, None]
        neg = (red < 0) & ~is_top[idx]
        rho = np.where(neg, w_idx * red, 0.0).sum(axis=1)
        load = np.where(neg, w_idx, 0.0).sum(axis=1)
        top_list = [int(t) for t in top if pos[t]]
        negt = None
        if top_list:
            if len(top_rows) > 8 * _TOP + len(wide):
                keep = set(top_list)
                top_rows = {t: r for t, r in top_rows.items() if t in keep}
            for t in top_list:
                if t not in top_rows:
                    d = _dist(problem, np.full(R, t), lists.rep)
                    top_rows[t] = np.maximum(0.0, d * (1.0 - 1e-9) - lists.delta - shrink[t]) ** p
            D = np.vstack([top_rows[t] for t in top_list])  # (T, R)
            rt = D - v[top_list][:, None] - theta[None, :]
            negt = rt < 0
            wt = w[top_list][:, None]
            rho += np.where(negt, wt * rt, 0.0).sum(axis=0)
            load += np.where(negt, wt, 0.0).sum(axis=0)
        # units outside a row's list are at least R away: w_i min(0, R^p - v_i - theta)
        # bounds their term from below; summed over all non-top units by prefix sums, minus
        # the list's own units (counted exactly above)
        level = rp - theta
        nontop = np.flatnonzero(~is_top)
        order_v = nontop[np.argsort(v[nontop], kind="stable")]
        vs = v[order_v]
        inl = (vi > level[:, None]) & ~is_top[idx]
        rho += _outside_correction(vs, w[order_v], level)
        rho -= np.where(inl, w_idx * (level[:, None] - vi), 0.0).sum(axis=1)
        # the units that correction counts are served by the row as far as theta is concerned
        # (each term falls by w_i per unit of theta): without them in the load, theta climbs
        # past the lists' radius and the bound sinks far below zero (100,000 units, k = 500)
        load += _outside_weight(vs, w[order_v], level) - np.where(inl, w_idx, 0.0).sum(axis=1)
        if balanced:
            rho += np.where(theta > 0, theta * lo, np.where(theta < 0, theta * (hi if np.isfinite(hi) else 0.0), 0.0))
        # the k smallest rho_j: each row stands for `mult` candidate centers
        order = np.argsort(rho, kind="stable")
        before = np.concatenate([[0], np.cumsum(mult[order])[:-1]])
        take = np.clip(k - before, 0, mult[order])
        rows = order[take > 0]
        cnt = take[take > 0].astype(float)
        value = float((w * v).sum() + (rho[rows] * cnt).sum())
        if not np.isfinite(best) or value > best + 1e-12 * max(1.0, abs(best)):
            best = value
            stale = 0
        else:
            stale += 1
            if stale >= 12:
                lam *= 0.5
                stale = 0
        if lam < 1e-4:
            break
        # subgradient w.r.t. u = w v: 1 - (times unit i is served by the chosen centers)
        cover = np.zeros(n)
        np.add.at(cover, idx[rows], neg[rows] * cnt[:, None])
        if negt is not None:
            cover[np.asarray(top_list)] += negt[:, rows] @ cnt
        start = np.searchsorted(vs, level[rows], side="right")
        cover[order_v] += np.cumsum(np.bincount(start, weights=cnt, minlength=len(vs) + 1))[: len(vs)]
        np.add.at(cover, idx[rows], -(inl[rows] * cnt[:, None]))
        g = np.where(pos, 1.0 - cover, 0.0)
        norm = float((g * g).sum())
        if norm == 0:
            break
        tgt = upper if upper is not None and upper > best else abs(best) * 1.05 + 1e-9
        step = lam * (tgt - value) / norm
        v = np.where(pos, np.maximum(0.0, v + step * g / np.where(pos, w, 1.0)), 0.0)
        # theta: per-row ascent on rho (independent of which rows are chosen)
        if balanced:
            at_zero = np.where(load < lo, lo - load, np.where(load > hi, hi - load, 0.0))
            deriv = np.where(theta > 0, lo - load, np.where(theta < 0, hi - load, at_zero))
            sign = np.sign(deriv)
            flip = sign * last_sign < 0
            tstep = np.where(flip, tstep * 0.5, tstep * 1.1)
            last_sign = sign
            theta = theta + tstep * sign
    if not np.isfinite(best):
        return None
    bound = best - _SAFETY * max(1.0, abs(best))
    return BoundResult(
        bound=max(bound, 0.0),
        source=SOURCE_BALANCED if balanced else SOURCE_PLAIN,
        iterations=it,
        runtime_s=clock.elapsed(),
    )


def _outside_weight(vs: np.ndarray, ws: np.ndarray, level: np.ndarray) -> np.ndarray:
    """For each level L: sum of w_i over units with v_i > L (v sorted ascending in vs)."""
    cw = np.concatenate([[0.0], np.cumsum(ws[::-1])])[::-1]
    return cw[np.searchsorted(vs, level, side="right")]


def _outside_correction(vs: np.ndarray, ws: np.ndarray, level: np.ndarray) -> np.ndarray:
    """For each level L: sum over units with v_i > L of w_i (L - v_i) (<= 0), by prefix sums
    over v sorted ascending (vs) with the matching weights (ws)."""
    cw = np.concatenate([[0.0], np.cumsum(ws[::-1])])[::-1]  # sum of w over positions >= s
    cwv = np.concatenate([[0.0], np.cumsum((ws * vs)[::-1])])[::-1]
    s = np.searchsorted(vs, level, side="right")
    return level * cw[s] - cwv[s]


def _dist(problem: Problem, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    if problem.explicit_distances is not None:
        return np.asarray(problem.explicit_distances[i, j], dtype=float)
    from engine.geo import haversine_km

    return haversine_km(problem.lat[i], problem.lon[i], problem.lat[j], problem.lon[j])


def _dist_p(problem: Problem, i: np.ndarray, j: np.ndarray, p: int) -> np.ndarray:
    d = _dist(problem, i, j)
    return d if p == 1 else d**p
