"""API keys and tenants, migrations on start, data kept across restarts, `territoria apikey`."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from scenarios import repository
from scenarios.db import current_revision
from tests.api.helpers import new_key
from tests.instances import grid_scenario

BASE = "/api/v1/scenarios"


@pytest.fixture
def app(database_url):
    return create_app(Settings(database_url=database_url))


def test_missing_or_wrong_key_is_401(app):
    with TestClient(app) as client:
        key = new_key(app, "acme")
        sid = client.post(BASE, json=grid_scenario(1, 2, 1), headers={"X-API-Key": key}).json()["id"]
        for headers in ({}, {"X-API-Key": ""}, {"X-API-Key": key + "x"}, {"X-API-Key": "terr_" + "A" * 43}):
            for method, path in (("get", BASE), ("get", f"{BASE}/{sid}"), ("delete", f"{BASE}/{sid}")):
                r = client.request(method, path, headers=headers)
                assert r.status_code == 401, (method, path, headers, r.text)
                assert "API key" in r.json()["detail"]
            r = client.post(BASE, json={"not": "a scenario"}, headers=headers)
            assert r.status_code == 401  # authentication is checked before the body
        assert client.get(f"{BASE}/{sid}", headers={"X-API-Key": key}).status_code == 200


def test_another_tenants_scenario_is_404_and_not_listed(app):
    with TestClient(app) as client:
        a = {"X-API-Key": new_key(app, "a")}
        b = {"X-API-Key": new_key(app, "b")}
        sid = client.post(BASE, json=grid_scenario(2, 2, 2), headers=a).json()["id"]
        client.post(BASE, json=grid_scenario(1, 2, 1, name="b's own"), headers=b)

        assert client.get(f"{BASE}/{sid}", headers=b).status_code == 404
        assert client.put(f"{BASE}/{sid}", json=grid_scenario(1, 2, 1), headers=b).status_code == 404
        assert (
            client.put(
                f"{BASE}/{sid}/csv",
                files={"units": ("u.csv", "id,lat,lon\nu,1,2\n")},
                data={"territories": "1"},
                headers=b,
            ).status_code
            == 404
        )
        assert client.get(f"{BASE}/{sid}/versions", headers=b).status_code == 404
        assert client.get(f"{BASE}/{sid}/versions/1", headers=b).status_code == 404
        assert client.delete(f"{BASE}/{sid}", headers=b).status_code == 404
        listed = client.get(BASE, headers=b).json()
        assert listed["count"] == 1 and [s["name"] for s in listed["data"]] == ["b's own"]

        # Untouched by b's attempts.
        got = client.get(f"{BASE}/{sid}", headers=a).json()
        assert (got["version"], got["scenario"]) == (1, grid_scenario(2, 2, 2))


def test_migrations_run_on_start_and_data_survives_a_restart(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'nested' / 'dir' / 'store.db'}")
    first = create_app(settings)
    with TestClient(first) as client:
        revision = current_revision(first.state.engine)
        assert revision is not None
        key = new_key(first, "acme")
        headers = {"X-API-Key": key}
        sid = client.post(BASE, json=grid_scenario(2, 2, 2), headers=headers).json()["id"]
        client.put(f"{BASE}/{sid}", json=grid_scenario(2, 2, 1), headers=headers)
    assert (tmp_path / "nested" / "dir" / "store.db").exists()

    second = create_app(settings)
    with TestClient(second) as client:
        assert current_revision(second.state.engine) == revision
        got = client.get(f"{BASE}/{sid}", headers=headers)
        assert got.status_code == 200 and got.json()["version"] == 2
        assert client.get(f"{BASE}/{sid}/versions/1", headers=headers).json()["scenario"] == grid_scenario(2, 2, 2)


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TERRITORIA_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("TERRITORIA_MAX_WORKERS", "3")
    settings = Settings()
    assert settings.database_url.endswith("env.db") and settings.max_workers == 3
    monkeypatch.delenv("TERRITORIA_DATABASE_URL")
    assert Settings().database_url == "sqlite:///./territoria.db"


def test_cli_apikey_create_prints_a_key_that_authenticates(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("TERRITORIA_DATABASE_URL", url)
    runner = CliRunner()
    result = runner.invoke(cli, ["apikey", "create", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith(repository.KEY_PREFIX)

    listed = runner.invoke(cli, ["apikey", "list"])
    assert listed.exit_code == 0 and "acme" in listed.stdout and key not in listed.stdout

    app = create_app(Settings(database_url=url))
    with TestClient(app) as client:
        assert client.get(BASE, headers={"X-API-Key": key}).status_code == 200
        assert client.get(BASE, headers={"X-API-Key": key[:-2]}).status_code == 401


def test_cli_apikey_create_needs_a_tenant(monkeypatch, tmp_path):
    monkeypatch.setenv("TERRITORIA_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    result = CliRunner().invoke(cli, ["apikey", "create"])
    assert result.exit_code == 2


def test_cli_serve_starts_uvicorn_with_the_app(monkeypatch, tmp_path):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    result = CliRunner().invoke(cli, ["serve", "--port", "8123", "--database-url", url])
    assert result.exit_code == 0, result.output
    ((served, kw),) = calls
    assert kw == {"host": "127.0.0.1", "port": 8123, "loop": "asyncio", "http": "httptools"}
    assert served.state.settings.database_url == url
