"""Helpers of the API tests (a helper module, not a test module): scenarios sized for runs,
signed-in TestClients, and submitting and polling runs."""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.testclient import TestClient

from scenarios import repository
from tests.instances import grid_scenario

API = "/api/v1"
ACTIVE = ("queued", "running")


def small_grid() -> dict:
    """4x4 grid, 4 territories of exactly 4 units: solved in well under a second."""
    return grid_scenario(4, 4, 4, balance=[{"measure": "workload", "tolerance": 0.0}])


def new_key(app: FastAPI, tenant: str = "acme") -> str:
    """A new API key for `tenant` in the app's database."""
    with app.state.sessionmaker() as session:
        return repository.create_api_key(session, tenant_name=tenant).key


def signed_in_client(app: FastAPI) -> TestClient:
    """A started TestClient of `app` (lifespan run) sending a new key of tenant acme; the caller
    ends it with `client.__exit__(None, None, None)`."""
    client = TestClient(app)
    client.__enter__()
    client.headers["X-API-Key"] = new_key(app)
    return client


def create_scenario(client, data) -> str:
    """POST the scenario; its id."""
    r = client.post(f"{API}/scenarios", json=data)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def submit_run(client, sid, **body) -> str:
    """Start a heuristic run (10 s unless `body` says otherwise) of scenario `sid`; its id."""
    r = client.post(f"{API}/scenarios/{sid}/runs", json={"method": "heuristic", "time_limit_s": 10, **body})
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "queued"
    return r.json()["id"]


def wait_for(get, run_id: str, until, timeout_s: float = 60.0, every_s: float = 0.2) -> dict:
    """Poll GET /runs/{id} (`get` is client.get) until `until(run)` holds; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = get(f"{API}/runs/{run_id}")
        assert response.status_code == 200, response.text
        run = response.json()
        if until(run):
            return run
        assert time.monotonic() < deadline, f"run did not get there in {timeout_s} s: {run}"
        time.sleep(every_s)


def ended(run: dict) -> bool:
    return run["state"] not in ACTIVE
