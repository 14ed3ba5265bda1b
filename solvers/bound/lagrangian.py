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
3-D unit-sphere coordinates, which orders by great-circle distance exactly; lists.py). Units
outside the list are at least R_j away, and further by spatial block where the block holds
none of the list (outside.py; prefix sums over v sorted per block);
the T units of largest v are summed exactly over all centers. So the truncated sums are
exact lower bounds, and the bound is valid whatever m is; m only decides how tight it can
get. v follows Polyak subgradient steps towards the incumbent's objective; each theta_j
follows its own derivative with a step that halves when the sign flips (ascent.py).

The steps are steered by a float32 pass over the lists; the bound reported is the float64
value at the best point (lists rounded down, so still a lower bound; relaxation.py). Both
passes are one compiled loop over the pairs (kernels.py) that stops each row where no later
unit can count. Between full passes only the rows of smallest rho at the last full pass are
recomputed, the others keep their list terms and theta: more steps in the same time. The
reported bound re-evaluates the best points (of any step, and of the full passes) in float64
over all rows. Where the demand is aggregated (aggregate.py), the cluster rows the bound picks
as centers are refined into their members' own rows as the ascent goes (_refining_ascent). At
that scale solve() runs the whole bound in a child process beside the search (side.py). The
tunables are BoundParams (params.py); the measurements behind their defaults are in
benchmarks/results/tuning.md.

    lagrangian_bound(problem, clock, upper=None, labels=None, params=None) -> BoundResult | None
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.problem import Problem
from solvers.bound.ascent import Ascent, AscentResult, Refine, plan_costs
from solvers.bound.lists import NeighbourLists, long_lists_fit, neighbour_lists
from solvers.bound.params import BoundParams
from solvers.bound.relaxation import Relaxation, workload_bounds
from solvers.clock import Clock

SOURCE_BALANCED = (
    "lagrangian p-median relaxation, workload balance kept per center (contiguity and other measures dropped)"
)
SOURCE_PLAIN = "lagrangian p-median relaxation (contiguity and balance dropped)"
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
    max_iter: int | None = None,
    params: BoundParams | None = None,
) -> BoundResult | None:
    """Best Lagrangian bound found before the clock stops; None when it cannot be computed
    (explicit distance matrix too large, nothing found in time). `upper` (a plan's objective,
    or a function giving the best one so far) only steers the steps; `max_iter` caps them
    (params.max_iter when None; the child process of side.py, which has the whole solve,
    allows more). max_list, max_pairs and aggregate_groups override the sizes the bound
    would pick (tests)."""
    params = BoundParams() if params is None else params
    max_iter = params.max_iter if max_iter is None else max_iter
    n, k = problem.n, problem.k
    w = np.asarray(problem.weights, dtype=float)
    if n == 0 or k >= n or w.sum() <= 0:
        return BoundResult(0.0, SOURCE_PLAIN, 0, clock.elapsed())
    groups, pairs = _groups_for(problem, clock.remaining(), params)
    if aggregate_groups is not None:
        groups = aggregate_groups
    if groups and problem.explicit_distances is None and groups <= n:
        return _aggregated_bound(
            problem,
            clock,
            upper,
            labels,
            groups,
            pairs,
            max_list,
            max_pairs,
            aggregate_groups is None,
            max_iter,
            params,
        )
    lists = neighbour_lists(problem, k, clock, max_list=max_list, max_pairs=max_pairs, params=params)
    if lists is None:
        return None
    return _subgradient(problem, lists, clock, upper, labels, max_iter=max_iter, params=params)


def _aggregated_bound(
    problem: Problem,
    clock: Clock,
    upper,
    labels,
    groups: int,
    pairs: int,
    max_list: int | None,
    max_pairs: int | None,
    chosen: bool,
    max_iter: int,
    params: BoundParams,
) -> BoundResult | None:
    """The bound over the demand aggregated into about `groups` clusters (aggregate.py): the
    clusters' relaxation is the original's plus the offset C, which is subtracted. `chosen`:
    the number of clusters is the bound's own choice (_groups_for), not a caller's."""
    from solvers.bound.aggregate import aggregate

    k = problem.k
    agg = aggregate(problem, groups)
    m = int(max(params.min_list, np.ceil(_agg_list_share(k, params) * agg.n)))
    if chosen and groups >= problem.n:
        m = max(m, pairs // agg.n)  # clusters as many as the units: lists take the pairs left
    m = max_list if max_list is not None else int(min(m, agg.n - 1))
    lists = neighbour_lists(
        agg, k, clock, max_list=m, max_pairs=max_pairs if max_pairs is not None else agg.n * m, params=params
    )
    if lists is None:
        return None
    v0 = None
    if labels is not None:
        # start from the plan: each cluster at its members' mean cost per unit of workload
        v_unit = plan_costs(problem, np.asarray(labels))
        w = np.asarray(problem.weights, dtype=float)
        tot = np.bincount(agg.member, weights=w * v_unit, minlength=agg.n)
        v0 = np.where(agg.weights > 0, tot / np.where(agg.weights > 0, agg.weights, 1.0), 0.0)
    res, refined = _refining_ascent(problem, agg, lists, clock, _shifted(upper, agg.offset), v0, max_iter, params)
    if res is None:
        return None
    how = "members' distance to their cluster subtracted" if agg.offset else "distances shrunk by their radii"
    own = f"; {refined:,} candidate centers at their own position" if refined else ""
    note = f" (demand aggregated into {agg.n:,} clusters, {how}{own})"
    bound = max(0.0, res.bound - agg.offset - _SAFETY * max(1.0, agg.offset))
    return BoundResult(bound, res.source + note, res.iterations, res.runtime_s)


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


def _refining_ascent(
    problem: Problem, agg, lists: NeighbourLists, clock: Clock, upper, v0, max_iter: int, params: BoundParams
) -> tuple[BoundResult | None, int]:
    """The ascent over the clusters' rows, refining as it goes: at params.refine_at shares of
    the time and whenever the steps converge, the cluster rows among those of smallest rho
    that stand for `cover` * k candidate centers (the rows the bound picks as centers, and
    those nearly picked) are replaced by one row per member at its own position
    (aggregate.member_rows). That removes their center-side shrink; every candidate center
    keeps exactly one row, so the bound stays valid. The new rows cost steps, which a short
    ascent cannot spare: `cover` is params.refine_cover[0] below params.refine_long_s
    seconds, else params.refine_cover[1]. Returns the bound and the rows refined."""
    k = agg.k
    if len(lists.rep) != agg.n:  # rows stand for groups of clusters (tiny row budgets): as they are
        res = Ascent(agg, lists, clock, params, upper=upper, v0=v0, max_iter=max_iter).run()
        return _result(agg, res, clock), 0
    m = lists.idx.shape[1]
    t0, total = clock.elapsed(), clock.remaining()
    cover = params.refine_cover[1] if total >= params.refine_long_s else params.refine_cover[0]
    # room for refined rows: refine_spare refinements, members there are, half the pairs' budget
    spare = int(min(problem.n - agg.n, params.refine_spare * cover * k, params.max_pairs_agg // (2 * max(m, 1))))
    res = Ascent(
        agg,
        lists,
        clock,
        params,
        upper=upper,
        v0=v0,
        max_iter=max_iter,
        refine=_cluster_refiner(problem, agg, m, cover * k, params),
        refine_at=tuple(t0 + s * total for s in params.refine_at),
        spare=spare,
    ).run()
    return _result(agg, res, clock), res.refined


def _cluster_refiner(problem: Problem, agg, m: int, centers: float, params: BoundParams) -> Refine:
    """refine(relax, rho) for the Ascent: the cluster rows among those of smallest rho that
    stand for `centers` candidate centers, as their members' rows of m clusters each."""
    from solvers.bound.aggregate import member_rows

    def refine(relax: Relaxation, rho: np.ndarray) -> tuple[NeighbourLists, np.ndarray] | None:
        R = relax.R
        order = np.argsort(rho, kind="stable")
        mult = relax.mult[:R][order]
        near = order[np.cumsum(mult) - mult < centers]
        # a row standing for several candidate centers is a cluster's (row r = cluster r) not
        # refined yet; take them in order of rho while their extra rows fit
        pick = near[relax.mult[near] > 1]
        pick = pick[np.cumsum(relax.mult[pick] - 1) <= relax.room()]
        if not len(pick):
            return None
        extra = member_rows(agg, problem, pick, m, params)
        return extra, extra.rep  # rows grouped by cluster, and cluster r is row r

    return refine


def _groups_for(problem: Problem, seconds: float, params: BoundParams) -> tuple[int, int]:
    """Clusters to aggregate the demand into (0: only when one row per unit with long lists
    would not fit, lists.long_lists_fit), and the pairs the lists may take: as many
    clusters as the time allows with lists of _agg_list_share(k) of them
    (params.pairs_per_second: the steps must converge), at most n (every distinct location
    its own cluster) and params.max_pairs_agg pairs."""
    n, k = problem.n, problem.k
    pairs = float(np.clip(params.pairs_per_second * max(seconds, 0.0), params.min_pairs_agg, params.max_pairs_agg))
    if problem.explicit_distances is not None or long_lists_fit(n, k, params):
        return 0, int(pairs)
    return int(max(k + 1, min(n, np.sqrt(pairs / _agg_list_share(k, params))))), int(pairs)


def _agg_list_share(k: int, params: BoundParams) -> float:
    """Share of the clusters in each aggregated row's list: params.agg_territories
    territories' worth, at least params.agg_share of them (the units beyond count by block)."""
    return min(1.0, max(params.agg_territories / k, params.agg_share))


def _subgradient(
    problem: Problem,
    lists: NeighbourLists,
    clock: Clock,
    upper,
    labels,
    v0=None,
    max_iter: int | None = None,
    params: BoundParams | None = None,
) -> BoundResult | None:
    """The bound over one row per unit (or per group of candidate centers) without refining."""
    params = BoundParams() if params is None else params
    res = Ascent(problem, lists, clock, params, upper=upper, labels=labels, v0=v0, max_iter=max_iter).run()
    return _result(problem, res, clock)


def _result(problem: Problem, res: AscentResult, clock: Clock) -> BoundResult | None:
    """The ascent's value less the safety margin (None when it found none)."""
    if not np.isfinite(res.value):
        return None
    bound = res.value - _SAFETY * max(1.0, abs(res.value))
    balanced = workload_bounds(problem)[2]
    return BoundResult(
        bound=max(bound, 0.0),
        source=SOURCE_BALANCED if balanced else SOURCE_PLAIN,
        iterations=res.iterations,
        runtime_s=clock.elapsed(),
    )
