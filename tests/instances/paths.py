"""Where the repository, the bundled example and the shared data sets are (the shared data
lies beside the checkout, in ../shared/data, on CI and on developers' machines)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
DISTRICTING = SHARED_DATA / "districting"
EXAMPLE = REPO / "scenarios" / "examples" / "iowa_counties.json"


def shared_or_skip(*parts: str) -> Path:
    """A file of the shared data sets; the test is skipped when they are not beside the checkout."""
    import pytest

    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    return path
