"""Saved scenarios over HTTP: create, list (paged), get, put (versions), delete, validate, CSV upload.

Each test gets its own app on a fresh SQLite file in tmp_path, and again on a fresh PostgreSQL
database (`database_url`, tests/scenarios/postgres.py).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from engine.io import parse_scenario
from models import ScenarioError
from scenarios import repository
from tests.api.helpers import new_key
from tests.instances import grid_scenario

BASE = "/api/v1/scenarios"


def test_create_get_list_put_versions_delete(client):
    created = client.post(BASE, json=grid_scenario(2, 2, 2))
    assert created.status_code == 201, created.text
    body = created.json()
    sid = body["id"]
    assert (body["version"], body["name"], body["units"], body["territories"]) == (1, "grid 2x2", 4, 2)

    got = client.get(f"{BASE}/{sid}").json()
    assert got["version"] == 1 and got["scenario"] == grid_scenario(2, 2, 2)

    put = client.put(f"{BASE}/{sid}", json=grid_scenario(2, 3, 3, name="wider"))
    assert put.status_code == 200, put.text
    assert (put.json()["id"], put.json()["version"], put.json()["name"]) == (sid, 2, "wider")
    assert client.get(f"{BASE}/{sid}").json()["scenario"]["territories"] == 3
    assert client.get(f"{BASE}/{sid}/versions/1").json()["scenario"] == grid_scenario(2, 2, 2)
    assert client.get(f"{BASE}/{sid}/versions/2").json()["name"] == "wider"
    assert client.get(f"{BASE}/{sid}/versions/3").status_code == 404
    versions = client.get(f"{BASE}/{sid}/versions").json()
    assert versions["count"] == 2 and [v["version"] for v in versions["data"]] == [1, 2]
    assert "scenario" not in versions["data"][0]

    listed = client.get(BASE).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == sid and listed["data"][0]["version"] == 2

    assert client.delete(f"{BASE}/{sid}").status_code == 204
    assert client.get(f"{BASE}/{sid}").status_code == 404
    assert client.get(f"{BASE}/{sid}/versions").status_code == 404
    assert client.delete(f"{BASE}/{sid}").status_code == 404
    assert client.get(BASE).json() == {"data": [], "count": 0}


def test_list_is_paged_with_a_total_count(client):
    ids = [client.post(BASE, json=grid_scenario(1, 2, 1, name=f"s{i}")).json()["id"] for i in range(5)]
    first = client.get(BASE, params={"limit": 2}).json()
    second = client.get(BASE, params={"limit": 2, "offset": 2}).json()
    last = client.get(BASE, params={"limit": 2, "offset": 4}).json()
    assert first["count"] == second["count"] == last["count"] == 5
    assert [len(p["data"]) for p in (first, second, last)] == [2, 2, 1]
    assert sorted(s["id"] for p in (first, second, last) for s in p["data"]) == sorted(ids)
    bad = client.get(BASE, params={"limit": 0})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("query.limit:")


def test_unknown_id_is_404(client):
    assert client.get(f"{BASE}/no-such-id").status_code == 404
    assert client.put(f"{BASE}/no-such-id", json=grid_scenario(1, 2, 1)).status_code == 404


def test_validate_answers_counts_without_saving(client):
    data = grid_scenario(3, 3, 3, balance=[{"measure": "workload", "tolerance": 0.1}])
    r = client.post(f"{BASE}/validate", json=data)
    assert r.status_code == 200, r.text
    check = r.json()
    assert check["valid"] is True
    assert (check["units"], check["territories"], check["reps"], check["adjacency_edges"]) == (9, 3, 0, 12)
    assert check["balanced_measures"] == ["workload"] and check["infeasible_reasons"] == []
    assert client.get(BASE).json()["count"] == 0


def test_validate_reports_an_impossible_scenario(client):
    data = grid_scenario(1, 4, 2)
    data["adjacency"] = []
    check = client.post(f"{BASE}/validate", json=data).json()
    assert check["valid"] is True and any("separate regions" in r for r in check["infeasible_reasons"])


def _api_detail_equals_cli_message(client, path, data) -> str:
    r = client.post(path, json=data)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert detail == str(err.value)  # the API and the CLI word the same problem the same way
    return detail


@pytest.mark.parametrize("path", [BASE, f"{BASE}/validate"])
def test_invalid_scenario_is_422_naming_field_and_record(client, path):
    data = grid_scenario(2, 2, 2)
    data["units"][2]["id"] = "x"
    data["units"][2]["lat"] = 123.0
    data["adjacency"] = None
    detail = _api_detail_equals_cli_message(client, path, data)
    assert detail.startswith("units[2] (id 'x').lat: ")

    data = grid_scenario(2, 2, 2)
    data["units"][3]["id"] = "0-0"
    data["adjacency"] = None
    assert _api_detail_equals_cli_message(client, path, data).startswith("units[3].id: duplicate unit id '0-0'")

    data = grid_scenario(2, 2, 2, colour="red")
    assert _api_detail_equals_cli_message(client, path, data) == "colour: unknown field (check the spelling)"
    assert client.get(BASE).json()["count"] == 0


def test_body_that_is_not_a_scenario_is_422_never_500(client):
    r = client.post(BASE, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].startswith("body (character 1): invalid JSON")
    r = client.post(BASE, json=[1, 2])
    assert r.status_code == 422 and r.json()["detail"].startswith("body: ")
    r = client.post(BASE)
    assert r.status_code == 422 and r.json()["detail"].startswith("body: ")
    r = client.put(f"{BASE}/x", json={"units": "nope", "territories": 1})
    assert r.status_code == 422 and r.json()["detail"].startswith("units: ")
    r = client.get(f"{BASE}/x/versions/zero")
    assert r.status_code == 422 and r.json()["detail"].startswith("path.version: ")


UNITS_CSV = "id,lat,lon,workload,potential,accounts\n" + "".join(
    f"u{i},{40 + 0.1 * (i // 3)},{-90 + 0.1 * (i % 3)},{1 + i % 2},{10 * i},{i}\n" for i in range(9)
)
REPS_CSV = "id,lat,lon,capacity_workload\nr1,40.0,-90.0,20\nr2,40.2,-89.8,20\nr3,40.1,-89.9,20\n"


def test_csv_upload_creates_a_scenario(client):
    r = client.post(
        f"{BASE}/csv",
        files={"units": ("units.csv", UNITS_CSV, "text/csv"), "reps": ("reps.csv", REPS_CSV, "text/csv")},
        data={
            "territories": "3",
            "name": "from csv",
            "contiguity": "false",
            "balance": '[{"measure": "workload", "tolerance": 0.2}]',
        },
    )
    assert r.status_code == 201, r.text
    assert (r.json()["name"], r.json()["units"], r.json()["territories"]) == ("from csv", 9, 3)
    scenario = client.get(f"{BASE}/{r.json()['id']}").json()["scenario"]
    assert scenario["units"][4] == {
        "id": "u4",
        "lat": 40.1,
        "lon": -89.9,
        "workload": 1.0,
        "potential": 40.0,
        "attributes": {"accounts": 4.0},
    }
    assert [rep["capacity"] for rep in scenario["reps"]] == [{"workload": 20.0}] * 3
    assert scenario["contiguity"] is False and scenario["balance"][0]["tolerance"] == 0.2

    new_version = client.put(
        f"{BASE}/{r.json()['id']}/csv", files={"units": ("u.csv", UNITS_CSV)}, data={"territories": "2"}
    )
    assert new_version.status_code == 200 and new_version.json()["version"] == 2, new_version.text


def test_csv_validate_and_errors_name_the_line(client):
    ok = client.post(f"{BASE}/validate/csv", files={"units": ("units.csv", UNITS_CSV)}, data={"territories": "3"})
    assert ok.status_code == 200 and ok.json()["units"] == 9, ok.text
    assert client.get(BASE).json()["count"] == 0

    bad = UNITS_CSV.replace("u3,40.1,-90.0", "u3,forty,-90.0")
    r = client.post(f"{BASE}/csv", files={"units": ("units.csv", bad)}, data={"territories": "3"})
    assert r.status_code == 422 and r.json()["detail"] == "units.csv line 5 (id 'u3').lat: 'forty' is not a number"

    r = client.post(f"{BASE}/csv", files={"units": ("units.csv", UNITS_CSV)})
    assert r.status_code == 422 and r.json()["detail"].startswith("territories: "), r.text

    r = client.post(f"{BASE}/csv", files={"units": ("units.csv", "id,lat\nu1,40\n")}, data={"territories": "1"})
    assert r.status_code == 422 and r.json()["detail"] == "units.csv: missing column(s) lon", r.text

    r = client.post(f"{BASE}/csv", files={"units": ("units.csv", UNITS_CSV + "u9,41\n")}, data={"territories": "1"})
    assert r.status_code == 422 and "units.csv" in r.json()["detail"], r.text

    r = client.post(f"{BASE}/csv", files={"units": ("units.csv", b"\xff\xfe\x00bad")}, data={"territories": "1"})
    assert r.status_code == 422 and r.json()["detail"] == "units.csv: not UTF-8 text", r.text

    r = client.post(
        f"{BASE}/csv", files={"units": ("units.csv", UNITS_CSV)}, data={"territories": "3", "balance": "[{"}
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("form.balance: not valid JSON"), r.text

    r = client.post(f"{BASE}/csv", files={"reps": ("reps.csv", REPS_CSV)}, data={"territories": "3"})
    assert r.status_code == 422 and r.json()["detail"].startswith("form.units: "), r.text

    r = client.post(f"{BASE}/csv", json=grid_scenario(1, 2, 1))
    assert r.status_code == 415, r.text


def test_openapi_docs_describe_the_routes(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/scenarios", "/api/v1/scenarios/{scenario_id}/versions/{version}"} <= set(spec["paths"])
    assert "Scenario" in spec["components"]["schemas"]
    assert "multipart/form-data" in spec["paths"]["/api/v1/scenarios/csv"]["post"]["requestBody"]["content"]
    assert spec["paths"]["/api/v1/scenarios"]["post"]["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorPublic"
    }


def test_times_are_utc_both_when_created_and_when_read_back(client):
    created = client.post(BASE, json=grid_scenario(1, 2, 1)).json()
    listed = client.get(BASE).json()["data"][0]
    assert created["created_at"] == listed["created_at"] and listed["created_at"].endswith("Z")


def test_get_sends_the_stored_json_with_the_documented_schema(client):
    sid = client.post(BASE, json=grid_scenario(2, 2, 2, balance=[{"measure": "workload", "tolerance": 0.05}])).json()[
        "id"
    ]
    for path in (f"{BASE}/{sid}", f"{BASE}/{sid}/versions/1"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        body = r.json()
        assert list(body) == ["id", "version", "name", "units", "territories", "created_at", "scenario"]
        assert body["scenario"] == grid_scenario(2, 2, 2, balance=[{"measure": "workload", "tolerance": 0.05}])
        versions = client.get(f"{BASE}/{sid}/versions").json()["data"][0]
        assert {k: body[k] for k in versions} == versions  # same envelope as the other routes write
    spec = client.get("/api/v1/openapi.json").json()
    get = spec["paths"]["/api/v1/scenarios/{scenario_id}"]["get"]
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ScenarioVersionPublic"
    }
    assert "ETag" in get["responses"]["200"]["headers"] and "304" in get["responses"]
    assert get["security"] == [{"APIKeyHeader": []}]


def test_etag_gives_304_until_a_new_version_and_404_after_delete(client):
    sid = client.post(BASE, json=grid_scenario(2, 2, 2)).json()["id"]
    first = client.get(f"{BASE}/{sid}")
    etag = first.headers["etag"]
    assert etag.startswith('"') and first.headers["cache-control"] == "private, no-cache"
    not_modified = client.get(f"{BASE}/{sid}", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b"" and not_modified.headers["etag"] == etag
    assert client.get(f"{BASE}/{sid}", headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(f"{BASE}/{sid}", headers={"If-None-Match": '"other"'}).status_code == 200

    client.put(f"{BASE}/{sid}", json=grid_scenario(2, 3, 3, name="wider"))
    after_put = client.get(f"{BASE}/{sid}", headers={"If-None-Match": etag})
    assert after_put.status_code == 200 and after_put.json()["version"] == 2 and after_put.json()["name"] == "wider"
    assert after_put.headers["etag"] != etag
    # Version 1 itself never changes: its own ETag still matches.
    assert client.get(f"{BASE}/{sid}/versions/1", headers={"If-None-Match": etag}).status_code == 304

    client.delete(f"{BASE}/{sid}")
    assert client.get(f"{BASE}/{sid}", headers={"If-None-Match": after_put.headers["etag"]}).status_code == 404
    assert client.get(f"{BASE}/{sid}/versions/1", headers={"If-None-Match": etag}).status_code == 404


def test_a_revoked_key_is_refused_at_once(client):
    sid = client.post(BASE, json=grid_scenario(1, 2, 1)).json()["id"]
    key = client.headers["X-API-Key"]
    assert client.get(f"{BASE}/{sid}").status_code == 200
    # Revoked through another engine, as the CLI or another server process would.
    app = client.app
    from scenarios.db import make_engine, make_sessionmaker

    other = make_engine(app.state.engine.url.render_as_string(hide_password=False))
    try:
        with make_sessionmaker(other)() as session:
            ((row, _),) = repository.list_api_keys(session, tenant_name="acme")  # the prefix, as `apikey list` shows it
            assert key.startswith(row.prefix)
            assert repository.revoke_api_key(session, prefix=row.prefix) == 1
    finally:
        other.dispose()
    for path in (f"{BASE}/{sid}", f"{BASE}/{sid}/versions/1", BASE):
        r = client.get(path)
        assert r.status_code == 401 and r.json()["detail"] == "invalid API key", path


def test_reads_survive_dropped_database_connections(postgres_url):
    """PostgreSQL closes the server's connections (a restart, a failover): the next read still answers."""
    import psycopg
    from sqlalchemy.engine import make_url

    app = create_app(Settings(database_url=postgres_url))
    with TestClient(app) as client:
        client.headers["X-API-Key"] = new_key(app)
        sid = client.post(BASE, json=grid_scenario(1, 2, 1)).json()["id"]
        for _ in range(5):  # every read connection in use once
            assert client.get(f"{BASE}/{sid}").status_code == 200
        url = make_url(postgres_url)
        with psycopg.connect(
            host=url.host, port=url.port, user=url.username, password=url.password, dbname="postgres", autocommit=True
        ) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s", (url.database,)
            ).fetchone()[0]
        assert ended >= 1
        for _ in range(5):
            r = client.get(f"{BASE}/{sid}")
            assert r.status_code == 200, r.text
        assert client.get(BASE).status_code == 200  # the other routes' pool pings before use
