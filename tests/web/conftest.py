"""A real server and Debian's Chromium for the page tests.

The server is `uvicorn api.app:create_app --factory` in a subprocess on a free 127.0.0.1
port, on a fresh SQLite file, with no map tiles configured (nothing is fetched from the
internet); the key is made through the repository on the same database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.instances import REPO

CHROMIUM = Path("/usr/bin/chromium")
LEAFLET = REPO / "api" / "static" / "vendor" / "leaflet" / "leaflet.js"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1280, "height": 800}


def api_key_for(db: Path, tenant: str) -> str:
    """A key for `tenant` in the SQLite file `db`, migrated first (for servers started by tests)."""
    from scenarios import repository
    from scenarios.db import make_engine, make_sessionmaker, upgrade

    engine = make_engine(f"sqlite:///{db}")
    try:
        upgrade(engine)
        with make_sessionmaker(engine)() as session:
            return repository.create_api_key(session, tenant_name=tenant).key
    finally:
        engine.dispose()


@dataclass(frozen=True)
class WebServer:
    url: str
    key: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v1", headers={"X-API-Key": self.key}, timeout=30)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api_key(db: Path) -> str:
    return api_key_for(db, "planner")


@pytest.fixture(scope="module")
def web_server(tmp_path_factory) -> Iterator[WebServer]:
    tmp = tmp_path_factory.mktemp("web")
    db, log_path = tmp / "territoria.db", tmp / "server.log"
    key = _api_key(db)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TERRITORIA_DATABASE_URL": f"sqlite:///{db}", "TERRITORIA_MAX_WORKERS": "2",
           "TERRITORIA_TILE_URL": ""}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"],
            cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,  # not the repo: static files must not depend on it
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"server exited: {log_path.read_text()[-2000:]}"
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"server did not start: {log_path.read_text()[-2000:]}"
            time.sleep(0.1)
        yield WebServer(url=url, key=key)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, web_server):
    """A fresh tab (its own sessionStorage) at 1280x800 that fails the test on any request off this server."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    outside: list[str] = []

    def only_local(route):
        if route.request.url.startswith(web_server.url) or route.request.url.startswith(("blob:", "data:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield page
    finally:
        context.close()
    assert not outside, f"the page fetched from outside the server: {outside[:5]}"
    assert not errors, f"JavaScript errors: {errors[:5]}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
