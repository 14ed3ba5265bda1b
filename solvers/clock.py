"""Elapsed time, the deadline, cancellation and progress, in one object every method carries;
and the watcher that stops a native solve (SCIP, HiGHS) when the run is cancelled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from solvers.result import ProgressCallback, ProgressEvent, StopReason

# Share of the time limit (and seconds at most) a warm-start heuristic may take before an
# exact method (auto's warm start, the exact method's own incumbent): it stops by itself when
# it converges, and cut short on tight tolerances the bound never catches up with it
# (benchmarks/results/tuning.md).
WARM_SHARE = 0.4
WARM_MAX_S = 40.0
# How often a native solve's watcher looks at the cancel flag.
CANCEL_POLL_S = 0.1


def warm_budget(seconds: float) -> float:
    """Seconds a warm-start heuristic may take out of `seconds`."""
    return min(WARM_SHARE * seconds, WARM_MAX_S)


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
        self,
        objective: float | None = None,
        bound: float | None = None,
        message: str = "",
        labels: np.ndarray | None = None,
    ) -> None:
        if self.on_progress is not None:
            self.on_progress(ProgressEvent(self.elapsed(), objective, bound, message, labels))

    def sub(self, fraction: float) -> Clock:
        """A clock for a phase that may use `fraction` of the remaining time."""
        return Clock(self.remaining() * fraction, self.on_progress, self.cancel)


@contextmanager
def stop_on_cancel(clock: Clock, stop: Callable[[], None]) -> Iterator[None]:
    """Call `stop()` (a native solver's interrupt) once the clock's run is cancelled, while the
    body runs: a native solve holds no Python callback that could look at the flag itself
    (SCIP's presolve or a long LP, HiGHS through model_builder)."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(CANCEL_POLL_S):
            if clock.cancelled():
                stop()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
