"""Territories grouped into regions, solved top-down (regions first, then territories inside each).

With R regions of k/R territories each, a region's totals must lie within k/R times the
territory bounds, and each region must be contiguous. The region plan is solved first on
the whole map, then each region is split into its territories independently. This is a
decomposition: a plan it returns is verified feasible but never claimed optimal.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.problem import Problem
from models import SolveOptions
from solvers.clock import Clock
from solvers.result import SolveResult, Status

REGION_TIME_SHARE = 0.3


def region_count(problem: Problem) -> int:
    """The number of regions (the problem must have them)."""
    if not problem.regions:
        raise ValueError("the problem groups its territories into no regions")
    return problem.regions


def region_problem(problem: Problem) -> Problem:
    regions = region_count(problem)
    per = problem.k // regions
    locks = np.where(problem.locks >= 0, problem.locks // per, -1)
    return problem.with_(
        name=f"{problem.name} (regions)",
        k=regions,
        lower=problem.lower * per,
        upper=problem.upper * per,
        territory_ids=region_ids(problem),
        locks=locks,
        current=np.full(problem.n, -1, dtype=np.int64),
        frozen=np.zeros(regions, dtype=bool),  # per region (no current alignment at this level)
        rep_ids=[],
        regions=None,
        max_moved_share=None,
    )


def region_ids(problem: Problem) -> list[str]:
    return [f"R{r + 1}" for r in range(region_count(problem))]


def solve_hierarchy(
    problem: Problem, options: SolveOptions, clock: Clock, solve_one
) -> tuple[SolveResult, np.ndarray | None]:
    """`solve_one(problem, options, clock) -> SolveResult` solves one level (checked and verified).

    Returns the territory-level result and the region index of each territory.
    """
    R, k = region_count(problem), problem.k
    per = k // R
    top = solve_one(
        region_problem(problem),
        options.model_copy(update={"time_limit_s": max(clock.remaining() * REGION_TIME_SHARE, 0.1)}),
        clock,
    )
    if top.labels is None or top.status not in ("optimal", "feasible"):
        msg = f"regions: no feasible split into {R} contiguous, balanced regions ({top.message or top.status})"
        status: Status = "infeasible" if top.status == "infeasible" else "no_solution"
        return replace(top, status=status, method="hierarchy", message=msg, labels=None), None

    labels = np.full(problem.n, -1, dtype=np.int64)
    bounds: list[float] = []
    messages = []
    for r in range(R):
        idx = np.flatnonzero(top.labels == r)
        sub = problem.subproblem(idx, per, name=f"{problem.name} region R{r + 1}")
        locks = problem.locks[idx]
        sub = sub.with_(
            locks=np.where(locks >= 0, locks - r * per, -1),
            territory_ids=[problem.territory_ids[r * per + t] for t in range(per)],
        )
        budget = clock.remaining() / (R - r)
        res = solve_one(sub, options.model_copy(update={"time_limit_s": max(budget, 0.1)}), clock)
        if res.labels is None or res.status not in ("optimal", "feasible"):
            return (
                SolveResult(
                    status="no_solution",
                    stop_reason=res.stop_reason,
                    method="hierarchy",
                    message=f"region R{r + 1}: no feasible split into {per} territories ({res.message or res.status})",
                    runtime_s=clock.elapsed(),
                ),
                None,
            )
        labels[idx] = res.labels + r * per
        if res.bound is not None:
            bounds.append(res.bound)
        if res.message:
            messages.append(f"R{r + 1}: {res.message}")
    region_of_territory = np.repeat(np.arange(R), per)
    return (
        SolveResult(
            status="feasible",
            stop_reason="converged" if not clock.should_stop() else clock.stop_reason(),
            method="hierarchy",
            labels=labels,
            runtime_s=clock.elapsed(),
            message="; ".join(messages) or None,
            # the sum of the regions' bounds bounds this decomposition only, not the whole problem
            details={"region_bounds_sum": sum(bounds) if len(bounds) == R else None},
        ),
        region_of_territory,
    )
