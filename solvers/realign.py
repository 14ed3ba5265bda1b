"""Realignment with the heuristic: fewest moves first, then compactness inside the cap.

A realignment starts from the current alignment and moves as few units as possible. Two
forms reach the heuristic:

- "fewest moved units" (`objective.minimize: "moved"`): searched as compactness with every
  move priced above any compactness gain (`fewest_moves_problem`), then evaluated as the
  problem it is (`search_as`).
- a cap on moved units (`disruption.max_moved_share`), the most compact plan within it:
  searching compactness under the cap from the current alignment can stall, because the
  balance repair needs moves that compaction has already spent. So (`solve_capped`):
  1. the fewest moves: the search above with no cap (a plan that restores every rule with
     few moves; not proved minimal, which the exact labelled model does up to a few hundred
     units);
  2. if that plan keeps the cap, compactness within the cap from it (the capped search,
     warm-started with it), the better of the two kept;
  3. if not, the cap is below the fewest moves found: that plan is the answer, flagged, with
     both numbers in the message.

Every result's status, objective and message come from the one evaluation of its final plan
on the problem as stated (`search_as`), never from a search on a modified problem.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.align import align_to_current
from engine.evaluate import Evaluation, evaluate
from engine.problem import Problem
from models import SolveOptions
from solvers.clock import Clock
from solvers.heuristic import HeuristicParams, solve_heuristic
from solvers.heuristic.solve import least_violating_message
from solvers.result import ProgressEvent, SolveResult, Status

# "Fewest moved units first" as a disruption weight that outweighs any compactness difference.
MOVED_WEIGHT = 1e12
# Share of a capped realignment's search time for the fewest-moves phase; it usually converges
# well inside it, and the compactness phase from its plan takes the rest.
FEWEST_SHARE = 0.4


def fewest_moves_problem(problem: Problem) -> Problem:
    """The problem as the heuristic searches for few moves: compactness, every move priced
    above any compactness gain, no cap."""
    return problem.with_(
        minimize="compactness",
        disruption_weight=max(problem.disruption_weight, MOVED_WEIGHT),
        max_moved_share=None,
    )


def search_as(
    problem: Problem,
    searched: Problem,
    options: SolveOptions,
    clock: Clock,
    warm_start: np.ndarray | None = None,
    params: HeuristicParams | None = None,
) -> SolveResult:
    """The heuristic on `searched` (the problem itself, or a form of it), its plan renumbered to
    the current territories and judged on `problem`: status, objective and message from that
    one evaluation."""
    if searched is problem:
        return solve_heuristic(problem, options, clock, warm_start, params)
    quiet = Clock(clock.remaining(), _renumbered_progress(clock, problem), clock.cancel)
    result = solve_heuristic(searched, options, quiet, warm_start, params)
    if result.labels is None:
        return result
    labels = result.labels if problem.rep_centric else align_to_current(problem, result.labels)
    ev = evaluate(problem, labels)
    return _judged(result, ev, problem)


def solve_capped(
    problem: Problem,
    options: SolveOptions,
    clock: Clock,
    warm_start: np.ndarray | None = None,
    params: HeuristicParams | None = None,
) -> SolveResult:
    """A realignment under a cap on moved units (see the module docstring)."""
    cap = problem.moved_cap
    assert cap is not None  # the caller routes capped realignments here
    first = Clock(FEWEST_SHARE * clock.remaining(), clock.on_progress, clock.cancel)
    fewest = search_as(problem, fewest_moves_problem(problem), options, first, warm_start, params)
    moved = _moved(problem, fewest.labels)
    details = {"fewest_moves_found": moved, "moved_cap": cap}
    if fewest.labels is None or clock.should_stop():
        return replace(fewest, details={**fewest.details, **details})
    if moved is not None and moved > cap and evaluate(problem, fewest.labels).breaks_only_the_cap:
        share = problem.max_moved_share
        message = (
            f"max_moved_share {share:g} allows {cap} moved units, but the fewest moves found that keep every "
            f"other rule are {moved}: this plan moves {moved} (the best found)"
        )
        return replace(fewest, status="no_solution", message=message, details={**fewest.details, **details})
    second = Clock(clock.remaining(), clock.on_progress, clock.cancel)
    capped = search_as(problem, problem, options, second, fewest.labels, params)
    best = capped
    if fewest.status == "feasible" and (
        capped.status != "feasible" or capped.objective is None or (fewest.objective or 0.0) < capped.objective
    ):
        best = replace(fewest, stop_reason=capped.stop_reason)
    return replace(best, details={**best.details, **details})


def _judged(result: SolveResult, ev: Evaluation, problem: Problem) -> SolveResult:
    status: Status = "feasible" if ev.feasible else "no_solution"
    return replace(
        result,
        status=status,
        labels=ev.labels,
        centers=ev.centers,
        objective=ev.objective,
        bound=None,
        bound_source=None,
        message=None if ev.feasible else least_violating_message(problem, ev),
        details={} if ev.feasible else {"violations": ev.violations},
    )


def _moved(problem: Problem, labels: np.ndarray | None) -> int | None:
    if labels is None:
        return None
    has = problem.current >= 0
    return int((has & (np.asarray(labels) != problem.current)).sum())


def _renumbered_progress(clock: Clock, problem: Problem):
    """Progress of a search on a form of `problem`: its objective means nothing to the planner
    (it is left out), its plan is renumbered to the current territories."""
    report = clock.on_progress
    if report is None:
        return None

    def forward(event: ProgressEvent) -> None:
        labels = event.labels
        if labels is not None and not problem.rep_centric:
            labels = align_to_current(problem, labels)
        report(replace(event, objective=None, labels=labels, message="realignment: " + event.message))

    return forward
