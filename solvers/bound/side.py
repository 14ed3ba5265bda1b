"""The lower bound computed beside the heuristic, in a process of its own (the second core).

At tens of thousands of units the Lagrangian bound (solvers/bound.py) needs far more time
than the share a solve used to leave it after the search (15 %: 9 s of 60), and the search
itself is one Python thread. So with two cores to use (SolveOptions.threads >= 2 and the
machine has them) the bound runs in a child process for the whole solve while the search
runs at full speed:

    side = SideBound.start(problem, deadline)   # None when not worth it or not possible
    ...                                         # the heuristic
    result = side.finish(stop=True)             # BoundResult | None

The child is this module run as a script (`python -m solvers.bound.side`, so a daemonic API
worker may start it too); it reads the pickled problem and an absolute time.monotonic()
deadline from its stdin, then lines "upper <objective>" as the search finds better plans
(they steer the ascent's steps: on 100,000 units / 500, 90 s, 60.7 M without, 64.0 M with
the plan's objective), and writes one JSON line, the bound, when its ascent ends. Closing
its stdin asks it to stop at once and write what it has; when the parent dies, the closed
pipe stops it the same way and its write fails, so it never outlives the solve by more
than one step of the ascent. When it gives no bound, SideBound.error says why (the last line
of its stderr, kept in a temporary file). The ascent starts without the plan (on 20,000 US places, k =
20, 25 s: 43.87 M without it, 43.48 M from it), so the child starts with the search.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time

from engine.problem import Problem
from solvers.bound.lagrangian import BoundResult

# Below this many seconds for the bound a child process (1-2 s to start) is not worth it.
MIN_SECONDS = 10.0
# Stop the ascent this long before the deadline: its last exact evaluation and the reply.
_MARGIN_S = 1.0
# The child has the whole solve: its steps end by convergence or the clock, not a count.
_MAX_ITER = 1_000_000


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class SideBound:
    def __init__(self, proc: subprocess.Popen, err) -> None:
        self._proc = proc
        self._err = err  # the child's stderr (a temporary file)
        self.error: str | None = None  # why the child gave no bound, when it failed
        self._upper: float | None = None
        self._reply: list[str] = []
        self._reader = threading.Thread(target=self._read, name="side-bound", daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, problem: Problem, deadline: float) -> SideBound | None:
        """A child computing the bound until `deadline` (time.monotonic()), or None when it
        cannot start."""
        try:
            err = tempfile.TemporaryFile()
            proc = subprocess.Popen(
                [sys.executable, "-m", "solvers.bound.side"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
            )
            pickle.dump((problem, deadline), proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            proc.stdin.flush()
        except (OSError, pickle.PicklingError, ValueError):
            return None
        return cls(proc, err)

    def _read(self) -> None:
        try:
            self._reply.extend(self._proc.stdout.read().decode().splitlines())
        except (OSError, ValueError):
            pass

    def offer(self, objective: float | None) -> None:
        """A plan's objective: the child's steps aim at the best one."""
        if objective is None or (self._upper is not None and objective >= self._upper):
            return
        self._upper = float(objective)
        try:
            self._proc.stdin.write(f"upper {self._upper!r}\n".encode())
            self._proc.stdin.flush()
        except (OSError, ValueError):  # the child has ended
            pass

    def finish(self, stop: bool, wait_s: float, cancel: threading.Event | None = None) -> BoundResult | None:
        """The child's bound. stop: ask it to stop now (the search used the time); else let it
        run to its deadline, waiting at most wait_s (or until `cancel` is set) before asking.
        A child that does not answer within _MARGIN_S of being asked is killed."""
        if stop:
            self._close_stdin()
        end = time.monotonic() + max(0.0, wait_s)
        while self._reader.is_alive() and time.monotonic() < end:
            if cancel is not None and cancel.is_set():
                break
            self._reader.join(timeout=min(0.2, max(0.0, end - time.monotonic())))
        if self._reader.is_alive():
            self._close_stdin()
            self._reader.join(timeout=_MARGIN_S)
        if self._reader.is_alive() or self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        result = self._answer()
        if result is None:
            self.error = self._last_error()
        self._err.close()
        return result

    def _answer(self) -> BoundResult | None:
        for line in reversed(self._reply):
            try:
                d = json.loads(line)
                return BoundResult(float(d["bound"]), str(d["source"]), int(d["iterations"]), float(d["runtime_s"]))
            except (ValueError, KeyError, TypeError):
                continue
        return None

    def _last_error(self) -> str | None:
        """The last line the child wrote to stderr (a traceback's exception), or its exit code."""
        try:
            self._err.seek(0)
            lines = self._err.read()[-4000:].decode(errors="replace").strip().splitlines()
        except (OSError, ValueError):
            lines = []
        code = self._proc.returncode
        if lines:
            return lines[-1]
        return None if code in (0, None) or code < 0 else f"bound process exited with code {code}"

    def cancel(self) -> None:
        self._close_stdin()
        self._proc.kill()
        self._proc.wait()
        self._err.close()

    def _close_stdin(self) -> None:
        try:
            self._proc.stdin.close()
        except OSError:
            pass


def _leave_one_core() -> None:
    """Keep this process (its KD-tree workers and BLAS threads too) off one of the cores, so
    the search beside it keeps a core of its own. Building the lists on both cores slowed the
    search at its start: 20,000 US places, k = 100, 60 s, the first plan came at 15 s instead
    of 11.5 s (the search alone: 9-10 s)."""
    if not hasattr(os, "sched_setaffinity"):
        return
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        os.sched_setaffinity(0, cpus[1:])


def _child() -> None:
    from solvers.clock import Clock
    from solvers.bound.lagrangian import lagrangian_bound

    problem, deadline = pickle.load(sys.stdin.buffer)
    _leave_one_core()
    stop = threading.Event()
    best: list[float | None] = [None]

    def watch() -> None:  # plans' objectives, until the parent closes our stdin (stop now) or dies
        for line in sys.stdin.buffer:
            word, _, value = line.decode(errors="replace").partition(" ")
            if word == "upper":
                try:
                    best[0] = float(value)
                except ValueError:
                    pass
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    clock = Clock(max(0.0, deadline - _MARGIN_S - time.monotonic()), None, stop)
    res = lagrangian_bound(problem, clock, upper=lambda: best[0], max_iter=_MAX_ITER)
    if res is not None:
        sys.stdout.write(json.dumps({"bound": res.bound, "source": res.source, "iterations": res.iterations,
                                     "runtime_s": res.runtime_s}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    # os._exit: the stdin watcher is a daemon thread blocked in a read, which an ordinary
    # interpreter shutdown aborts on ("could not acquire lock for <stdin>")
    try:
        _child()
    except BaseException as exc:  # the parent shows this line (SideBound.error)
        sys.stderr.write(f"bound process failed: {type(exc).__name__}: {exc}\n")
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)
