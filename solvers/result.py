"""What every method returns: a solver-neutral result, the verified outcome of `solve()`, and
the progress events a progress bar or the API shows while a solve runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from engine.evaluate import Evaluation
from engine.problem import Problem
from engine.report import to_plan
from engine.tolerance import relative_gap
from models.plan import Plan

Status = Literal["optimal", "feasible", "infeasible", "no_solution", "cancelled", "error"]
StopReason = Literal["converged", "time_limit", "gap_limit", "cancelled", "proved_infeasible", "error"]


@dataclass(frozen=True)
class ProgressEvent:
    """What a progress bar or the API shows while a solve runs."""

    elapsed_s: float
    objective: float | None = None  # best plan so far (feasible, verified where the method can)
    bound: float | None = None  # best lower bound so far
    message: str = ""
    labels: np.ndarray | None = None  # the best plan so far (territory index per unit), when the method has one


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass(frozen=True, eq=False)
class SolveResult:
    """A solver's answer. `labels` is a territory index (0..k-1) per unit; `centers` a unit
    index per territory, or None to let the evaluator pick each territory's best center."""

    status: Status
    stop_reason: StopReason
    method: str
    labels: np.ndarray | None = None
    centers: np.ndarray | None = None
    objective: float | None = None
    bound: float | None = None
    bound_source: str | None = None
    runtime_s: float = 0.0
    message: str | None = None
    details: dict = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        return relative_gap(self.objective, self.bound)


@dataclass(frozen=True, eq=False)
class Outcome:
    """What `solve()` returns: the result, its plan checked by the one evaluator (None without
    a plan), and who serves each territory (reps) and which region it belongs to, when known."""

    result: SolveResult
    evaluation: Evaluation | None
    rep_of_territory: np.ndarray | None = None
    region_of_territory: np.ndarray | None = None

    def region_ids(self, problem: Problem) -> list[str] | None:
        if self.region_of_territory is None:
            return None
        return [f"R{r + 1}" for r in self.region_of_territory]

    def rep_ids(self, problem: Problem) -> list[str | None] | None:
        if self.rep_of_territory is None:
            return None
        return [problem.rep_ids[r] for r in self.rep_of_territory]

    def plan(self, problem: Problem) -> Plan:
        """The plan of the data contract (docs/scenario.md): what the CLI writes and the API stores."""
        r = self.result
        return to_plan(
            problem,
            self.evaluation,
            status=r.status,
            stop_reason=r.stop_reason,
            method=r.method,
            bound=r.bound,
            bound_source=r.bound_source,
            runtime_s=r.runtime_s,
            message=r.message,
            reps=self.rep_ids(problem),
            regions=self.region_ids(problem),
        )
