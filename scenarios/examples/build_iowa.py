"""Rebuild iowa_counties.json from the 2010 census county dual graph of Iowa.

Source: U.S. Census Bureau, 2010 Census (TIGER/Line county geography, P1 population and
urban/rural population), as packaged in the MGGG county dual graphs (Daryl DeFord) and
republished in hamidrezavalidi/Political-Districting-to-Minimize-Cut-Edges (GPL-3.0).
Census data are public domain.

Units are Iowa's 99 counties. workload = residents / 1000 (a proxy for the accounts a rep
visits), potential = urban residents (a proxy for sales potential). Adjacency is the county
dual graph (counties sharing a boundary).

    python scenarios/examples/build_iowa.py ../shared/data/districting/county/county19.json
"""

import json
import sys
from pathlib import Path


def main(src: str) -> None:
    graph = json.loads(Path(src).read_text())
    nodes = graph["nodes"]
    units = [
        {
            "id": n["GEOID10"],
            "name": n["NAME10"],
            "lat": round(float(n["C_Y"]), 5),
            "lon": round(float(n["C_X"]), 5),
            "workload": round(n["TOTPOP"] / 1000, 3),
            "potential": float(n["UPOP"]),
        }
        for n in nodes
    ]
    edges = sorted(
        {
            tuple(sorted((nodes[i]["GEOID10"], nodes[nb["id"]]["GEOID10"])))
            for i, nbs in enumerate(graph["adjacency"])
            for nb in nbs
        }
    )
    scenario = {
        "name": "Iowa counties, 4 territories",
        "units": units,
        "adjacency": [list(e) for e in edges],
        "territories": 4,
        "balance": [{"measure": "workload", "tolerance": 0.05}, {"measure": "potential", "tolerance": 0.10}],
        "contiguity": True,
        "objective": {"distance_power": 1},
    }
    out = Path(__file__).with_name("iowa_counties.json")
    out.write_text(json.dumps(scenario, indent=0) + "\n")
    print(f"wrote {out} ({len(units)} units, {len(edges)} adjacencies)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/districting/county/county19.json")
