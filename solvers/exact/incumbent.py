"""Incumbent for the exact method: the lower bound proves faster with a good plan in hand
(SCIP prunes and fixes by reduced cost against it).

Location-allocation with exact allocation: for fixed centers, the assignment model with
contiguity (n x k variables) is small; solve it, move each center to its territory's best
unit, repeat until the centers stop moving. Starts from the caller's warm start or, when
none is given, from the heuristic method's plan.
"""

from __future__ import annotations

from dataclasses import replace as dc_replace

import numpy as np

from engine.evaluate import best_centers
from engine.problem import Problem
from engine.tolerance import improves
from models.options import SolveOptions
from solvers.clock import Clock
from solvers.exact.hess_data import HessData, model_objective, warm_start_centers
from solvers.heuristic.params import HeuristicParams


def heuristic_start(
    problem: Problem,
    prep: HessData,
    options: SolveOptions,
    clock: Clock,
    budget_s: float,
    params: HeuristicParams | None = None,
):
    """A feasible plan from the heuristic method (center per unit), or None."""
    try:
        from solvers.heuristic.solve import solve_heuristic
    except Exception:
        return None
    sub = Clock(max(0.1, min(budget_s, clock.remaining())), None, clock.cancel)
    try:
        heuristic_options = options.model_copy(update={"method": "heuristic", "time_limit_s": sub.time_limit_s})
        res = solve_heuristic(problem, heuristic_options, sub, params=params)
    except Exception:
        return None
    if res.labels is None:
        return None
    return warm_start_centers(problem, prep, res.labels)


def improve_centers(
    problem: Problem,
    prep: HessData,
    options: SolveOptions,
    clock: Clock,
    center_of: np.ndarray,
    budget_s: float,
    max_rounds: int = 8,
) -> tuple[np.ndarray, dict]:
    """Alternate exact allocation for fixed centers and re-centering. Returns the best plan."""
    from solvers.exact.hess_scip import solve_scip

    sub = Clock(max(0.1, min(budget_s, clock.remaining())), None, clock.cancel)
    best = center_of.copy()
    best_obj = model_objective(prep, best)
    centers = np.unique(best)
    seen = set()
    rounds = 0
    info = {"start": best_obj}
    while rounds < max_rounds and not sub.should_stop():
        key = tuple(sorted(int(c) for c in centers))
        if key in seen:
            break
        seen.add(key)
        rounds += 1
        allowed = np.zeros_like(prep.allowed)
        allowed[:, centers] = prep.allowed[:, centers]
        p2 = dc_replace(prep, allowed=allowed)
        opts = options.model_copy(update={"time_limit_s": max(0.1, min(sub.remaining(), 20.0)), "gap": 0.0})
        r = solve_scip(
            problem, p2, opts, Clock(opts.time_limit_s, None, clock.cancel), None, frac_cuts=False, heuristic_mode=True
        )
        if r.center_of is None:
            break
        obj = model_objective(prep, r.center_of)
        if improves(obj, best_obj):
            best, best_obj = r.center_of.copy(), obj
            clock.report(best_obj, None, "exact: improved incumbent")
        # re-center on the allocation just found
        labels = np.searchsorted(np.unique(r.center_of), r.center_of)
        new_centers = np.sort(best_centers(problem, labels))
        if not prep.allowed[np.arange(prep.n), new_centers[labels]].all():
            break
        cand = new_centers[labels]
        cobj = model_objective(prep, cand)
        if improves(cobj, best_obj):
            best, best_obj = cand.copy(), cobj
        centers = new_centers
    info.update(rounds=rounds, end=best_obj)
    return best, info
