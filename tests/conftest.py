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
