"""Brute force over every plan of a tiny instance: the oracle that the exact models and the
bounds are tested against (k^n labellings, so a dozen units at most)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from engine.contiguity import territory_components
from engine.evaluate import evaluate
from engine.problem import Problem
from engine.tolerance import exceeds, falls_short


def _interchangeable(problem: Problem) -> bool:
    """Territories without reps, locks, a current alignment or frozen ones differ only by their
    number: one labelling per partition is enough."""
    return (
        not problem.rep_ids
        and not (problem.locks >= 0).any()
        and not (problem.current >= 0).any()
        and not (problem.frozen is not None and problem.frozen.any())
    )


def _labellings(problem: Problem) -> np.ndarray:
    n, k = problem.n, problem.k
    grid = np.array(list(itertools.product(range(k), repeat=n)), dtype=np.int64).reshape(-1, n)
    if _interchangeable(problem):
        # restricted growth strings: each territory first appears after the ones before it
        reach = np.maximum.accumulate(grid, axis=1)
        canonical = (grid[:, 0] == 0) & (grid[:, 1:] <= reach[:, :-1] + 1).all(axis=1) & (reach[:, -1] == k - 1)
        grid = grid[canonical]
    return grid


def feasible_plans(problem: Problem, rep_of_territory: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Every labelling the evaluator accepts (with reps fixed by `rep_of_territory`, default the
    problem's mapping); interchangeable territories are numbered once per partition."""
    k = problem.k
    grid = _labellings(problem)
    ok = np.ones(len(grid), dtype=bool)
    for r in np.flatnonzero(problem.balanced):  # a cheap filter before the evaluator
        totals = np.stack([(problem.measures[r] * (grid == t)).sum(axis=1) for t in range(k)], axis=1)
        ok &= ~(falls_short(totals, problem.lower[r]) | exceeds(totals, problem.upper[r])).any(axis=1)
    for labels in grid[ok]:
        if problem.contiguity and (territory_components(problem.adj, labels, k) != 1).any():
            continue
        if evaluate(problem, labels, rep_of_territory=rep_of_territory).feasible:
            yield labels


def brute_optimum(
    problem: Problem, rep_of_territory: np.ndarray | None = None
) -> tuple[float | None, np.ndarray | None]:
    """The least objective over every plan the evaluator accepts, and that plan; (None, None)
    when no plan is feasible."""
    best: tuple[float | None, np.ndarray | None] = (None, None)
    for labels in feasible_plans(problem, rep_of_territory):
        objective = evaluate(problem, labels, rep_of_territory=rep_of_territory).objective
        if best[0] is None or objective < best[0]:
            best = (objective, labels)
    return best
