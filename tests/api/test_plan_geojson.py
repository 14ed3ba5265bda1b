"""Unit geometry through the API: stored and returned with the scenario, and exported with the plan.

The plan's GeoJSON has each unit's polygon when the scenario gives one and its point otherwise.
"""

from __future__ import annotations

from tests.api.helpers import API, create_scenario, ended, submit_run, wait_for
from tests.instances import polygon_grid


def test_polygons_are_stored_returned_and_exported_points_otherwise(client):
    data = polygon_grid(3, 4, 3, balance=[{"measure": "workload", "tolerance": 0.5}])
    data["units"][5].pop("geometry")  # a unit without a boundary is still a point
    sid = create_scenario(client, data)
    stored = client.get(f"{API}/scenarios/{sid}").json()["scenario"]
    assert stored["units"][0]["geometry"] == data["units"][0]["geometry"]
    assert "geometry" not in stored["units"][5]

    bad = polygon_grid(3, 4, 3)
    bad["units"][2]["geometry"]["coordinates"][0].pop()  # the ring is no longer closed
    r = client.post(f"{API}/scenarios", json=bad)
    assert r.status_code == 422 and r.json()["detail"].startswith("units[2] (id '0-2').geometry: coordinates[0]"), (
        r.text
    )

    rid = submit_run(client, sid, seed=1, time_limit_s=5)
    run = wait_for(client.get, rid, ended, timeout_s=60)
    assert run["status"] in ("optimal", "feasible"), run
    assignment = client.get(f"{API}/runs/{rid}/plan").json()["assignment"]
    features = {f["id"]: f for f in client.get(f"{API}/runs/{rid}/plan.geojson").json()["features"]}
    assert len(features) == 12
    polygon = features["0-0"]
    assert polygon["geometry"] == data["units"][0]["geometry"]
    props = polygon["properties"]
    assert props["territory"] == assignment["0-0"] and props["workload"] == data["units"][0]["workload"]
    assert (props["lon"], props["lat"]) == (data["units"][0]["lon"], data["units"][0]["lat"])
    point = features[data["units"][5]["id"]]
    assert point["geometry"] == {"type": "Point", "coordinates": [data["units"][5]["lon"], data["units"][5]["lat"]]}
    assert "lat" not in point["properties"]
