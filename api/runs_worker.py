"""The solver worker: one process per run, started by `api.runs.RunManager`.

The worker reads its run's scenario version from the database, solves it with
`solvers.solve.solve`, writes progress (elapsed, objective, bound, a best-so-far plan when
the solver hands one over) at most every PROGRESS_EVERY_S, and the final plan when done.

The server talks to it over a one-way pipe: "cancel" (the user cancelled: stop and keep the
best plan), "stop" (the server shuts down: same, but the run ends failed). End of file on the
pipe means the server died: the worker exits at once and the restarted server marks the run
failed, so a run is never left running by nobody.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection

from engine.evaluate import evaluate
from engine.io import parse_scenario
from engine.problem import Problem, build_problem
from engine.report import to_plan
from engine.tolerance import relative_gap
from models import SolveOptions
from scenarios import repository
from scenarios.db import make_engine, make_sessionmaker
from solvers.result import ProgressEvent
from solvers.solve import solve

PROGRESS_EVERY_S = 1.0
PLAN_EVERY_S = 5.0  # a best-so-far plan is evaluated and stored at most this often
SERVER_STOPPED = "server stopped during the run"
EXIT_ORPHANED = 3
# Nice value of a worker: with the API at 0, the kernel gives the API process about nine tenths
# of a core the two want at once (weights 1024 vs 110), so a solve barely slows requests down.
WORKER_NICE = 10


def plan_dict(plan) -> dict:
    """The stored plan: the plan JSON of the data contract (as `engine.report.plan_json` writes it)."""
    return plan.model_dump(mode="json", exclude_none=True)


class _Control:
    """Listens to the server's pipe on a daemon thread and turns messages into flags."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.cancel = threading.Event()  # handed to the solver
        self.server_stopping = False
        threading.Thread(target=self._listen, name="run-control", daemon=True).start()

    def _listen(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                os._exit(EXIT_ORPHANED)  # the server is gone; its successor marks the run failed
            if message == "stop":
                self.server_stopping = True
                self.cancel.set()
                return  # the server closes the pipe next: that end of file is expected
            if message == "cancel":
                self.cancel.set()


class ProgressWriter:
    """The solver's on_progress: keeps the latest event; a flusher thread writes it at most every PROGRESS_EVERY_S."""

    def __init__(self, sessions, run_id: str, problem: Problem, method: str) -> None:
        self.sessions, self.run_id, self.problem, self.method = sessions, run_id, problem, method
        self.latest: ProgressEvent | None = None
        self.written: ProgressEvent | None = None
        self.last_plan_at = float("-inf")
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._flush_loop, name="run-progress", daemon=True)
        self.thread.start()

    def __call__(self, event: ProgressEvent) -> None:
        self.latest = event  # the solver's thread only swaps a reference

    def _flush_loop(self) -> None:
        while not self.done.wait(PROGRESS_EVERY_S):
            try:
                self.flush()
            except Exception:  # a busy database must not kill the solve; the next flush retries
                traceback.print_exc(file=sys.stderr)

    def flush(self) -> None:
        event = self.latest
        if event is None or event is self.written:
            return
        plan, has_assignment = None, False
        labels = getattr(event, "labels", None)  # solvers may hand over their incumbent
        now = time.monotonic()
        if labels is not None and now - self.last_plan_at >= PLAN_EVERY_S:
            ev = evaluate(self.problem, labels)
            plan = plan_dict(
                to_plan(
                    self.problem,
                    ev,
                    status="feasible" if ev.feasible else "no_solution",
                    method=self.method,
                    bound=event.bound,
                    runtime_s=event.elapsed_s,
                    message="best plan so far",
                )
            )
            has_assignment, self.last_plan_at = True, now
        gap = relative_gap(event.objective, event.bound)
        with self.sessions() as session:
            repository.record_progress(
                session,
                run_id=self.run_id,
                elapsed_s=event.elapsed_s,
                objective=event.objective,
                bound=event.bound,
                gap=gap,
                message=event.message,
                plan=plan,
                has_assignment=has_assignment,
            )
        self.written = event

    def close(self) -> None:
        self.done.set()
        self.thread.join()


def run_in_worker(run_id: str, database_url: str, conn: Connection, threads: int = 1) -> None:
    """Process entry point: solve run `run_id` and store its outcome."""
    _lower_priority()
    control = _Control(conn)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as session:
            job = repository.load_run_job(session, run_id=run_id, worker_pid=os.getpid())
            if job is None:
                return
            if repository.is_cancel_requested(session, run_id=run_id):
                control.cancel.set()
        _solve(job, sessions, control, threads)
    except Exception as e:  # anything unexpected ends the run failed with the reason, never stuck running
        traceback.print_exc(file=sys.stderr)
        with sessions() as session:
            repository.finish_run(
                session,
                run_id=run_id,
                state="failed",
                status="error",
                message=f"internal error in the solver worker: {type(e).__name__}: {e}",
            )
    finally:
        engine.dispose()


def _lower_priority() -> None:
    """Solves yield the CPU to the API: a busy server answers requests first, solves use what is left."""
    try:
        os.nice(WORKER_NICE)
    except (AttributeError, OSError):  # not on this platform, or not allowed: solve at normal priority
        pass


def _solve(job: repository.RunJob, sessions, control: _Control, threads: int) -> None:
    problem = build_problem(parse_scenario(job.scenario))
    options = SolveOptions(method=job.method, time_limit_s=job.time_limit_s, seed=job.seed, threads=threads)
    progress = ProgressWriter(sessions, job.run_id, problem, job.method)
    try:
        outcome = solve(problem, options, progress, control.cancel)
    finally:
        progress.close()
    r = outcome.result
    plan = outcome.plan(problem)
    message: str | None
    if control.server_stopping:
        state, message = (
            "failed",
            SERVER_STOPPED + (" (the best plan found is kept)" if outcome.evaluation is not None else ""),
        )
    elif control.cancel.is_set():
        state, message = "cancelled", r.message
    else:
        state, message = "finished", r.message
    with sessions() as session:
        repository.finish_run(
            session,
            run_id=job.run_id,
            state=state,
            status=plan.status,
            stop_reason=plan.stop_reason,
            objective=plan.objective,
            bound=plan.bound,
            gap=plan.gap,
            elapsed_s=r.runtime_s,
            message=message,
            plan=plan_dict(plan),
            has_assignment=outcome.evaluation is not None,
        )
