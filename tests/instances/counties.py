"""Scenarios from the shared districting data: county and tract dual graphs (MGGG) with two
measures, and the published districting instances (Validi, Buchanan & Lykhovyd 2022)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.instances.paths import DISTRICTING


def graph_scenario(path: Path, k: int, tol: float = 0.05, potential: str = "UPOP", name: str | None = None) -> dict:
    """A two-measure scenario from an MGGG dual graph: workload = TOTPOP/1000, potential =
    another column (+1 so no unit is zero)."""
    g = json.loads(path.read_text())
    nodes = g["nodes"]
    missing = [nd.get("id") for nd in nodes if potential not in nd]
    if missing:  # a silent 0 would turn the potential into a count of units
        raise KeyError(f"{path.name}: column {potential} missing on {len(missing)} nodes")
    units = []
    for nd in nodes:
        lat = nd.get("C_Y", nd.get("INTPTLAT10"))
        lon = nd.get("C_X", nd.get("INTPTLON10"))
        units.append(
            {
                "id": str(nd.get("GEOID10", nd["id"])),
                "lat": float(lat),
                "lon": float(lon),
                "workload": float(nd["TOTPOP"]) / 1000.0,
                "potential": float(nd[potential]) / 1000.0 + 0.1,
            }
        )
    edges = set()
    for i, nbrs in enumerate(g["adjacency"]):
        for e in nbrs:
            j = e["id"]
            if i != j:
                edges.add((min(i, j), max(i, j)))
    adjacency = [[units[i]["id"], units[j]["id"]] for i, j in sorted(edges)]
    return {
        "name": name or path.stem,
        "units": units,
        "adjacency": adjacency,
        "territories": k,
        "balance": [{"measure": "workload", "tolerance": tol}, {"measure": "potential", "tolerance": tol}],
        "contiguity": True,
        "objective": {"distance_power": 1},
    }


def county_scenario(fips: str, k: int, potential: str = "UPOP", tol: float = 0.05) -> dict:
    """The counties of the state `fips` (e.g. "13" Georgia), see graph_scenario."""
    return graph_scenario(DISTRICTING / f"county/county{fips}.json", k, tol, potential, name=f"county {fips}")


def districting_scenario(state: str) -> dict:
    """A published county districting instance (one measure +-0.5 %, p = 2, explicit distances)."""
    return json.loads((DISTRICTING / "scenarios" / f"{state}.json").read_text())
