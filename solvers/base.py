"""Solver-neutral result, progress and cancellation types shared by every method."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

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

# Share of the time limit (and seconds at most) a warm-start heuristic may take before an
# exact method (auto's warm start, the exact method's own incumbent). It stops by itself
# when it converges, so easy instances lose nothing; cut short on tight tolerances (AL at
# +-0.5 %: 5-10 s gave a plan 32 % above the optimum) the bound never catches up with it.
WARM_SHARE = 0.4
WARM_MAX_S = 40.0


def warm_budget(seconds: float) -> float:
    """Seconds a warm-start heuristic may take out of `seconds`."""
    return min(WARM_SHARE * seconds, WARM_MAX_S)


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
        if self.objective is None or self.bound is None:
            return None
        if self.objective == 0:
            return 0.0
        return max(0.0, (self.objective - self.bound) / abs(self.objective))


class Clock:
    """Elapsed time, the deadline, cancellation and progress, in one object a method carries."""

    def __init__(
        self,
        time_limit_s: float,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.start = time.monotonic()
        self.time_limit_s = time_limit_s
        self.on_progress = on_progress
        self.cancel = cancel

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def remaining(self) -> float:
        return max(0.0, self.time_limit_s - self.elapsed())

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def should_stop(self) -> bool:
        return self.cancelled() or self.remaining() <= 0.0

    def stop_reason(self) -> StopReason:
        return "cancelled" if self.cancelled() else "time_limit"

    def report(
        self, objective: float | None = None, bound: float | None = None, message: str = "", labels: np.ndarray | None = None
    ) -> None:
        if self.on_progress is not None:
            self.on_progress(ProgressEvent(self.elapsed(), objective, bound, message, labels))

    def sub(self, fraction: float) -> "Clock":
        """A clock for a phase that may use `fraction` of the remaining time."""
        c = Clock(self.remaining() * fraction, self.on_progress, self.cancel)
        return c
