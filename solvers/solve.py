"""`solve()`: pre-check, route to a method, run it, verify the plan with the one evaluator.

Routes (in this order):
- regions: territories grouped into regions, solved top-down (solvers.hierarchy), each level
  through this same path;
- reps with homes, or "fewest moved units": the territory-indexed exact model
  (solvers.exact.labelled) up to its size, else the rep-centric heuristic;
- `auto`: solvers.auto; `exact`: solvers.exact.hess; `heuristic`: solvers.bounded.

Every plan a method returns is evaluated again here: one that claims to be feasible but
breaks a rule becomes an error, a bound above the plan's objective is dropped, and the
territories are renumbered to keep the current alignment's ids.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np

from engine.align import align_to_current
from engine.evaluate import evaluate
from engine.problem import Problem
from engine.tolerance import IMPROVEMENT_REL
from models import SolveOptions
from solvers.auto import solve_auto, uses_labelled_model
from solvers.bounded import solve_heuristic_with_bound
from solvers.clock import Clock
from solvers.params import DEFAULT_PARAMS, SolverParams
from solvers.precheck import infeasibility_reasons
from solvers.result import Outcome, ProgressCallback, SolveResult, Status


def solve(
    problem: Problem,
    options: SolveOptions | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    params: SolverParams = DEFAULT_PARAMS,
) -> Outcome:
    """Solve `problem` within `options` (method, time limit, seed, ...), reporting progress to
    `on_progress`, stopping when `cancel` is set; `params`: the heuristic's and the bound's
    tunables (solvers.params). The plan in the outcome has been checked by the evaluator."""
    options = options or SolveOptions()
    clock = Clock(options.time_limit_s, on_progress, cancel)
    if problem.regions and 1 < problem.regions < problem.k:
        return _solve_hierarchy(problem, options, clock, params)
    return _solve_level(problem, options, clock, params)


def _solve_level(problem: Problem, options: SolveOptions, clock: Clock, params: SolverParams) -> Outcome:
    reasons = infeasibility_reasons(problem)
    if reasons:
        result = SolveResult(
            status="infeasible",
            stop_reason="proved_infeasible",
            method="precheck",
            runtime_s=clock.elapsed(),
            message="; ".join(reasons),
        )
        return Outcome(result, None)

    method = options.method
    if uses_labelled_model(problem, method):
        return _solve_labelled(problem, options, clock, params)
    if problem.rep_centric:
        return _solve_rep_heuristic(problem, options, clock, params)
    if method == "auto":
        result = solve_auto(problem, options, clock, params)
    elif method == "exact":
        from solvers.exact import solve_exact

        result = solve_exact(problem, options, clock, heuristic_params=params.heuristic)
    else:
        result = solve_heuristic_with_bound(problem, options, clock, final=True, params=params)
    return _verified(problem, replace(result, runtime_s=clock.elapsed()))


def _solve_labelled(problem: Problem, options: SolveOptions, clock: Clock, params: SolverParams) -> Outcome:
    """Territory t is served by a known rep, so no rep assignment follows and no renumbering:
    the labels are checked as they are, skills and capacities included."""
    from solvers.exact import solve_exact_labelled

    warm = None
    if problem.n > 20:
        # a cheap contiguous plan to start from (the model renumbers it to its reps): without
        # one, SCIP may find no plan at all on county realignments with k = 6
        h = solve_heuristic_with_bound(
            problem, options, clock.sub(min(0.2, 10.0 / max(clock.remaining(), 1e-9))), params=params
        )
        warm = h.labels if h.status == "feasible" else None
    result = solve_exact_labelled(problem, options, clock, warm)
    result = replace(result, runtime_s=clock.elapsed())
    rep_of = problem.rep_of_territories()
    if result.labels is None:
        return Outcome(result, None)
    ev = evaluate(problem, result.labels, rep_of_territory=rep_of)
    if result.status in ("optimal", "feasible") and not ev.feasible:
        result = replace(
            result, status="error", message="the solver returned a plan that breaks: " + "; ".join(ev.violations[:5])
        )
    if result.objective is not None and abs(result.objective - ev.objective) > IMPROVEMENT_REL * max(
        1.0, abs(ev.objective)
    ):
        # Without reps the model measures travel from the best center of each territory's
        # current units, the evaluator from the plan's best center: report the evaluator's
        # objective; the model's and its bound stay in the details. With reps both measure
        # from the reps' homes and agree, so the bound stands.
        details = {**result.details, "model_objective": result.objective, "model_bound": result.bound}
        result = replace(result, objective=ev.objective, bound=None, bound_source=None, details=details)
    return Outcome(result, ev, rep_of)


def _solve_rep_heuristic(problem: Problem, options: SolveOptions, clock: Clock, params: SolverParams) -> Outcome:
    """Rep-centric design at scale: territory t is built around the home of its rep
    (`Problem.rep_of_territories`), with the rep's capacity, skills, locks, frozen territories
    and the moved cap honoured by the search; the evaluator checks the plan as numbered."""
    result = solve_heuristic_with_bound(problem, options, clock, params=params)
    outcome = _verified(problem, replace(result, runtime_s=clock.elapsed()))
    return replace(outcome, rep_of_territory=problem.rep_of_territories())


def _solve_hierarchy(problem: Problem, options: SolveOptions, clock: Clock, params: SolverParams) -> Outcome:
    from solvers.hierarchy import solve_hierarchy

    def solve_one(sub: Problem, sub_options: SolveOptions, parent: Clock) -> SolveResult:
        sub_clock = Clock(min(sub_options.time_limit_s, parent.remaining()), parent.on_progress, parent.cancel)
        return _solve_level(sub, sub_options, sub_clock, params).result

    result, regions = solve_hierarchy(problem, options, clock, solve_one)
    if not problem.rep_ids:
        outcome = _verified(problem, replace(result, runtime_s=clock.elapsed()))
        return replace(outcome, region_of_territory=regions)
    # regions and territories are designed without the reps, then reps are assigned to them
    outcome = _verified(problem.without_reps(), replace(result, runtime_s=clock.elapsed()))
    if outcome.evaluation is None:
        return replace(outcome, region_of_territory=regions)
    return _with_reps(problem, outcome, regions)


def _verified(problem: Problem, result: SolveResult) -> Outcome:
    """Re-evaluate the returned labels; a plan claimed feasible must pass every hard rule."""
    if result.labels is None:
        return Outcome(result, None)
    if (problem.current >= 0).any() and not problem.rep_centric:
        # rep-centric labels already name the territory of each rep: never renumber them
        result = replace(result, labels=align_to_current(problem, result.labels))
    ev = evaluate(problem, result.labels)
    status, message = result.status, result.message
    if status in ("optimal", "feasible") and not ev.feasible:
        status = "error"
        message = "the solver returned a plan that breaks: " + "; ".join(ev.violations[:5])
    elif status in ("no_solution", "cancelled") and ev.feasible:
        status = "feasible"
    bound = result.bound
    if bound is not None and bound > ev.objective + IMPROVEMENT_REL * max(1.0, abs(ev.objective)):
        # A valid bound never exceeds a feasible plan's objective: drop it rather than mislead.
        message = (
            message + "; " if message else ""
        ) + f"reported bound {bound:g} exceeded the plan's objective; dropped"
        bound = None
    return Outcome(
        replace(
            result,
            status=status,
            message=message,
            objective=ev.objective,
            bound=bound,
            labels=np.asarray(result.labels),
        ),
        ev,
    )


def _with_reps(problem: Problem, outcome: Outcome, regions: np.ndarray | None) -> Outcome:
    """Territories designed without the reps get reps by an exact bipartite assignment, then
    are renumbered so that territory t is served by the rep the shared mapping gives it; the
    evaluator then measures travel from the reps' homes."""
    from solvers.assign_reps import assign_reps, labels_for_reps, territory_of_reps

    result, design = outcome.result, outcome.evaluation
    assert design is not None and result.labels is not None  # the caller passes a verified plan
    assignment = assign_reps(problem, design)
    if assignment.rep_of_territory is None:
        unassigned: Status = "no_solution" if result.status in ("optimal", "feasible") else result.status
        why = "; ".join(m for m in (result.message, assignment.message) if m)
        return Outcome(replace(result, status=unassigned, message=why, bound=None), None, None, regions)
    labels = labels_for_reps(problem, result.labels, assignment.rep_of_territory)
    if regions is not None:
        renumbered = np.empty_like(regions)
        renumbered[territory_of_reps(problem)[assignment.rep_of_territory]] = regions
        regions = renumbered
    ev = evaluate(problem, labels)
    status: Status = result.status
    message = result.message
    if status in ("optimal", "feasible") and not ev.feasible:
        status, message = "error", "rep assignment breaks: " + "; ".join(ev.violations[:5])
    # a bound of the design without reps does not bound travel from the reps' homes
    result = replace(
        result, status=status, message=message, labels=labels, objective=ev.objective, bound=None, bound_source=None
    )
    return Outcome(result, ev, problem.rep_of_territories(), regions)
