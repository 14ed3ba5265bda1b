"""The page's files and settings, without a browser (the lifespan is not started: no database needed)."""

from __future__ import annotations

import os

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings


def client(**settings) -> TestClient:
    return TestClient(create_app(Settings(database_url="sqlite://", **settings)))


def test_page_and_its_files_are_served_whatever_the_current_directory(tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        c = client()
        page = c.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/static/app.js">' in page.text
        assert "/static/vendor/leaflet/leaflet.js" in page.text and "://" not in page.text  # nothing off this server
        for name, kind in (("app.js", "javascript"), ("app.css", "text/css")):
            r = c.get(f"/static/{name}")
            assert r.status_code == 200 and kind in r.headers["content-type"]
        assert c.get("/static/../settings.py").status_code == 404
    finally:
        os.chdir(cwd)


def test_tiles_are_off_unless_configured():
    assert client().get("/api/v1/web/config").json() == {"tile_url": "", "tile_attribution": ""}
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    config = client(tile_url=url, tile_attribution="© example").get("/api/v1/web/config").json()
    assert config == {"tile_url": url, "tile_attribution": "© example"}


def test_tile_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("TERRITORIA_TILE_URL", "http://127.0.0.1:9/{z}/{x}/{y}.png")
    assert Settings().tile_url == "http://127.0.0.1:9/{z}/{x}/{y}.png"
