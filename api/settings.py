"""Service settings from the environment (TERRITORIA_*), read when the app is created, never at import."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TERRITORIA_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./territoria.db",
        description="SQLAlchemy URL: a SQLite file by default, e.g. postgresql+psycopg://user:pw@host/db.",
    )
    max_workers: int = Field(default=2, ge=1, description="Solver runs at once (used by the run manager).")
    max_upload_mb: float = Field(default=50.0, gt=0, description="Largest request body accepted for CSV uploads.")
    tile_url: str = Field(
        default="",
        description="Map background tiles for the web page, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; "
        "empty: no tiles (the map draws on a plain background, nothing is fetched).",
    )
    tile_attribution: str = Field(default="", description="Attribution shown on the map for the tiles (HTML).")
