"""End to end over real HTTP: a uvicorn server in a subprocess on a free 127.0.0.1 port (tests/api/server.py).

The second test kills the server with SIGKILL during a solve and restarts it on the same
database: saved scenarios and finished plans are there, the interrupted run is failed, and
the orphaned solver worker has exited by itself. Every test runs on a SQLite file and on a
fresh PostgreSQL database (`database_url`, tests/scenarios/postgres.py).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from scenarios.db import make_engine, make_sessionmaker
from scenarios.tables import Run
from tests.api.helpers import API, ended, small_grid, wait_for
from tests.api.server import Server, api_key_for
from tests.instances import long_points


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


@pytest.fixture
def server(database_url, tmp_path):
    key = api_key_for(database_url)
    srv = Server(database_url, tmp_path / "server.log").start()
    yield srv, key
    srv.stop()


def test_create_solve_poll_plan_compare_cancel_over_http(server):
    srv, key = server
    with httpx.Client(base_url=srv.url, headers={"X-API-Key": key}, timeout=30) as client:
        sid = client.post(f"{API}/scenarios", json=small_grid()).json()["id"]
        runs = []
        for seed in (1, 2):
            r = client.post(
                f"{API}/scenarios/{sid}/runs", json={"method": "heuristic", "time_limit_s": 5, "seed": seed}
            )
            assert r.status_code == 202, r.text
            runs.append(r.json()["id"])
        for rid in runs:
            run = wait_for(client.get, rid, ended)
            assert (run["state"], run["status"]) == ("finished", "feasible"), run
        plan = client.get(f"{API}/runs/{runs[0]}/plan").json()
        assert plan["status"] == "feasible" and len(plan["assignment"]) == 16
        assert client.get(f"{API}/runs/{runs[0]}/plan.csv").text.startswith("id,territory,center,")
        cmp = client.post(f"{API}/compare", json={"run_ids": runs})
        assert cmp.status_code == 200 and set(cmp.json()["kpis"]["objective"]) == set(runs)

        long_sid = client.post(f"{API}/scenarios", json=long_points()).json()["id"]
        rid = client.post(f"{API}/scenarios/{long_sid}/runs", json={"method": "heuristic", "time_limit_s": 60}).json()[
            "id"
        ]
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
    key = api_key_for(database_url)
    first = Server(database_url, tmp_path / "first.log").start()
    try:
        with httpx.Client(base_url=first.url, headers={"X-API-Key": key}, timeout=30) as client:
            sid = client.post(f"{API}/scenarios", json=small_grid()).json()["id"]
            done = client.post(f"{API}/scenarios/{sid}/runs", json={"method": "heuristic", "time_limit_s": 5}).json()[
                "id"
            ]
            assert wait_for(client.get, done, ended)["state"] == "finished"
            plan = client.get(f"{API}/runs/{done}/plan").json()
            long_sid = client.post(f"{API}/scenarios", json=long_points()).json()["id"]
            interrupted = client.post(
                f"{API}/scenarios/{long_sid}/runs", json={"method": "heuristic", "time_limit_s": 60}
            ).json()["id"]
            wait_for(client.get, interrupted, lambda r: r["objective"] is not None, timeout_s=60)
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
            again = client.post(f"{API}/scenarios/{sid}/runs", json={"method": "heuristic", "time_limit_s": 5}).json()[
                "id"
            ]
            assert wait_for(client.get, again, ended)["state"] == "finished"
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
        async with httpx.AsyncClient(
            base_url=srv.url, headers={"X-API-Key": key}, timeout=90, limits=httpx.Limits(max_connections=80)
        ) as c:

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
