"""The planner's web page: static files under /static, the page at "/", and the page's settings.

Files are resolved relative to this package, never the current directory, so `territoria
serve` works from anywhere. Leaflet is not in the repository: `make` copies it from the npm
registry's package into static/vendor/ (the page says so when it is missing).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from api.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static"


class WebConfigPublic(BaseModel):
    """What the page needs from the server's settings: the map's background tiles (empty: none)."""

    tile_url: str
    tile_attribution: str


def install(app: FastAPI, settings: Settings, *, api_prefix: str) -> None:
    """Serve the page at "/" and its files at /static; GET {api_prefix}/web/config for the page's settings."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    config = WebConfigPublic(tile_url=settings.tile_url, tile_attribution=settings.tile_attribution)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get(f"{api_prefix}/web/config", tags=["web"], response_model=WebConfigPublic)
    def web_config() -> WebConfigPublic:
        """The web page's settings (no key needed: nothing in them is secret)."""
        return config
