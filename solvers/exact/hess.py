"""Exact method: the Hess / p-median territory model with contiguity on a MIP backend.

    solve_exact(problem, options, clock, warm_start=None) -> SolveResult

Backends (options.backend): "scip" (default; lazy separator cuts in a constraint handler)
and "highs" (OR-Tools model_builder, Shirabe single-commodity flow contiguity).

Supported: any number of balanced measures, contiguity on/off, distance power 1/2, locks
(units locked to one territory share a center; different territories never do).
Disruption (disruption_weight, max_moved_share) is not in the model: the plan is
renumbered to keep as many units in their current territory as possible, its objective is
re-evaluated, and "optimal" is only claimed when the compactness bound still proves it; a
plan that then moves more units than max_moved_share allows is "no_solution" (the bound
stands). `auto` therefore runs the heuristic first on capped realignments (it enforces the
cap) and gives this model only the time left (solvers.auto).
"""

from __future__ import annotations

import time

import numpy as np

from engine.evaluate import evaluate
from engine.problem import Problem
from engine.tolerance import IMPROVEMENT_REL
from models.options import SolveOptions
from solvers.clock import Clock, warm_budget
from solvers.exact.hess_data import BackendResult, model_objective, plan_from_centers, prepare_hess, warm_start_centers
from solvers.heuristic.params import HeuristicParams
from solvers.result import SolveResult

BACKENDS = ("scip", "highs")
# The proof keeps this many seconds (or 85 % of a shorter limit); the incumbent phase may take
# up to the warm-start share of the rest (benchmarks/results/tuning.md, "Exact and auto").
PROOF_S = 100.0
PROOF_SHARE_MIN = 0.15
# Re-centering rounds of the incumbent phase take at most this (seconds, share of the limit).
IMPROVE_MAX_S = 60.0
IMPROVE_SHARE = 0.3
# Below this many units the model is solved at once: an incumbent phase costs more than it saves.
INCUMBENT_MIN_UNITS = 12


def solve_exact(
    problem: Problem,
    options: SolveOptions,
    clock: Clock,
    warm_start: np.ndarray | None = None,
    heuristic_params: HeuristicParams | None = None,
) -> SolveResult:
    """The Hess model solved on options.backend; `warm_start` (labels) and, without one, a plan of
    the heuristic (with `heuristic_params`) as the first incumbent."""
    t0 = time.monotonic()
    backend = (options.backend or "scip").lower()
    method = f"exact/{backend}"
    if backend not in BACKENDS:
        return SolveResult(
            "error", "error", method, message=f"unknown exact backend '{backend}'; choose one of {', '.join(BACKENDS)}"
        )

    prep = prepare_hess(problem)
    prep_s = time.monotonic() - t0
    if prep.infeasible:
        return SolveResult(
            "infeasible",
            "proved_infeasible",
            method,
            message=prep.infeasible,
            runtime_s=time.monotonic() - t0,
            details={"backend": backend, "proved_by": "preprocessing"},
        )
    fixed_share = 1.0 - prep.allowed.sum() / prep.allowed.size

    incumbent = None  # center of each unit in the best plan known
    if warm_start is not None:
        incumbent = warm_start_centers(problem, prep, warm_start)
        if incumbent is not None:
            clock.report(model_objective(prep, incumbent), None, "exact: warm start")

    incumbent_phase: dict = {}
    if not clock.should_stop():
        from solvers.exact.incumbent import heuristic_start, improve_centers

        limit = min(options.time_limit_s, clock.remaining())
        if incumbent is None and problem.n > INCUMBENT_MIN_UNITS:
            budget = min(warm_budget(limit), max(PROOF_SHARE_MIN * limit, limit - PROOF_S))
            incumbent = heuristic_start(problem, prep, options, clock, budget_s=budget, params=heuristic_params)
            incumbent_phase["heuristic_start"] = incumbent is not None
        if incumbent is not None and problem.n > INCUMBENT_MIN_UNITS:
            incumbent, info = improve_centers(
                problem, prep, options, clock, incumbent, budget_s=min(IMPROVE_MAX_S, IMPROVE_SHARE * limit)
            )
            incumbent_phase.update(info)

    try:
        if backend == "scip":
            from solvers.exact.hess_scip import solve_scip

            raw = solve_scip(problem, prep, options, clock, incumbent)
        else:
            from solvers.exact.hess_highs import solve_highs

            raw = solve_highs(problem, prep, options, clock, incumbent)
    except Exception as exc:  # a backend failure must not take the caller down
        return SolveResult(
            "error", "error", method, message=f"{backend} backend failed: {exc!r}", runtime_s=time.monotonic() - t0
        )

    details = dict(raw.details)
    details.update(
        prep_s=round(prep_s, 3),
        fixed_share=round(float(fixed_share), 4),
        warm_start_used=incumbent is not None,
        incumbent_phase=incumbent_phase,
    )
    return _finish(problem, prep, options, raw, method, details, time.monotonic() - t0)


def _finish(problem, prep, options, raw: BackendResult, method: str, details: dict, runtime: float) -> SolveResult:
    if raw.center_of is None:
        return SolveResult(
            raw.status,
            raw.stop_reason,
            method,
            bound=raw.bound,
            bound_source=raw.bound_source or None,
            runtime_s=runtime,
            message=raw.message,
            details=details,
        )
    labels, centers = plan_from_centers(problem, prep, raw.center_of)
    ev = evaluate(problem, labels, centers)
    if ev.breaks_only_the_cap:
        # the model has no moved-units cap: its best plan moving too many units is no plan,
        # and its bound (of a relaxation) still holds
        return SolveResult(
            "no_solution",
            raw.stop_reason,
            method,
            bound=raw.bound,
            bound_source=raw.bound_source or None,
            runtime_s=runtime,
            message="the exact model's plan (it has no moved-units cap) breaks " + "; ".join(ev.violations),
            details=details,
        )
    if ev.violations:
        return SolveResult(
            "error",
            "error",
            method,
            bound=raw.bound,
            bound_source=raw.bound_source or None,
            runtime_s=runtime,
            message="exact plan rejected by the evaluator: " + "; ".join(ev.violations[:5]),
            details=details,
        )
    status = raw.status
    bound = raw.bound
    if bound is not None:
        bound = min(bound, ev.objective)  # the model objective of a verified plan never undercuts a valid bound
    if status == "optimal":
        tol = max(options.gap * abs(ev.objective), 1e-6 * max(1.0, abs(ev.objective)) * 1e-3)
        if raw.bound is None or ev.objective - raw.bound > tol + IMPROVEMENT_REL * abs(ev.objective):
            status = "feasible"  # e.g. disruption made the evaluated objective exceed the proven bound
            details["note"] = "optimal for compactness; disruption is not part of the exact model"
    return SolveResult(
        status,
        raw.stop_reason,
        method,
        labels=labels,
        centers=centers,
        objective=ev.objective,
        bound=bound,
        bound_source=raw.bound_source or None,
        runtime_s=runtime,
        message=raw.message,
        details=details,
    )
