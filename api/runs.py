"""The run manager: solver runs in worker processes, at most `max_workers` at once, the rest queued.

The queue is the database: a submitted run is a `queued` row; a supervisor thread claims the
oldest queued runs while a worker slot is free and starts one process per run
(`api.runs_worker.run_in_worker`) from a `forkserver` (never `fork` from the threaded
server), which preloads numpy, the solvers and the bound's compiled kernels
(api.worker_preload) so a run starts in milliseconds. Workers write their own progress and
result; the supervisor reaps processes that ended, and ends a run whose worker died without
a result.

Created and shut down in the app's lifespan (`create_app`), never at import. On start, runs
left queued or running by a previous server are marked failed. One API process per database:
a second server on the same file would mark the first one's runs failed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from api.runs_worker import SERVER_STOPPED, run_in_worker
from scenarios import repository

log = logging.getLogger("territoria.runs")

_PRELOAD = ["api.worker_preload"]  # numpy, scipy, the engine, the solvers and the bound's kernels, once


@dataclass
class _Worker:
    run_id: str
    process: multiprocessing.process.BaseProcess
    conn: Connection
    cancel_sent_at: float | None = None
    started_at: float = field(default_factory=time.monotonic)


class RunManager:
    """Starts, cancels and supervises solver runs; see the module docstring."""

    def __init__(
        self,
        *,
        database_url: str,
        sessions: sessionmaker[Session],
        max_workers: int,
        start_method: str = "forkserver",
        cancel_grace_s: float = 30.0,
        poll_s: float = 0.5,
    ) -> None:
        if start_method == "fork":
            raise ValueError("start_method: 'fork' is unsafe from a threaded server; use 'forkserver' or 'spawn'")
        self.database_url = database_url
        self.sessions = sessions
        self.max_workers = max_workers
        self.cancel_grace_s = cancel_grace_s
        self.poll_s = poll_s
        self.threads_per_run = max(1, (os.cpu_count() or 1) // max_workers)
        self._ctx: Any = multiprocessing.get_context(start_method)  # a context has Process and Pipe
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(_PRELOAD)
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> int:
        """Mark runs a previous server left active as failed, then start supervising; returns how many were marked."""
        with self.sessions() as session:
            interrupted = repository.fail_active_runs(session, message=SERVER_STOPPED)
        if interrupted:
            log.warning("marked %d interrupted run(s) failed: %s", interrupted, SERVER_STOPPED)
        self._thread = threading.Thread(target=self._supervise, name="run-manager", daemon=True)
        self._thread.start()
        return interrupted

    def shutdown(self, grace_s: float = 3.0) -> None:
        """Stop supervising; ask running workers to stop, then terminate them; their runs end failed."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        for w in workers:
            self._send(w, "stop")
        deadline = time.monotonic() + grace_s
        for w in workers:
            w.process.join(max(0.0, deadline - time.monotonic()))
        for w in workers:
            if w.process.is_alive():
                w.process.kill()
                w.process.join(2)
            w.conn.close()
        if workers:
            with self.sessions() as session:
                for w in workers:
                    repository.end_run_if_active(session, run_id=w.run_id, state="failed", message=SERVER_STOPPED)

    # -- requests ----------------------------------------------------------------------------

    def submitted(self) -> None:
        """A run was queued: look for a free slot now rather than at the next poll."""
        self._wake.set()

    def cancel(self, run_id: str) -> None:
        """Tell the run's worker to stop and keep its best plan (the database flag is set by the caller)."""
        with self._lock:
            w = self._workers.get(run_id)
            if w is not None and w.cancel_sent_at is None:
                w.cancel_sent_at = time.monotonic()
                self._send(w, "cancel")
        self._wake.set()

    def running_ids(self) -> list[str]:
        with self._lock:
            return list(self._workers)

    # -- supervisor --------------------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self._reap()
                self._fill()
            except Exception:  # e.g. the database busy for longer than its timeout: retry at the next poll
                log.exception("run manager: supervision step failed")

    def _reap(self) -> None:
        now = time.monotonic()
        ended: list[_Worker] = []
        with self._lock:
            for run_id, w in list(self._workers.items()):
                if not w.process.is_alive():
                    ended.append(self._workers.pop(run_id))
                elif w.cancel_sent_at is not None and now - w.cancel_sent_at > self.cancel_grace_s:
                    log.warning("run %s ignored cancel for %.0f s: killing its worker", run_id, self.cancel_grace_s)
                    w.process.kill()
        for w in ended:
            w.process.join()
            w.conn.close()
            code = w.process.exitcode
            state = "cancelled" if w.cancel_sent_at is not None else "failed"
            why = (
                "stopped by force after cancel"
                if code and code < 0 and state == "cancelled"
                else f"the solver worker ended without a result (exit code {code})"
            )
            with self.sessions() as session:
                if repository.end_run_if_active(session, run_id=w.run_id, state=state, message=why):
                    log.error("run %s: %s", w.run_id, why)

    def _fill(self) -> None:
        with self._lock:  # held across claim and start, so a cancel never misses a just-started worker
            free = self.max_workers - len(self._workers)
            if free <= 0:
                return
            with self.sessions() as session:
                claimed = repository.claim_queued_runs(session, limit=free)
            for run_id in claimed:
                try:
                    self._workers[run_id] = self._launch(run_id)
                except Exception as e:
                    log.exception("run %s: could not start a worker", run_id)
                    with self.sessions() as session:
                        repository.end_run_if_active(
                            session, run_id=run_id, state="failed", message=f"could not start a solver worker: {e}"
                        )

    def _launch(self, run_id: str) -> _Worker:
        reader, writer = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=run_in_worker,
            args=(run_id, self.database_url, reader, self.threads_per_run),
            name=f"territoria-run-{run_id[:8]}",
            daemon=True,
        )
        process.start()
        reader.close()  # only the worker holds the read end: when this process dies, the worker sees end of file
        return _Worker(run_id=run_id, process=process, conn=writer)

    @staticmethod
    def _send(w: _Worker, message: str) -> None:
        try:
            w.conn.send(message)
        except (OSError, ValueError):  # the worker already exited
            pass
