"""Exact-subproblem large neighbourhood search (matheuristic) for the heuristic method.

Local moves stall where the balance bounds are tight: no single move or swap keeps both
territories within +-0.5 % while lowering the cost, although a different split of the
same units would. Here the union of a few neighbouring territories (a connected set) is
re-partitioned by the exact Hess model with contiguity (solvers.exact.hess_data / exact_scip:
U-fixing, neighbour cuts, lazy a,b-separators) on the sub-problem with k = 2, 3 or 4,
every other territory fixed, warm-started with the current split and with an objective
limit just below it; the result replaces it only when its cost is lower.

The sub-MIP is kept small and repeatable: unions of at most `lns_max_units` units,
candidate centers restricted to the units nearest the current centers, presolve off (it took
most of the time of these models), and SCIP stops at a node limit (the clock only as a
safety net), so a seed still gives the same plan (the parameters: HeuristicParams, lns_*).
"""

from __future__ import annotations

from itertools import permutations

import numpy as np

from engine.tolerance import improves
from solvers.clock import Clock
from solvers.heuristic.instance import Instance
from solvers.heuristic.params import DEFAULTS, HeuristicParams
from solvers.heuristic.state import State


def applicable(inst: Instance) -> bool:
    """The sub-model is the plain Hess model: no reps' homes, disruption or frozen territories."""
    return (
        not inst.rep_centric
        and inst.disruption_weight == 0.0
        and inst.move_cap is None
        and not inst.frozen.any()
        and inst.problem.minimize == "compactness"
    )


def reoptimize(
    st: State, terrs: list[int], clock: Clock, seed: int, params: HeuristicParams = DEFAULTS
) -> tuple[tuple[np.ndarray, np.ndarray] | None, bool]:
    """Best split of the union of territories `terrs` found by the sub-MIP.

    Returns ((members, new_labels) or None when nothing cheaper was found, proved): `proved`
    says the sub-MIP was solved to optimality, so re-solving it while the territories stay
    unchanged cannot pay."""
    # SCIP and the exact machinery load only when a sub-MIP runs, not with every heuristic solve
    from pyscipopt import SCIP_PARAMSETTING

    from solvers.exact.hess_cuts import neighbor_cuts
    from solvers.exact.hess_data import prepare_hess
    from solvers.exact.hess_scip import HessConnectivity, hess_model
    from solvers.exact.scip_tools import add_warm_start, include_connectivity

    inst = st.inst
    problem = inst.problem
    kk = len(terrs)
    M = np.flatnonzero(np.isin(st.labels, terrs))
    m = len(M)
    if m < kk or m > params.lns_max_units:
        return None, False
    old = st.labels[M]
    sub_locks = np.full(m, -1, dtype=np.int64)
    lk = inst.locks[M]
    for s, t in enumerate(terrs):
        sub_locks[lk == t] = s
    sub = problem.subproblem(M, kk).with_(locks=sub_locks)
    prep = prepare_hess(sub)
    if prep.infeasible:
        return None, False
    pos = {int(u): s for s, u in enumerate(M.tolist())}
    cur_centers = [pos.get(int(st.centers[t]), -1) for t in terrs]
    if min(cur_centers) < 0:
        return None, False
    warm = np.array([cur_centers[terrs.index(int(t))] for t in old], dtype=np.int64)
    if m > params.lns_all_centers_units:
        cand = set(cur_centers)
        for c0 in cur_centers:
            d = problem.distances(M, np.full(m, M[c0]))
            cand.update(np.argsort(d, kind="stable")[: params.lns_candidates_per_territory].tolist())
        keep = np.zeros(m, dtype=bool)
        keep[sorted(cand)] = True
        prep.allowed &= keep[None, :]
    if not prep.allowed[np.arange(m), warm].all():
        return None, False
    cuts = neighbor_cuts(prep) if sub.contiguity else []
    if not prep.allowed[np.arange(m), warm].all() or not prep.allowed.any(axis=1).all():
        return None, False
    old_cost = float(prep.cost[np.arange(m), warm].sum())

    mdl, x, centers = hess_model(sub, prep, "territoria-lns", cuts)
    mdl.hideOutput()
    sub_clock = Clock(max(0.05, min(params.lns_sub_time_s, clock.remaining())), None, clock.cancel)
    if sub.contiguity:
        include_connectivity(mdl, HessConnectivity(prep, x, sub_clock, frac=False))
    mdl.setParam("limits/time", sub_clock.time_limit_s)
    mdl.setParam("limits/nodes", params.lns_node_limit)
    mdl.setParam("randomization/randomseedshift", int(seed) % 2**31)
    mdl.setParam("parallel/maxnthreads", 1)
    if prep.integral:
        mdl.setObjIntegral()
    mdl.setSeparating(SCIP_PARAMSETTING.OFF)
    mdl.setPresolve(SCIP_PARAMSETTING.OFF)
    mdl.setHeuristics(SCIP_PARAMSETTING.FAST)
    for j in centers:
        mdl.chgVarBranchPriority(x[j, j], 10)
    mdl.setObjlimit(old_cost - 1e-7 * max(1.0, abs(old_cost)) - (0.5 if prep.integral else 0.0))
    add_warm_start(mdl, x, warm)
    mdl.optimize()
    status = mdl.getStatus()
    if mdl.getNSols() == 0:
        return None, status == "infeasible"  # infeasible under the objective limit: current split optimal
    best = mdl.getBestSol()
    center_of = np.full(m, -1, dtype=np.int64)
    for (i, j), v in x.items():
        if mdl.getSolVal(best, v) > 0.5:
            center_of[i] = j
    if (center_of < 0).any():
        return None, False
    new_cost = float(prep.cost[np.arange(m), center_of].sum())
    if not improves(new_cost, old_cost):
        return None, status == "optimal"
    # name the new territories after the old ones they overlap most (locks agree by construction)
    ctrs = np.unique(center_of)
    part = np.searchsorted(ctrs, center_of)
    overlap = np.zeros((kk, kk))
    for s, t in enumerate(terrs):
        np.add.at(overlap[:, s], part[old == t], 1)
    best_perm, best_key = None, -1.0
    for p in permutations(range(kk)):
        new = np.asarray(terrs, dtype=np.int64)[np.asarray(p)[part]]
        if ((sub_locks >= 0) & (new != lk)).any():
            continue
        key = sum(overlap[q, p[q]] for q in range(kk))
        if key > best_key:
            best_perm, best_key = new, key
    if best_perm is None:
        return None, False
    return (M, best_perm), status == "optimal"
