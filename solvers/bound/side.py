"""The lower bound computed beside the heuristic, in a process of its own (the second core).

At tens of thousands of units the Lagrangian bound (lagrangian.py) needs far more time than
the share a solve leaves it after the search (BoundParams.after_share), and the search itself
is one Python thread. So with two cores to use (SolveOptions.threads >= 2 and the
machine has them) the bound runs in a child process for the whole solve while the search
runs at full speed:

    side = SideBound.start(problem, deadline, params)   # None when it cannot start
    ...                                                 # the heuristic
    result = side.finish(stop=True, wait_s=0.0)         # BoundResult | None

The child is this module run as a script (`python -m solvers.bound.side`, so a daemonic API
worker may start it too); it reads the pickled problem, an absolute time.monotonic()
deadline and the BoundParams from its stdin, then lines "upper <objective>" as the search
finds better plans (they steer the ascent's steps, for a tighter bound), and writes one JSON
line, the bound, when its ascent ends. Closing its stdin asks it to stop at once and write
what it has; when the parent dies, the closed pipe stops it the same way and its write
fails, so it never outlives the solve by more than one step of the ascent. When it gives no
bound, SideBound.error says why (the last line of its stderr, kept in a temporary file). The
ascent starts without the plan (which does not make it tighter at scale), so the child
starts with the search. Measurements behind both choices: benchmarks/results/tuning.md,
"Bound".
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
from typing import IO

from engine.problem import Problem
from solvers.bound.lagrangian import BoundResult
from solvers.bound.params import BoundParams


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class SideBound:
    def __init__(self, proc: subprocess.Popen, err, params: BoundParams | None = None) -> None:
        self._proc = proc
        self._err = err  # the child's stderr (a temporary file)
        self._margin_s = (BoundParams() if params is None else params).side_margin_s
        self.error: str | None = None  # why the child gave no bound, when it failed
        self._upper: float | None = None
        self._reply: list[str] = []
        self._reader = threading.Thread(target=self._read, name="side-bound", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        """The child process is still running."""
        return self._proc.poll() is None

    @property
    def upper(self) -> float | None:
        """The best plan objective offered to the child so far (it steers the child's steps)."""
        return self._upper

    @classmethod
    def start(cls, problem: Problem, deadline: float, params: BoundParams | None = None) -> SideBound | None:
        """A child computing the bound with `params` (the defaults when None) until `deadline`
        (time.monotonic()), or None when it cannot start."""
        params = BoundParams() if params is None else params
        try:
            err = tempfile.TemporaryFile()
            proc = subprocess.Popen(
                [sys.executable, "-m", "solvers.bound.side"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
            )
            assert proc.stdin is not None  # opened with PIPE
            pickle.dump((problem, deadline, params), proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            proc.stdin.flush()
        except (OSError, pickle.PicklingError, ValueError):
            return None
        return cls(proc, err, params)

    @staticmethod
    def _pipe(stream: IO[bytes] | None) -> IO[bytes]:
        assert stream is not None  # the child's stdin and stdout are pipes
        return stream

    def _read(self) -> None:
        try:
            self._reply.extend(self._pipe(self._proc.stdout).read().decode().splitlines())
        except (OSError, ValueError):
            pass

    def offer(self, objective: float | None) -> None:
        """A plan's objective: the child's steps aim at the best one."""
        if objective is None or (self._upper is not None and objective >= self._upper):
            return
        self._upper = float(objective)
        try:
            stdin = self._pipe(self._proc.stdin)
            stdin.write(f"upper {self._upper!r}\n".encode())
            stdin.flush()
        except (OSError, ValueError):  # the child has ended
            pass

    def finish(self, stop: bool, wait_s: float, cancel: threading.Event | None = None) -> BoundResult | None:
        """The child's bound. stop: ask it to stop now (the search used the time); else let it
        run to its deadline, waiting at most wait_s (or until `cancel` is set) before asking.
        A child that does not answer within params.side_margin_s of being asked is killed."""
        if stop:
            self._close_stdin()
        end = time.monotonic() + max(0.0, wait_s)
        while self._reader.is_alive() and time.monotonic() < end:
            if cancel is not None and cancel.is_set():
                break
            self._reader.join(timeout=min(0.2, max(0.0, end - time.monotonic())))
        if self._reader.is_alive():
            self._close_stdin()
            self._reader.join(timeout=self._margin_s)
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
            self._pipe(self._proc.stdin).close()
        except OSError:
            pass


def _leave_one_core() -> None:
    """Keep this process (its KD-tree workers and BLAS threads too) off one of the cores, so
    the search beside it keeps a core of its own: building the lists on both cores delayed
    the search's first plan (benchmarks/results/tuning.md, "Bound")."""
    if not hasattr(os, "sched_setaffinity"):
        return
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        os.sched_setaffinity(0, cpus[1:])


def _child() -> None:
    from solvers.bound.lagrangian import lagrangian_bound
    from solvers.clock import Clock

    problem, deadline, params = pickle.load(sys.stdin.buffer)
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
    # stop params.side_margin_s before the deadline: the last exact evaluation and the reply;
    # the child has the whole solve: its steps end by convergence or the clock, not a count
    clock = Clock(max(0.0, deadline - params.side_margin_s - time.monotonic()), None, stop)
    res = lagrangian_bound(problem, clock, upper=lambda: best[0], max_iter=params.side_max_iter, params=params)
    if res is not None:
        sys.stdout.write(
            json.dumps(
                {"bound": res.bound, "source": res.source, "iterations": res.iterations, "runtime_s": res.runtime_s}
            )
            + "\n"
        )
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
