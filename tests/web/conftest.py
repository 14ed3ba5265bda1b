"""A real server and Debian's Chromium for the page tests.

The server is `uvicorn api.app:create_app --factory` in a subprocess on a free 127.0.0.1
port, on a fresh SQLite file, with no map tiles configured (nothing is fetched from the
internet); the key is made through the repository on the same database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.api.server import Server, api_key_for
from tests.web.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, VIEWPORT


@dataclass(frozen=True)
class WebServer:
    url: str
    key: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v1", headers={"X-API-Key": self.key}, timeout=30)


@pytest.fixture(scope="module")
def web_server(tmp_path_factory) -> Iterator[WebServer]:
    tmp = tmp_path_factory.mktemp("web")
    database_url = f"sqlite:///{tmp / 'territoria.db'}"
    key = api_key_for(database_url, "planner")
    # Run in tmp, not the repo: static files must not depend on it.
    server = Server(database_url, tmp / "server.log", cwd=tmp, env={"TERRITORIA_TILE_URL": ""}).start()
    try:
        yield WebServer(url=server.url, key=key)
    finally:
        server.stop()


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
