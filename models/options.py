"""Normalized solve options; each backend maps them to its own names."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Method = Literal["auto", "exact", "heuristic"]


class SolveOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method = "auto"
    time_limit_s: float = Field(default=60.0, gt=0, le=7 * 24 * 3600)
    gap: float = Field(default=0.0, ge=0, le=1)
    threads: int = Field(default=2, ge=1, le=256)
    seed: int = 0
    backend: str | None = None  # exact backend name; None = default
