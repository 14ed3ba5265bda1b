"""Where the repository, the bundled example and the shared data sets are (the shared data
lies beside the checkout, in ../shared/data, on CI and on developers' machines)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
DISTRICTING = SHARED_DATA / "districting"
EXAMPLE = REPO / "scenarios" / "examples" / "iowa_counties.json"
