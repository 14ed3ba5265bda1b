"""Trade-off sweeps for consultants: vary a balance tolerance or the disruption weight, keep
the plans on the balance-vs-disruption frontier."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from engine.evaluate import Evaluation
from engine.problem import Problem
from models import SolveOptions
from solvers.result import Outcome, ProgressCallback
from solvers.solve import solve


@dataclass(frozen=True, eq=False)
class SweepPoint:
    tolerance: float | None
    disruption_weight: float
    outcome: Outcome

    @property
    def evaluation(self) -> Evaluation | None:
        return self.outcome.evaluation

    def _plan(self) -> Evaluation:
        if self.outcome.evaluation is None:
            raise ValueError("this sweep point has no plan")
        return self.outcome.evaluation

    @property
    def feasible(self) -> bool:
        return self.outcome.result.status in ("optimal", "feasible")

    def max_deviation(self, problem: Problem) -> float:
        bal = np.flatnonzero(problem.balanced) if problem.balanced.any() else np.array([0])
        return float(np.abs(self._plan().deviation[:, bal]).max())

    def moved_units(self) -> int:
        return int(self._plan().moved.sum())


def with_tolerance(problem: Problem, measure: str, tolerance: float) -> Problem:
    r = problem.measure_index(measure)
    mean = problem.mean()[r]
    lower, upper, balanced = problem.lower.copy(), problem.upper.copy(), problem.balanced.copy()
    lower[r], upper[r], balanced[r] = mean * (1 - tolerance), mean * (1 + tolerance), True
    return problem.with_(lower=lower, upper=upper, balanced=balanced)


def sweep(
    problem: Problem,
    options: SolveOptions,
    *,
    measure: str = "workload",
    tolerances: list[float] | None = None,
    disruption_weights: list[float] | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> list[SweepPoint]:
    """Solve every (tolerance, weight) combination; the time limit is shared evenly."""
    tolerance_list: list[float | None] = list(tolerances) if tolerances else [None]
    weights = disruption_weights or [problem.disruption_weight]
    combos = [(t, w) for t in tolerance_list for w in weights]
    per = SolveOptions(**{**options.model_dump(), "time_limit_s": options.time_limit_s / len(combos)})
    points = []
    for tol, weight in combos:
        if cancel is not None and cancel.is_set():
            break
        p = problem if tol is None else with_tolerance(problem, measure, tol)
        p = p.with_(disruption_weight=weight)
        points.append(SweepPoint(tol, weight, solve(p, per, on_progress, cancel)))
    return points


def frontier(problem: Problem, points: list[SweepPoint]) -> list[SweepPoint]:
    """Feasible plans not dominated in (max balance deviation, moved units), sorted by deviation."""
    ok = [p for p in points if p.feasible and p.evaluation is not None]
    keyed = sorted(((p.max_deviation(problem), p.moved_units(), p) for p in ok), key=lambda x: (x[0], x[1]))
    keep, seen = [], set()
    for dev, moved, p in keyed:
        dominated = any(d2 <= dev and m2 <= moved and (d2 < dev or m2 < moved) for d2, m2, _ in keyed)
        key = (round(dev, 9), moved)
        if not dominated and key not in seen:
            seen.add(key)
            keep.append(p)
    return keep
