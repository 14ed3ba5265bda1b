import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
EXAMPLE = REPO / "scenarios" / "examples" / "iowa_counties.json"


def grid_scenario(rows: int, cols: int, k: int, **extra) -> dict:
    """A rows x cols grid of unit squares, 4-neighbour adjacency, ids 'r-c'."""
    units = [
        {"id": f"{r}-{c}", "lat": 40 + 0.1 * r, "lon": -90 + 0.1 * c, "workload": 1.0, "potential": 1.0}
        for r in range(rows)
        for c in range(cols)
    ]
    adjacency = [[f"{r}-{c}", f"{r}-{c + 1}"] for r in range(rows) for c in range(cols - 1)]
    adjacency += [[f"{r}-{c}", f"{r + 1}-{c}"] for r in range(rows - 1) for c in range(cols)]
    data = {"name": f"grid {rows}x{cols}", "units": units, "adjacency": adjacency, "territories": k}
    data.update(extra)
    return data


@pytest.fixture
def example_dict() -> dict:
    return json.loads(EXAMPLE.read_text())


def shared_or_skip(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    return path
