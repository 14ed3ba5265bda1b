"""Rep-centric construction at scale: the cheapest balanced assignment of units to the reps'
homes (a transportation problem, solved as a min-cost flow), contiguity repaired after.

Travel is the evaluator's (w d^p from the rep's home, plus soft-skill penalties); hard skills
and frozen territories only restrict each unit's candidate territories, so a unit needing a
skill is never assigned to a rep lacking it. With p = 1 and workload as weight and measure,
the flow's duals are one price per territory and every unit goes to the home minimizing
distance + price: an additively weighted Voronoi diagram, mostly contiguous.

Why: region growing from the homes (construct.grow) hems territories in where homes crowd
together, and the repair then needs minutes; the flow is nearly balanced before the
contiguity repair and the local search makes it feasible in seconds. Prices set by
subgradient steps, or territory by territory, crawled: balance needs load pushed across many
territories at once. Each unit considers its `n_cand` nearest allowed homes only
(HeuristicParams.home_candidates; the measurements: benchmarks/results/tuning.md).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from engine.geo import project_km
from engine.tolerance import NOISE
from solvers.heuristic.instance import Instance
from solvers.heuristic.params import DEFAULTS, HeuristicParams

# the LP's cost of a unit of relative shortfall, per territory's worth of units: above any
# difference in (normalized) travel
_LP_PENALTY = 1e3


def candidate_territories(inst: Instance, n_cand: int, centers: np.ndarray | None = None) -> np.ndarray:
    """(n, L) nearest allowed territories per unit (by projected distance to the rep's home,
    or to the territory's center unit when `centers` is given), -1 padded; a locked unit has
    its lock only. Units with the same skill needs share one KD-tree."""
    n, k = inst.n, inst.k
    if centers is None:
        xy = project_km(np.concatenate([inst.lat, inst.home_lat]), np.concatenate([inst.lon, inst.home_lon]))
        uxy, hxy = xy[:n], xy[n:]
    else:
        uxy, hxy = inst.xy, inst.xy[centers]
    L = min(n_cand, k)
    cand = np.full((n, L), -1, dtype=np.int64)
    need = inst.unit_skills if inst.hard_skills else np.zeros(n, dtype=np.int64)
    open_t = ~inst.frozen
    for mask in np.unique(need).tolist():
        units = np.flatnonzero((need == mask) & ~inst.locked)
        if len(units) == 0:
            continue
        ok = open_t.copy()
        if inst.hard_skills:
            ok &= (mask & ~inst.territory_skills) == 0
        terrs = np.flatnonzero(ok)
        if len(terrs) == 0:
            continue  # the pre-check reports it; the units keep their nearest home below
        m = min(L, len(terrs))
        _, nn = cKDTree(hxy[terrs]).query(uxy[units], k=m)
        cand[units, :m] = terrs[np.asarray(nn).reshape(len(units), m)]
    lonely = np.flatnonzero((cand[:, 0] < 0) & ~inst.locked)
    if len(lonely):
        _, nn = cKDTree(hxy).query(uxy[lonely])
        cand[lonely, 0] = nn
    lk = np.flatnonzero(inst.locked)
    cand[lk] = -1
    cand[lk, 0] = inst.locks[lk]
    return cand


def balanced_assignment(
    inst: Instance, n_cand: int = DEFAULTS.home_candidates, centers: np.ndarray | None = None
) -> np.ndarray:
    """Labels of the cheapest assignment of units to their candidate territories in which
    every territory takes its target load: a transportation problem (units supply their
    normalized load, territories demand their target) solved as a min-cost flow. Loads above
    the target up to the upper bound (balance or the rep's capacity) cost a penalty, beyond it
    a prohibitive one, so the flow always exists. A unit split between territories goes to the
    one taking most of it (a basic solution splits fewer than k units). Deterministic.

    One load per unit (the mean of its balanced measures relative to their targets), so with
    several balanced measures it balances their mean and leaves the rest to the repair.
    Territories are not yet contiguous. With `centers` (a unit per territory) travel is
    measured from those units instead of the reps' homes (capacitated_lloyd)."""
    from ortools.graph.python import min_cost_flow

    n, k, nb = inst.n, inst.k, inst.n_tracked
    cand = candidate_territories(inst, n_cand, centers)
    L = cand.shape[1]
    valid = cand >= 0
    safe = np.where(valid, cand, 0)
    rows = np.repeat(np.arange(n), L).reshape(cand.shape)
    cost = inst.home_cost(rows, safe) if centers is None else inst.assign_cost(rows, safe, centers)
    C = np.where(valid, cost, np.inf)
    if nb == 0:
        return safe[np.arange(n), np.argmin(C, axis=1)]
    ell = (inst.loads / inst.scale).mean(axis=1)
    units_per_terr = 4096.0 * max(n / k, 1.0)  # integer resolution of the loads
    q = np.maximum(np.rint(ell * units_per_terr), 1).astype(np.int64)
    target = (inst.target_by_territory / inst.scale).mean(axis=1) * units_per_terr
    ub = inst.upper_by_territory
    upper = (np.minimum(ub, np.where(np.isfinite(ub), ub, 2 * inst.target_by_territory)) / inst.scale).mean(axis=1)
    upper = np.maximum(upper * units_per_terr, target)
    # cost per unit of flow, integer; costs of a unit's candidates keep their ratios
    per = C / q[:, None]
    top = float(per[np.isfinite(per)].max(initial=1.0))
    cscale = 1e6 / max(top, NOISE)
    arc_cost = np.where(valid, np.rint(np.where(valid, per, 0) * cscale), 0).astype(np.int64)
    supply_total = int(q.sum())
    src = rows[valid]
    dst = n + cand[valid]
    mcf = min_cost_flow.SimpleMinCostFlow()
    unit_arcs = mcf.add_arcs_with_capacity_and_unit_cost(src, dst, q[src], arc_cost[valid])
    sink = n + k
    cap1 = np.floor(target).astype(np.int64)
    cap2 = np.maximum(np.floor(upper).astype(np.int64) - cap1, 0)
    tn = n + np.arange(k)
    mcf.add_arcs_with_capacity_and_unit_cost(tn, np.full(k, sink), cap1, np.zeros(k, dtype=np.int64))
    mcf.add_arcs_with_capacity_and_unit_cost(tn, np.full(k, sink), cap2, np.full(k, 2_000_000, dtype=np.int64))
    mcf.add_arcs_with_capacity_and_unit_cost(
        tn, np.full(k, sink), np.full(k, supply_total), np.full(k, 200_000_000, dtype=np.int64)
    )
    mcf.set_nodes_supplies(np.arange(n + k + 1), np.concatenate([q, np.zeros(k, dtype=np.int64), [-supply_total]]))
    if mcf.solve() != mcf.OPTIMAL:
        return safe[np.arange(n), np.argmin(C, axis=1)]
    flow = np.zeros(cand.shape)
    flow[valid] = mcf.flows(unit_arcs)
    return safe[np.arange(n), np.argmax(np.where(valid, flow, -1.0), axis=1)]


def capacitated_lloyd(
    inst: Instance,
    centers: np.ndarray,
    params: HeuristicParams = DEFAULTS,
    stop=None,
    at_scale: bool = False,
    rounds: int | None = None,
    wide_rounds: int | None = None,
) -> np.ndarray:
    """Location-allocation from seed centers (a unit per territory): the cheapest balanced
    assignment to the centers (balanced_assignment), each territory re-centered at its best
    member, repeated until the centers stay or `lloyd_rounds` are done (`lloyd_rounds_at_scale`
    `at_scale`, or `rounds`). Returns the last labels (not yet contiguous). Deterministic;
    `stop()` true ends it after the current round.

    Why: region growing fills territories in the order the frontier reaches units, and local
    moves under tight balance cannot undo a poor arrangement. With several balanced measures
    on small problems (up to `lp_max_units`) the assignment is an LP over every measure's
    bounds (_assignment_lp) instead of the flow.

    Each unit chooses among `lloyd_cand_wide` centers; `at_scale`, only in the first
    `wide_rounds` (`lloyd_wide_rounds`) rounds (the seeds are far from balanced: the flow
    pushes load across many territories) and among `lloyd_cand` after, in much cheaper
    rounds. (The measurements: benchmarks/results/tuning.md.)"""
    from engine.evaluate import best_centers

    if wide_rounds is None:
        wide_rounds = params.lloyd_wide_rounds

    def assign(c, r):
        if inst.n_tracked >= 2 and inst.n <= params.lp_max_units:
            lab = _assignment_lp(inst, c, params)
            if lab is not None:
                return lab
        narrow = at_scale and r >= wide_rounds
        return balanced_assignment(inst, n_cand=params.lloyd_cand if narrow else params.lloyd_cand_wide, centers=c)

    labels = assign(centers, 0)
    for r in range(1, rounds or (params.lloyd_rounds_at_scale if at_scale else params.lloyd_rounds)):
        if stop is not None and stop():
            break
        new = best_centers(inst.problem, labels)
        new = np.where(new >= 0, new, centers)
        if np.array_equal(new, centers):
            break
        centers = new
        labels = assign(centers, r)
    return labels


def _assignment_lp(inst: Instance, centers: np.ndarray, params: HeuristicParams) -> np.ndarray | None:
    """Several balanced measures: the cheapest assignment to the centers' territories (each
    unit among its `lp_cand` nearest) with every measure's total within `lp_band` of its band
    around the target, as an LP (GLOP through OR-Tools); a bound it cannot meet costs a
    penalty per unit of relative shortfall, so the LP is always feasible. Rounded to each
    unit's largest share (a basic solution splits at most 2 k m units). None when the solver
    fails."""
    from ortools.linear_solver.python import model_builder as mb

    n, k = inst.n, inst.k
    cand = candidate_territories(inst, params.lp_cand, centers)
    valid = cand >= 0
    rows, slots = np.nonzero(valid)
    terr = cand[rows, slots]
    cost = inst.assign_cost(rows, terr, centers)
    cost = cost / max(float(cost.mean()) if len(cost) else 1.0, NOISE)
    penalty = _LP_PENALTY * max(float(n) / k, 1.0)
    m = mb.Model()
    x = [m.new_num_var(0.0, 1.0, "") for _ in range(len(rows))]
    starts = np.searchsorted(rows, np.arange(n + 1))
    for i in range(n):
        m.add(mb.LinearExpr.sum(x[starts[i] : starts[i + 1]]) == 1.0)
    by_t = [np.flatnonzero(terr == t) for t in range(k)]
    obj_vars, obj_coef = list(x), cost.tolist()
    for r in range(inst.n_tracked):
        a = inst.loads[:, r] / inst.scale[r]
        # part of the band around the target: rounding and the contiguity repair need room
        tgt = inst.target_by_territory[:, r] / inst.scale[r]
        lo_t = tgt - params.lp_band * (tgt - inst.lower[r] / inst.scale[r])
        hi_t = tgt + params.lp_band * (inst.upper_by_territory[:, r] / inst.scale[r] - tgt)
        for t in range(k):
            e = by_t[t]
            load = mb.LinearExpr.weighted_sum([x[q] for q in e.tolist()], a[rows[e]].tolist())
            if lo_t[t] > 0:
                short = m.new_num_var(0.0, np.inf, "")
                m.add(load + short >= lo_t[t])
                obj_vars.append(short)
                obj_coef.append(penalty)
            if np.isfinite(hi_t[t]):
                over = m.new_num_var(0.0, np.inf, "")
                m.add(load - over <= hi_t[t])
                obj_vars.append(over)
                obj_coef.append(penalty)
    m.minimize(mb.LinearExpr.weighted_sum(obj_vars, obj_coef))
    solver = mb.Solver("glop")
    if solver.solve(m) not in (mb.SolveStatus.OPTIMAL, mb.SolveStatus.FEASIBLE):
        return None
    val = np.array([solver.value(v) for v in x])
    share = np.full(valid.shape, -1.0)
    share[rows, slots] = val
    return cand[np.arange(n), np.argmax(share, axis=1)]
