"""Where the page tests find their browser (a helper module, not a test module; no Playwright
import, so that collecting the tests needs no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.instances import REPO

CHROMIUM = Path("/usr/bin/chromium")
LEAFLET = REPO / "api" / "static" / "vendor" / "leaflet" / "leaflet.js"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1280, "height": 800}


def require_browser() -> None:
    """Skip the calling test module unless Chromium, the vendored Leaflet and Playwright are there."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (make browser)", allow_module_level=True)
    if not LEAFLET.exists():
        pytest.skip(f"{LEAFLET} missing (make copies Leaflet from npm)", allow_module_level=True)
    pytest.importorskip("playwright.sync_api")
