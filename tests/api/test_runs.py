"""Solver runs over HTTP (TestClient): submit, poll, plan exports, SSE, cancel, queue, restart, crash.

Each test gets its own app on a fresh SQLite file, and again on a fresh PostgreSQL database
(`database_url`, tests/scenarios/postgres.py); runs execute in real worker processes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.runs_worker import WORKER_NICE
from api.settings import Settings
from scenarios import repository
from scenarios.db import make_engine, make_sessionmaker, upgrade
from tests.api.helpers import (
    API,
    create_scenario,
    ended,
    signed_in_client,
    small_grid,
    submit_run,
    wait_for,
)
from tests.instances import grid_scenario, long_points


def test_submit_poll_finish_with_a_feasible_plan_and_exports(client):
    sid = create_scenario(client, small_grid())
    rid = submit_run(client, sid, seed=3)
    run = wait_for(client.get, rid, ended, timeout_s=60)
    assert (run["state"], run["status"], run["scenario_version"]) == ("finished", "feasible", 1), run
    assert run["objective"] > 0 and run["elapsed_s"] < 10 and run["finished_at"] is not None

    plan = client.get(f"{API}/runs/{rid}/plan")
    assert plan.status_code == 200 and plan.headers["x-plan-final"] == "true"
    body = plan.json()
    assert body["status"] == "feasible" and body["objective"] == pytest.approx(run["objective"])
    assert len(body["assignment"]) == 16 and body["violations"] == []
    assert sorted(t["kpis"]["units"] for t in body["territories"]) == [4, 4, 4, 4]

    rows = list(csv.DictReader(io.StringIO(client.get(f"{API}/runs/{rid}/plan.csv").text)))
    assert len(rows) == 16 and {r["id"]: r["territory"] for r in rows} == body["assignment"]

    geo = client.get(f"{API}/runs/{rid}/plan.geojson")
    assert geo.headers["content-type"].startswith("application/geo+json")
    features = geo.json()["features"]
    assert geo.json()["type"] == "FeatureCollection" and len(features) == 16
    first = features[0]
    assert first["geometry"] == {"type": "Point", "coordinates": [-90.0, 40.0]}
    assert first["properties"]["territory"] == body["assignment"]["0-0"] and first["properties"]["workload"] == 1.0

    listed = client.get(f"{API}/runs", params={"scenario_id": sid}).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == rid
    assert client.get(f"{API}/runs", params={"scenario_id": "other"}).json()["count"] == 0
    assert client.get(f"{API}/runs", params={"state": "running"}).json()["count"] == 0

    # The event stream of an ended run: its state once, then `end`.
    with client.stream("GET", f"{API}/runs/{rid}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = [line for line in stream.iter_lines() if line.startswith("event:")]
    assert events == ["event: progress", "event: end"]


def test_events_stream_live_progress_until_the_run_ends(client):
    sid = create_scenario(client, small_grid())
    rid = submit_run(client, sid, time_limit_s=5)
    states, last = [], None
    with client.stream("GET", f"{API}/runs/{rid}/events") as stream:
        event = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: ") :])
                states.append(data["state"])
                assert {"elapsed_s", "objective", "bound", "gap", "state", "status"} <= set(data)
                last = (event, data)
    assert last[0] == "end" and last[1]["state"] == "finished" and last[1]["objective"] is not None
    assert states[-1] == "finished" and set(states) <= {"queued", "running", "finished"}


def test_submit_validates_the_body_and_the_scenario(client):
    sid = create_scenario(client, small_grid())
    r = client.post(f"{API}/scenarios/{sid}/runs", json={"method": "fastest"})
    assert r.status_code == 422 and r.json()["detail"].startswith("method: ")
    r = client.post(f"{API}/scenarios/{sid}/runs", json={"time_limit_s": -1})
    assert r.status_code == 422 and r.json()["detail"].startswith("time_limit_s: ")
    r = client.post(f"{API}/scenarios/{sid}/runs", json={"seed": "1"})
    assert r.status_code == 422 and r.json()["detail"].startswith("seed: ")
    r = client.post(f"{API}/scenarios/{sid}/runs", json={"threads": 4})
    assert r.status_code == 422 and r.json()["detail"] == "threads: unknown field (check the spelling)"
    r = client.post(f"{API}/scenarios/{sid}/runs", json={"version": 2})
    assert r.status_code == 404 and r.json()["detail"].startswith("version: ")
    assert client.post(f"{API}/scenarios/nope/runs", json={}).status_code == 404
    assert client.get(f"{API}/runs/nope").status_code == 404
    assert client.get(f"{API}/runs").json()["count"] == 0


def test_a_version_is_solved_as_it_was(client):
    sid = create_scenario(client, grid_scenario(2, 2, 2))
    client.put(f"{API}/scenarios/{sid}", json=small_grid())
    rid = submit_run(client, sid, version=1, time_limit_s=5)
    run = wait_for(client.get, rid, ended)
    assert run["scenario_version"] == 1 and run["state"] == "finished"
    assert len(client.get(f"{API}/runs/{rid}/plan").json()["assignment"]) == 4


def test_cancel_a_long_run_keeps_its_best_plan_and_queued_runs_wait(one_worker):
    client = one_worker
    sid = create_scenario(client, long_points())
    long_run = submit_run(client, sid, time_limit_s=60)
    queued = submit_run(client, sid, time_limit_s=60, seed=1)
    third = submit_run(client, create_scenario(client, small_grid()), time_limit_s=5)
    wait_for(client.get, long_run, lambda r: r["objective"] is not None or ended(r), timeout_s=60)
    assert client.get(f"{API}/runs/{queued}").json()["state"] == "queued"  # one worker: the others wait

    r = client.post(f"{API}/runs/{queued}/cancel")
    assert r.status_code == 200 and r.json()["run"]["state"] == "cancelled" and r.json()["plan"] is None

    r = client.post(f"{API}/runs/{long_run}/cancel")
    assert r.status_code == 200, r.text
    run, plan = r.json()["run"], r.json()["plan"]
    assert run["state"] == "cancelled" and run["status"] == "feasible" and run["stop_reason"] == "cancelled"
    assert run["elapsed_s"] < 50 and run["cancel_requested"] is True
    assert plan["status"] == "feasible" and len(plan["assignment"]) == 1000 and plan["violations"] == []
    assert client.get(f"{API}/runs/{long_run}/plan").json()["objective"] == pytest.approx(run["objective"])
    assert client.post(f"{API}/runs/{long_run}/cancel").json()["run"]["state"] == "cancelled"  # idempotent

    # The slot is free again: the next queued run starts and finishes.
    assert wait_for(client.get, third, ended)["state"] == "finished"


def test_a_worker_that_dies_ends_its_run_failed(client, database_url):
    sid = create_scenario(client, long_points(n=600, k=10))
    rid = submit_run(client, sid, time_limit_s=60)
    wait_for(client.get, rid, lambda r: r["state"] == "running", timeout_s=30)
    engine = make_engine(database_url)
    try:
        pid = None
        while pid is None:
            with make_sessionmaker(engine)() as session:
                pid = repository.get_run(session, tenant_id=1, run_id=rid).worker_pid
    finally:
        engine.dispose()
    # Solves yield the CPU to the API (api.runs_worker.WORKER_NICE).
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICE)
    os.kill(pid, signal.SIGKILL)
    run = wait_for(client.get, rid, ended, timeout_s=20)
    assert run["state"] == "failed" and "exit code -9" in run["message"]


def test_restart_marks_interrupted_runs_failed(database_url):
    """Runs a dead server left queued or running end failed on the next start, keeping their progress."""
    url = database_url
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    from engine.io import parse_scenario

    with sessions() as session:
        key = repository.create_api_key(session, tenant_name="acme")
        tenant = repository.get_or_create_tenant(session, name="acme")
        record = repository.create_scenario(session, tenant_id=tenant.id, scenario=parse_scenario(small_grid()))
        running = repository.create_run(
            session, tenant_id=tenant.id, scenario_id=record.id, method="heuristic", time_limit_s=60, seed=0
        ).id
        queued = repository.create_run(
            session, tenant_id=tenant.id, scenario_id=record.id, method="heuristic", time_limit_s=60, seed=1
        ).id
        assert repository.claim_queued_runs(session, limit=1) == [running]
        assert repository.record_progress(
            session,
            run_id=running,
            elapsed_s=12.5,
            objective=99.0,
            bound=None,
            gap=None,
            message="heuristic: better plan",
        )
    engine.dispose()

    app = create_app(Settings(database_url=url))
    with TestClient(app, headers={"X-API-Key": key.key}) as client:
        for rid in (running, queued):
            run = client.get(f"{API}/runs/{rid}").json()
            assert run["state"] == "failed" and run["message"] == "server stopped during the run", run
        run = client.get(f"{API}/runs/{running}").json()
        assert (run["objective"], run["elapsed_s"], run["status"]) == (99.0, 12.5, "feasible")
        assert client.get(f"{API}/runs", params={"state": "failed"}).json()["count"] == 2


def test_stopping_the_server_ends_its_runs_failed(database_url):
    url = database_url
    app = create_app(Settings(database_url=url))
    client = signed_in_client(app)
    key = client.headers["X-API-Key"]
    sid = create_scenario(client, long_points(n=600, k=10))
    rid = submit_run(client, sid, time_limit_s=60)
    wait_for(client.get, rid, lambda r: r["state"] == "running", timeout_s=30)
    client.__exit__(None, None, None)  # lifespan shutdown: workers asked to stop, then terminated

    with TestClient(create_app(Settings(database_url=url)), headers={"X-API-Key": key}) as client:
        run = client.get(f"{API}/runs/{rid}").json()
        assert run["state"] == "failed" and run["message"].startswith("server stopped during the run"), run


def test_worker_progress_stores_a_best_so_far_plan_when_the_solver_hands_one_over(database_url):
    """Solvers report objective/bound; one that also passes `labels` gets its incumbent stored as the plan."""
    from dataclasses import dataclass

    from api.runs_worker import ProgressWriter
    from engine.io import parse_scenario
    from engine.problem import build_problem

    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        tenant = repository.get_or_create_tenant(session, name="acme")
        record = repository.create_scenario(session, tenant_id=tenant.id, scenario=parse_scenario(small_grid()))
        rid = repository.create_run(
            session, tenant_id=tenant.id, scenario_id=record.id, method="heuristic", time_limit_s=5, seed=0
        ).id
        repository.claim_queued_runs(session, limit=1)

    @dataclass(frozen=True)
    class Event:
        elapsed_s: float
        objective: float | None
        bound: float | None
        message: str
        labels: np.ndarray | None = None

    problem = build_problem(parse_scenario(small_grid()))
    progress = ProgressWriter(sessions, rid, problem, "heuristic")
    try:
        progress(Event(0.5, 120.0, 100.0, "heuristic: better plan", np.repeat(np.arange(4), 4)))
        progress.flush()
    finally:
        progress.close()
    with sessions() as session:
        run = repository.get_run(session, tenant_id=tenant.id, run_id=rid)
        plan = repository.get_plan(session, tenant_id=tenant.id, run_id=rid)
        assert (run.objective, run.bound, run.gap, run.status) == (120.0, 100.0, pytest.approx(20 / 120), "feasible")
        assert plan.final is False and plan.has_assignment and len(plan.data["assignment"]) == 16
        assert plan.data["message"] == "best plan so far"
    engine.dispose()
