"""Rep-centric construction at scale: the cheapest balanced assignment of units to the reps'
homes (a transportation problem, solved as a min-cost flow), contiguity repaired after.

Travel is the evaluator's (w d^p from the rep's home, plus soft-skill penalties); hard skills
and frozen territories only restrict each unit's candidate territories, so a unit needing a
skill is never assigned to a rep lacking it. With p = 1 and workload as weight and measure,
the flow's duals are one price per territory and every unit goes to the home minimizing
distance + price: an additively weighted Voronoi diagram, mostly contiguous.

Why: region growing from the homes (`heuristic_construct.grow`) hems territories in where
homes crowd together (benchmark 20,000 units / 50 reps living in the 50 largest towns: summed
relative bound violation 37 after growing, the repair then needs minutes). The flow is
balanced to 0.001 before the contiguity repair and about 7 after it, and the local search
makes it feasible in seconds. Prices set by subgradient steps, or territory by territory,
crawled (still 26 after 60 rounds): balance needs load pushed across many territories at once.
Each unit considers its `n_cand` nearest allowed homes only; 12 were too few on that
benchmark (the flow could not balance), so the default is generous.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from engine.geo import project_km
from solvers.heuristic.instance import Instance



def candidate_territories(ctx: Instance, n_cand: int, centers: np.ndarray | None = None) -> np.ndarray:
    """(n, L) nearest allowed territories per unit (by projected distance to the rep's home,
    or to the territory's center unit when `centers` is given), -1 padded; a locked unit has
    its lock only. Units with the same skill needs share one KD-tree."""
    n, k = ctx.n, ctx.k
    if centers is None:
        xy = project_km(np.concatenate([ctx.lat, ctx.home_lat]), np.concatenate([ctx.lon, ctx.home_lon]))
        uxy, hxy = xy[:n], xy[n:]
    else:
        uxy, hxy = ctx.xy, ctx.xy[centers]
    L = min(n_cand, k)
    cand = np.full((n, L), -1, dtype=np.int64)
    need = ctx.unit_skills if ctx.hard_skills else np.zeros(n, dtype=np.int64)
    open_t = ~ctx.frozen
    for mask in np.unique(need).tolist():
        units = np.flatnonzero((need == mask) & ~ctx.locked)
        if len(units) == 0:
            continue
        ok = open_t.copy()
        if ctx.hard_skills:
            ok &= (mask & ~ctx.terr_skills) == 0
        terrs = np.flatnonzero(ok)
        if len(terrs) == 0:
            continue  # the pre-check reports it; the units keep their nearest home below
        m = min(L, len(terrs))
        _, nn = cKDTree(hxy[terrs]).query(uxy[units], k=m)
        cand[units, :m] = terrs[np.asarray(nn).reshape(len(units), m)]
    lonely = np.flatnonzero((cand[:, 0] < 0) & ~ctx.locked)
    if len(lonely):
        _, nn = cKDTree(hxy).query(uxy[lonely])
        cand[lonely, 0] = nn
    lk = np.flatnonzero(ctx.locked)
    cand[lk] = -1
    cand[lk, 0] = ctx.locks[lk]
    return cand


def balanced_assignment(ctx: Instance, n_cand: int = 64, centers: np.ndarray | None = None) -> np.ndarray:
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

    n, k, nb = ctx.n, ctx.k, ctx.nb
    cand = candidate_territories(ctx, n_cand, centers)
    L = cand.shape[1]
    valid = cand >= 0
    safe = np.where(valid, cand, 0)
    rows = np.repeat(np.arange(n), L).reshape(cand.shape)
    cost = ctx.home_cost(rows, safe) if centers is None else ctx.assign_cost(rows, safe, centers)
    C = np.where(valid, cost, np.inf)
    if nb == 0:
        return safe[np.arange(n), np.argmin(C, axis=1)]
    ell = (ctx.A / ctx.scale).mean(axis=1)
    units_per_terr = 4096.0 * max(n / k, 1.0)  # integer resolution of the loads
    q = np.maximum(np.rint(ell * units_per_terr), 1).astype(np.int64)
    target = (ctx.target_t / ctx.scale).mean(axis=1) * units_per_terr
    upper = (np.minimum(ctx.hi_t, np.where(np.isfinite(ctx.hi_t), ctx.hi_t, 2 * ctx.target_t)) / ctx.scale).mean(axis=1)
    upper = np.maximum(upper * units_per_terr, target)
    # cost per unit of flow, integer; costs of a unit's candidates keep their ratios
    per = C / q[:, None]
    top = float(per[np.isfinite(per)].max(initial=1.0))
    cscale = 1e6 / max(top, 1e-12)
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
    mcf.add_arcs_with_capacity_and_unit_cost(tn, np.full(k, sink), np.full(k, supply_total), np.full(k, 200_000_000, dtype=np.int64))
    mcf.set_nodes_supplies(np.arange(n + k + 1), np.concatenate([q, np.zeros(k, dtype=np.int64), [-supply_total]]))
    if mcf.solve() != mcf.OPTIMAL:
        return safe[np.arange(n), np.argmin(C, axis=1)]
    flow = np.zeros(cand.shape)
    flow[valid] = mcf.flows(unit_arcs)
    return safe[np.arange(n), np.argmax(np.where(valid, flow, -1.0), axis=1)]


LLOYD_ROUNDS, LLOYD_ROUNDS_AT_SCALE = 8, 40
LLOYD_WIDE_ROUNDS, LLOYD_CAND_WIDE, LLOYD_CAND = 2, 64, 16


def capacitated_lloyd(ctx: Instance, centers: np.ndarray, stop=None, at_scale: bool = False, rounds: int | None = None,
                      wide_rounds: int = LLOYD_WIDE_ROUNDS) -> np.ndarray:
    """Location-allocation from seed centers (a unit per territory): the cheapest balanced
    assignment to the centers (balanced_assignment), each territory re-centered at its best
    member, repeated until the centers stay or LLOYD_ROUNDS are done (LLOYD_ROUNDS_AT_SCALE
    `at_scale`, or `rounds`). Returns the last labels (not yet contiguous). Deterministic;
    `stop()` true ends it after the current round.

    Why: region growing fills territories in the order the frontier reaches units, and local
    moves under +-5 % balance cannot undo a poor arrangement. 1,000 US places / 20
    territories, seeds 0-3, each start followed by the same local search: region growing
    9.6-11.9 M, this 8.2-9.5 M (the whole search's plan was 8.2 M). With several balanced
    measures on small problems the assignment is an LP over every measure's bounds
    (_assignment_lp) instead of the flow.

    Each unit chooses among LLOYD_CAND_WIDE centers; `at_scale`, only in the first
    `wide_rounds` (LLOYD_WIDE_ROUNDS) rounds (the seeds are far from balanced: the flow
    pushes load across many territories) and among LLOYD_CAND after. 20,000 US places / 100,
    seed 0: 2.5 s a round -> 0.8 s; converged after 19 rounds at 20.23 M instead of 16 rounds
    (43 s) at 20.22 M. The rounds pay: after 8 (the former cap) the assignment stood at
    20.37 M there, and at 50.31 M at k = 20 (24 rounds: 49.96 M). 60 s plans at k = 100,
    seed 0: 20.18 M with 8 rounds, 20.00 M with 12, 20.04 M with these (the rounds stop where
    the start's own search would no longer fit, heuristic.solve_heuristic). Below that scale
    the rounds are cheap and the former settings did better: 5,000 places / 100, seeds 0-2, 9.44 / 9.40 / 9.36 M against
    9.49 / 9.51 / 9.37 M (16 candidates, 8 rounds: 9.44 / 9.58 / 9.43 M)."""
    from engine.evaluate import best_centers

    def assign(c, r):
        if ctx.nb >= 2 and ctx.n <= _LP_MAX_UNITS:
            lab = _assignment_lp(ctx, c)
            if lab is not None:
                return lab
        narrow = at_scale and r >= wide_rounds
        return balanced_assignment(ctx, n_cand=LLOYD_CAND if narrow else LLOYD_CAND_WIDE, centers=c)

    labels = assign(centers, 0)
    for r in range(1, rounds or (LLOYD_ROUNDS_AT_SCALE if at_scale else LLOYD_ROUNDS)):
        if stop is not None and stop():
            break
        new = best_centers(ctx.problem, labels)
        new = np.where(new >= 0, new, centers)
        if np.array_equal(new, centers):
            break
        centers = new
        labels = assign(centers, r)
    return labels


# Several balanced measures on small problems: the flow's one load per unit (the measures'
# mean) left Georgia's counties (159, k = 4, population and urban population +-5 %) at
# +18.6 % over region growing's plan, this LP at +1.0 %. At 1,000 US places / 20 the flow was
# as good or better (seeds 0-3: mean 8.15 M; the LP 8.19 M), and faster.
_LP_MAX_UNITS = 500
_LP_CAND = 8
_BAND = 0.5  # the LP keeps each total within this share of its band around the target


def _assignment_lp(ctx: Instance, centers: np.ndarray) -> np.ndarray | None:
    """Several balanced measures: the cheapest assignment to the centers' territories (each
    unit among its _LP_CAND nearest) with every measure within its bounds, as an LP (GLOP
    through OR-Tools); a bound it cannot meet costs a penalty per unit of relative shortfall,
    so the LP is always feasible. Rounded to each unit's largest share (a basic solution
    splits at most 2 k m units). None when the solver fails."""
    from ortools.linear_solver.python import model_builder as mb

    n, k = ctx.n, ctx.k
    cand = candidate_territories(ctx, _LP_CAND, centers)
    valid = cand >= 0
    I, S = np.nonzero(valid)
    T = cand[I, S]
    cost = ctx.assign_cost(I, T, centers)
    cost = cost / max(float(cost.mean()) if len(cost) else 1.0, 1e-12)
    penalty = 1e3 * max(float(n) / k, 1.0)
    m = mb.Model()
    x = [m.new_num_var(0.0, 1.0, "") for _ in range(len(I))]
    starts = np.searchsorted(I, np.arange(n + 1))
    for i in range(n):
        m.add(mb.LinearExpr.sum(x[starts[i] : starts[i + 1]]) == 1.0)
    by_t = [np.flatnonzero(T == t) for t in range(k)]
    obj_vars, obj_coef = list(x), cost.tolist()
    for r in range(ctx.nb):
        a = ctx.A[:, r] / ctx.scale[r]
        # half the band around the target: rounding and the contiguity repair need room
        tgt = ctx.target_t[:, r] / ctx.scale[r]
        lo_t = tgt - _BAND * (tgt - ctx.lo[r] / ctx.scale[r])
        hi_t = tgt + _BAND * (ctx.hi_t[:, r] / ctx.scale[r] - tgt)
        for t in range(k):
            e = by_t[t]
            load = mb.LinearExpr.weighted_sum([x[q] for q in e.tolist()], a[I[e]].tolist())
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
    share[I, S] = val
    return cand[np.arange(n), np.argmax(share, axis=1)]
