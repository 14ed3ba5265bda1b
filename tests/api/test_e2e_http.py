"""End to end over real HTTP: a uvicorn server in a subprocess on a free 127.0.0.1 port.

The second test kills the server with SIGKILL during a solve and restarts it on the same
database: saved scenarios and finished plans are there, the interrupted run is failed, and
the orphaned solver worker has exited by itself. Every test runs on a SQLite file and on a
fresh PostgreSQL database (`database_url`, tests/scenarios/postgres.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from scenarios import repository
from scenarios.db import make_engine, make_sessionmaker, upgrade
from scenarios.tables import Run
from tests.api.test_runs import API, long_points, small_grid
from tests.instances import REPO


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`uvicorn api.app:create_app --factory` on 127.0.0.1 with TERRITORIA_* settings from the environment."""

    def __init__(self, database_url: str, log: Path, max_workers: int = 2) -> None:
        self.database_url, self.log_path, self.max_workers = database_url, log, max_workers
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> "Server":
        env = {**os.environ, "TERRITORIA_DATABASE_URL": self.database_url, "TERRITORIA_MAX_WORKERS": str(self.max_workers)}
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"server exited: {self.log_path.read_text()[-2000:]}"
            try:
                if httpx.get(f"{self.url}{API}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not start in {timeout_s} s: {self.log_path.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


def _api_key(database_url: str) -> str:
    """A key for tenant 'acme' in the database, migrated first."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with make_sessionmaker(engine)() as session:
            return repository.create_api_key(session, tenant_name="acme").key
    finally:
        engine.dispose()


def _worker_pid(database_url: str, run_id: str, timeout_s: float = 20.0) -> int:
    engine = make_engine(database_url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with make_sessionmaker(engine)() as session:
                row = session.scalar(select(Run.worker_pid).where(Run.id == run_id))
            if row:
                return row
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise AssertionError("the worker never recorded its pid")


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie waiting for its reaper has exited


def _poll(client: httpx.Client, run_id: str, until, timeout_s: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        run = client.get(f"{API}/runs/{run_id}").json()
        if until(run):
            return run
        assert time.monotonic() < deadline, f"timed out: {run}"
        time.sleep(0.2)


def _ended(run: dict) -> bool:
    return run["state"] not in ("queued", "running")


@pytest.fixture
def server(database_url, tmp_path):
    key = _api_key(database_url)
    srv = Server(database_url, tmp_path / "server.log").start()
    yield srv, key
    srv.stop()


def test_create_solve_poll_plan_compare_cancel_over_http(server):
    srv, key = server
    with httpx.Client(base_url=srv.url, headers={"X-API-Key": key}, timeout=30) as client:
        sid = client.post(f"{API}/scenarios", json=small_grid()).json()["id"]
        runs = []
        for seed in (1, 2):
            r = client.post(f"{API}/scenarios/{sid}/runs", json={"method": "heuristic", "time_limit_s": 5, "seed": seed})
            assert r.status_code == 202, r.text
            runs.append(r.json()["id"])
        for rid in runs:
            run = _poll(client, rid, _ended)
            assert (run["state"], run["status"]) == ("finished", "feasible"), run
        plan = client.get(f"{API}/runs/{runs[0]}/plan").json()
        assert plan["status"] == "feasible" and len(plan["assignment"]) == 16
        assert client.get(f"{API}/runs/{runs[0]}/plan.csv").text.startswith("id,territory,center,")
        cmp = client.post(f"{API}/compare", json={"run_ids": runs})
        assert cmp.status_code == 200 and set(cmp.json()["kpis"]["objective"]) == set(runs)

        long_sid = client.post(f"{API}/scenarios", json=long_points()).json()["id"]
        rid = client.post(f"{API}/scenarios/{long_sid}/runs", json={"method": "heuristic", "time_limit_s": 60}).json()["id"]
        with client.stream("GET", f"{API}/runs/{rid}/events") as stream:  # live progress until a plan exists
            for line in stream.iter_lines():
                if line.startswith("data: ") and '"objective": null' not in line:
                    break
        r = client.post(f"{API}/runs/{rid}/cancel")
        assert r.status_code == 200, r.text
        assert r.json()["run"]["state"] == "cancelled" and r.json()["plan"]["status"] == "feasible"
        assert len(client.get(f"{API}/runs/{rid}/plan").json()["assignment"]) == 1000


@pytest.mark.slow
def test_kill_9_during_a_solve_then_restart_keeps_data_and_fails_the_run(database_url, tmp_path):
    key = _api_key(database_url)
    first = Server(database_url, tmp_path / "first.log").start()
    try:
        with httpx.Client(base_url=first.url, headers={"X-API-Key": key}, timeout=30) as client:
            sid = client.post(f"{API}/scenarios", json=small_grid()).json()["id"]
            done = client.post(f"{API}/scenarios/{sid}/runs", json={"method": "heuristic", "time_limit_s": 5}).json()["id"]
            assert _poll(client, done, _ended)["state"] == "finished"
            plan = client.get(f"{API}/runs/{done}/plan").json()
            long_sid = client.post(f"{API}/scenarios", json=long_points()).json()["id"]
            interrupted = client.post(f"{API}/scenarios/{long_sid}/runs", json={"method": "heuristic", "time_limit_s": 60}).json()["id"]
            _poll(client, interrupted, lambda r: r["objective"] is not None, timeout_s=60)
            pid = _worker_pid(database_url, interrupted)
        first.stop(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), "the orphaned solver worker kept running after its server died"
    finally:
        first.stop()

    second = Server(database_url, tmp_path / "second.log").start()
    try:
        with httpx.Client(base_url=second.url, headers={"X-API-Key": key}, timeout=30) as client:
            assert client.get(f"{API}/scenarios/{sid}").json()["scenario"] == small_grid()
            assert client.get(f"{API}/runs/{done}").json()["state"] == "finished"
            assert client.get(f"{API}/runs/{done}/plan").json() == plan
            run = client.get(f"{API}/runs/{interrupted}").json()
            assert run["state"] == "failed" and run["message"] == "server stopped during the run", run
            assert run["objective"] is not None  # the last progress written before the crash
            # The restarted server solves again.
            again = client.post(f"{API}/scenarios/{sid}/runs", json={"method": "heuristic", "time_limit_s": 5}).json()["id"]
            assert _poll(client, again, _ended)["state"] == "finished"
    finally:
        second.stop()


def test_many_concurrent_clients_never_stall_the_server(server):
    """More concurrent requests than pooled database connections: every one is answered.

    Regression: the key lookup ran on the event loop and kept its connection, so 50 clients
    exhausted the pool and the loop blocked on it for 30 s.
    """
    import asyncio

    srv, key = server
    with httpx.Client(base_url=srv.url, headers={"X-API-Key": key}, timeout=30) as client:
        sid = client.post(f"{API}/scenarios", json=small_grid()).json()["id"]

    async def hammer() -> list[int]:
        # generous per-request timeout: a cold or loaded CI machine is slow; the stall this
        # guards against shows as 500s (pool timeouts after 30 s), not as slowness alone
        async with httpx.AsyncClient(base_url=srv.url, headers={"X-API-Key": key}, timeout=90,
                                     limits=httpx.Limits(max_connections=80)) as c:
            async def one() -> int:
                codes = []
                for _ in range(5):
                    codes.append((await c.get(f"{API}/scenarios/{sid}")).status_code)
                return codes

            return [code for codes in await asyncio.gather(*(one() for _ in range(80))) for code in codes]

    started = time.monotonic()
    codes = asyncio.run(hammer())
    assert codes.count(200) == 400, sorted(set(codes))
    assert time.monotonic() - started < 120
