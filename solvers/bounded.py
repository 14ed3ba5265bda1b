"""The heuristic method as `solve()` runs it: the search, then its plan's lower bound.

The bound runs beside the search in a child process at scale, or after it in the time it
leaves (solvers.bound.schedule). Realignments (fewest moved units, or a cap on moved units)
are searched as solvers.realign says, and every plan is judged on the problem as stated.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.problem import Problem
from models import SolveOptions
from solvers import realign
from solvers.bound import schedule
from solvers.clock import Clock
from solvers.params import DEFAULT_PARAMS, SolverParams
from solvers.result import SolveResult


def solve_heuristic_with_bound(
    problem: Problem,
    options: SolveOptions,
    clock: Clock,
    warm_start: np.ndarray | None = None,
    final: bool = False,
    params: SolverParams = DEFAULT_PARAMS,
) -> SolveResult:
    """The heuristic, then the Lagrangian bound. `final`: this is the answer (not a warm start),
    so the bound may run beside the search, or use all the time the search left: the search
    often converges well before the limit, and the bound stops by itself when its steps
    converge."""
    side = schedule.start_beside(problem, options, clock, params.bound) if final else None
    if side is None and not problem.rep_centric:  # the bound runs here, after the search
        schedule.warm_kernels_in_background()
    budget = schedule.reserved_seconds(clock, side is not None, params.bound)
    on_progress = clock.on_progress
    if side is not None:  # better plans' objectives steer the child's steps

        def on_progress(event, report=clock.on_progress):
            side.offer(event.objective)
            if report is not None:
                report(event)

    search_clock = Clock(max(clock.remaining() - budget, 0.5 * clock.remaining()), on_progress, clock.cancel)
    try:
        result = _search(problem, options, search_clock, warm_start, params)
    except BaseException:
        if side is not None:
            side.cancel()
        raise
    if side is not None:
        if clock.cancelled() or result.status not in ("feasible", "no_solution"):
            side.cancel()
            return result
        # a search that converged leaves the child its time; one cut by the clock stops it
        b = side.finish(stop=result.stop_reason != "converged", wait_s=clock.remaining(), cancel=clock.cancel)
        if b is not None:
            return schedule.attach(result, clock, b)
        if side.error:
            result = replace(result, details={**result.details, "bound_error": side.error})
    return schedule.bound_after(
        problem, result, clock, max(budget, clock.remaining()) if final else budget, params.bound
    )


def _search(
    problem: Problem, options: SolveOptions, clock: Clock, warm_start: np.ndarray | None, params: SolverParams
) -> SolveResult:
    """The heuristic's plan, a realignment searched as solvers.realign says."""
    realigning = bool((problem.current >= 0).any())
    if problem.minimize == "moved" and realigning:
        searched = realign.fewest_moves_problem(problem)
        return realign.search_as(problem, searched, options, clock, warm_start, params.heuristic)
    if problem.moved_cap is not None and realigning and not problem.rep_centric:
        return realign.solve_capped(problem, options, clock, warm_start, params.heuristic)
    return realign.search_as(problem, problem, options, clock, warm_start, params.heuristic)
