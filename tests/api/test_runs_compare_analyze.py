"""Comparing runs, analyzing hand-edited plans, and tenant isolation of runs over HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.api.helpers import API, ended, new_key, small_grid, wait_for
from tests.instances import grid_scenario


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """One app for the module; tenants acme and other; two finished runs of the 4x4 grid (seeds 1, 2)."""
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('cmp') / 'api.db'}"))
    with TestClient(app) as client:
        keys = {name: new_key(app, name) for name in ("acme", "other")}
        client.headers["X-API-Key"] = keys["acme"]
        sid = client.post(f"{API}/scenarios", json=small_grid()).json()["id"]
        runs = [
            client.post(
                f"{API}/scenarios/{sid}/runs", json={"method": "heuristic", "time_limit_s": 5, "seed": s}
            ).json()["id"]
            for s in (1, 2)
        ]
        for rid in runs:
            assert wait_for(client.get, rid, ended)["state"] == "finished"
        yield {"client": client, "keys": keys, "sid": sid, "runs": runs}


def test_compare_two_runs_side_by_side_with_deltas_and_unit_moves(service):
    client, (a, b) = service["client"], service["runs"]
    r = client.post(f"{API}/compare", json={"run_ids": [a, b]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["base_run"] == a and body["scenario_id"] == service["sid"] and body["matched_territories"] is True
    assert [x["id"] for x in body["runs"]] == [a, b]
    assert set(body["kpis"]["max_workload_dev"]) == {a, b} and set(body["kpis"]["objective"]) == {a, b}
    assert len(body["territories"]) == 4
    for t in body["territories"]:
        assert t["runs"][a]["units"] == 4 and t["deltas"][b]["units"] == 0  # both plans are exactly balanced
    (diff,) = body["diffs"]
    assert diff["run"] == b and diff["against"] == a and diff["moved_units"] == len(diff["units"])
    assert diff["moved"]["workload"] == pytest.approx(sum(u["workload"] for u in diff["units"]))
    assert sum(f["units"] for f in diff["flows"]) == diff["moved_units"]

    # Without matching, territory ids are compared as they are.
    raw = client.post(f"{API}/compare", json={"run_ids": [a, b], "match_territories": False}).json()
    assert raw["matched_territories"] is False and raw["diffs"][0]["moved_units"] >= diff["moved_units"]

    # Diffed the other way round, as many units move.
    same = client.post(f"{API}/compare", json={"run_ids": [b, a]}).json()
    assert same["diffs"][0]["moved_units"] == diff["moved_units"]


def test_compare_rejects_bad_sets_of_runs(service):
    client, (a, _) = service["client"], service["runs"]
    r = client.post(f"{API}/compare", json={"run_ids": [a]})
    assert r.status_code == 422 and r.json()["detail"].startswith("run_ids: ")
    r = client.post(f"{API}/compare", json={"run_ids": [a, a]})
    assert r.status_code == 422 and "given twice" in r.json()["detail"]
    r = client.post(f"{API}/compare", json={"run_ids": [a, "nope"]})
    assert r.status_code == 404 and r.json()["detail"] == "run_ids: run 'nope' not found"
    other_sid = client.post(f"{API}/scenarios", json=grid_scenario(2, 2, 2)).json()["id"]
    c = client.post(f"{API}/scenarios/{other_sid}/runs", json={"method": "heuristic", "time_limit_s": 5}).json()["id"]
    wait_for(client.get, c, ended)
    r = client.post(f"{API}/compare", json={"run_ids": [a, c]})
    assert r.status_code == 422 and "compare runs of one scenario" in r.json()["detail"]
    # A run without a plan (cancelled while queued) cannot be compared.
    sid = service["sid"]
    client.app.state.run_manager.max_workers = 0  # hold the queue for a moment
    try:
        d = client.post(f"{API}/scenarios/{sid}/runs", json={"method": "heuristic", "time_limit_s": 5}).json()["id"]
        assert client.post(f"{API}/runs/{d}/cancel").json()["run"]["state"] == "cancelled"
    finally:
        client.app.state.run_manager.max_workers = 2
    r = client.post(f"{API}/compare", json={"run_ids": [a, d]})
    assert r.status_code == 409 and f"run '{d}' has no plan" in r.json()["detail"]


def _broken_plan() -> dict:
    """4x4 grid: T1 is 3 units in 3 pieces, T3 4 units in 2 pieces, T2 has 5 units (balance wants exactly 4).

    T1 T2 T2 T1        row 0
    T3 T2 T2 T3        row 1
    T3 T4 T2 T3        row 2
    T4 T4 T4 T1        row 3
    """
    rows = ["T1 T2 T2 T1", "T3 T2 T2 T3", "T3 T4 T2 T3", "T4 T4 T4 T1"]
    return {f"{r}-{c}": t for r, line in enumerate(rows) for c, t in enumerate(line.split())}


def test_analyze_a_hand_edited_plan_reports_every_broken_rule(service):
    client = service["client"]
    for source in (
        {"scenario": small_grid()},
        {"scenario_id": service["sid"]},
        {"scenario_id": service["sid"], "version": 1},
    ):
        r = client.post(f"{API}/analyze", json={**source, "plan": {"assignment": _broken_plan()}})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["feasible"] is False
        assert body["violations_by_rule"] == {"contiguity": 2, "balance": 2} and body["violation_count"] == 4
        records = {(v["rule"], v["record"]["kind"], v["record"]["id"]) for v in body["violations"]}
        assert records == {
            ("contiguity", "territory", "T1"),
            ("contiguity", "territory", "T3"),
            ("balance", "territory", "T1"),
            ("balance", "territory", "T2"),
        }
        assert any(v["message"] == "contiguity: territory T1 is in 3 pieces" for v in body["violations"])
        assert {t["id"]: t["kpis"]["units"] for t in body["territories"]} == {"T1": 3, "T2": 5, "T3": 4, "T4": 4}
        assert body["kpis"]["contiguous"] is False


def test_analyze_a_feasible_plan_and_a_solver_plan_sent_back_as_is(service):
    client, (a, _) = service["client"], service["runs"]
    plan = client.get(f"{API}/runs/{a}/plan").json()
    r = client.post(f"{API}/analyze", json={"scenario_id": service["sid"], "plan": plan})
    assert r.status_code == 200 and r.json()["feasible"] is True and r.json()["violations"] == []
    assert r.json()["objective"] == pytest.approx(plan["objective"])


def test_analyze_names_unknown_ids_and_bad_input(service):
    client, sid = service["client"], service["sid"]
    assignment = _broken_plan()
    assignment["9-9"] = "T1"
    assignment["0-1"] = "T9"
    r = client.post(f"{API}/analyze", json={"scenario_id": sid, "plan": {"assignment": assignment}})
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "plan.assignment: unknown unit ids '9-9'; plan.assignment: unknown territory ids 'T9' "
        "(territories: T1, T2, T3, T4)"
    )
    partial = dict(list(_broken_plan().items())[:14])
    r = client.post(f"{API}/analyze", json={"scenario_id": sid, "plan": {"assignment": partial}})
    assert r.status_code == 422 and r.json()["detail"] == "plan.assignment: 2 units not assigned: '3-2', '3-3'"
    r = client.post(f"{API}/analyze", json={"plan": {"assignment": _broken_plan()}})
    assert r.status_code == 422 and r.json()["detail"].startswith("scenario: give either")
    r = client.post(f"{API}/analyze", json={"scenario": {"units": []}, "plan": {"assignment": {"a": "T1"}}})
    assert r.status_code == 422 and r.json()["detail"].startswith("scenario.units: ")
    r = client.post(f"{API}/analyze", json={"scenario_id": sid, "plan": {}})
    assert r.status_code == 422 and r.json()["detail"].startswith("plan.assignment: ")
    r = client.post(f"{API}/analyze", json={"scenario_id": "nope", "plan": {"assignment": {"a": "T1"}}})
    assert r.status_code == 404 and r.json()["detail"] == "scenario_id: scenario 'nope' not found"


def test_another_tenants_runs_are_404_everywhere(service):
    client, (a, b), sid = service["client"], service["runs"], service["sid"]
    other = {"X-API-Key": service["keys"]["other"]}
    for path in (
        f"/runs/{a}",
        f"/runs/{a}/plan",
        f"/runs/{a}/plan.csv",
        f"/runs/{a}/plan.geojson",
        f"/runs/{a}/events",
    ):
        r = client.get(API + path, headers=other)
        assert r.status_code == 404, (path, r.text)
        assert a in r.json()["detail"]
    assert client.post(f"{API}/runs/{a}/cancel", headers=other).status_code == 404
    assert client.post(f"{API}/scenarios/{sid}/runs", json={}, headers=other).status_code == 404
    assert client.get(f"{API}/runs", headers=other).json() == {"data": [], "count": 0}
    assert client.get(f"{API}/runs", params={"scenario_id": sid}, headers=other).json()["count"] == 0
    r = client.post(f"{API}/compare", json={"run_ids": [a, b]}, headers=other)
    assert r.status_code == 404 and a in r.json()["detail"]
    r = client.post(f"{API}/analyze", json={"scenario_id": sid, "plan": {"assignment": _broken_plan()}}, headers=other)
    assert r.status_code == 404
    # The owner still sees everything, untouched; no key at all is 401.
    assert client.get(f"{API}/runs/{a}").json()["state"] == "finished"
    assert client.get(f"{API}/runs/{a}", headers={"X-API-Key": "terr_wrong"}).status_code == 401


def test_compare_runs_of_versions_that_only_change_rules(service):
    """A planner loosens a tolerance (a new version, same units): the runs still compare;
    a version with other units does not."""
    client = service["client"]
    data = small_grid()
    sid = client.post(f"{API}/scenarios", json=data).json()["id"]

    def run_latest() -> str:
        rid = client.post(
            f"{API}/scenarios/{sid}/runs", json={"method": "heuristic", "time_limit_s": 5, "seed": 1}
        ).json()["id"]
        assert wait_for(client.get, rid, ended)["state"] == "finished"
        return rid

    first = run_latest()
    looser = {**data, "balance": [{"measure": "workload", "tolerance": 0.5}]}
    assert client.put(f"{API}/scenarios/{sid}", json=looser).status_code == 200
    second = run_latest()
    r = client.post(f"{API}/compare", json={"run_ids": [first, second]})
    assert r.status_code == 200, r.text
    assert [x["scenario_version"] for x in r.json()["runs"]] == [1, 2]

    other_units = grid_scenario(3, 3, 3)
    assert client.put(f"{API}/scenarios/{sid}", json=other_units).status_code == 200
    third = run_latest()
    r = client.post(f"{API}/compare", json={"run_ids": [first, third]})
    assert r.status_code == 422 and "units or number of territories differ" in r.json()["detail"]
