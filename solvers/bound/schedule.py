"""When and where the lower bound of a heuristic solve runs, and how it joins the result.

- Beside the search, in a child process (solvers.bound.side), when the bound needs more time
  than its share after the search and a second core is there: at scale (aggregated demand),
  `threads` >= 2, enough time. `start_beside` decides and starts it.
- After the search, in this process, with the time the search leaves (`bound_after`); with
  reps, the per-unit cheapest-rep bound (solvers.bound.homes) instead.
- Either way a bound joins a result only when it is better than the one it has (`attach`).

The compiled kernels (solvers.bound.kernels) are loaded once per process in a thread while the
search runs (`warm_kernels_in_background`), so a short solve's bound does not pay for them.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import replace

from engine.problem import Problem
from models import SolveOptions
from solvers.bound.lagrangian import BoundResult
from solvers.bound.params import BoundParams
from solvers.clock import Clock
from solvers.result import SolveResult


def reserved_seconds(clock: Clock, beside: bool, params: BoundParams | None = None) -> float:
    """Seconds the search leaves for a bound that runs after it (none when it runs beside):
    params.after_share of the time limit, at most params.after_max_s. Only a warm start's
    bound is held to that; a final answer's bound may use all the time the search left."""
    params = BoundParams() if params is None else params
    return 0.0 if beside else min(params.after_share * clock.time_limit_s, params.after_max_s)


@functools.cache
def warm_kernels_in_background() -> None:
    """Import the bound and compile (or load from numba's cache) its kernels in a thread, once
    per process, while the search runs: in a new process that takes about a second, which a
    short solve's bound would otherwise pay itself. API workers have them from the forkserver
    (api.worker_preload)."""

    def run() -> None:
        import solvers.bound.lagrangian  # noqa: F401 - its imports too
        from solvers.bound.kernels import warm_all

        warm_all()

    threading.Thread(target=run, name="territoria-bound-warm", daemon=True).start()


def start_beside(problem: Problem, options: SolveOptions, clock: Clock, params: BoundParams | None = None):
    """The bound in a child process beside the search (solvers.bound.side) where the bound
    needs more time than its share after the search (it aggregates the demand), a second core
    is there and at least params.side_min_seconds are left; else None."""
    from solvers.bound.lists import long_lists_fit
    from solvers.bound.side import SideBound, cores

    params = BoundParams() if params is None else params
    if (
        problem.rep_centric
        or problem.minimize == "moved"  # the Lagrangian bound bounds travel, not moved units
        or problem.explicit_distances is not None
        or long_lists_fit(problem.n, problem.k, params)
        or options.threads < 2
        or cores() < 2
        or clock.remaining() < params.side_min_seconds
    ):
        return None
    return SideBound.start(problem, clock.start + clock.time_limit_s, params=params)


def bound_after(
    problem: Problem, result: SolveResult, clock: Clock, budget_s: float, params: BoundParams | None = None
) -> SolveResult:
    """The result with the Lagrangian lower bound attached when it has none or a weaker one
    (with reps: the per-unit cheapest-rep bound, as travel is measured from the reps' homes),
    computed within `budget_s` seconds with `params` (the defaults when None)."""
    from solvers.bound.lagrangian import lagrangian_bound

    if problem.rep_centric:
        from solvers.bound.homes import SOURCE, home_assignment_bound

        home_bound = home_assignment_bound(problem) if result.status in ("feasible", "no_solution") else None
        if home_bound is None or (result.bound is not None and result.bound >= home_bound):
            return result
        return replace(result, bound=home_bound, bound_source=SOURCE)
    if clock.should_stop() or result.status not in ("feasible", "no_solution") or problem.minimize == "moved":
        return result  # (the Lagrangian bound bounds travel, not moved units)
    bound_clock = Clock(min(budget_s, clock.remaining()), None, clock.cancel)
    feasible = result.status == "feasible"
    b = lagrangian_bound(
        problem,
        bound_clock,
        upper=result.objective if feasible else None,
        labels=result.labels if feasible else None,
        params=params,
    )
    return result if b is None else attach(result, clock, b)


def attach(result: SolveResult, clock: Clock, b: BoundResult) -> SolveResult:
    """The result with bound b when it has none or a weaker one (a progress event says so)."""
    if result.bound is not None and result.bound >= b.bound:
        return result
    if result.status == "feasible":
        clock.report(result.objective, b.bound, "bound: lagrangian", labels=result.labels)
    return replace(result, bound=b.bound, bound_source=b.source)
