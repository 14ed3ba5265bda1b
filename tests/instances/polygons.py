"""Scenarios whose units carry polygon geometry, for tests: a jittered grid of quadrilateral cells.

Made-up shapes, not real boundaries. Neighbouring cells share their corner positions exactly,
like clean county or ZIP boundary files, and the rook adjacency of the grid is given.
"""

from __future__ import annotations

import random


def polygon_grid(
    rows: int,
    cols: int,
    k: int,
    *,
    cell_deg: float = 0.25,
    lat0: float = 41.0,
    lon0: float = -94.0,
    jitter: float = 0.3,
    seed: int = 0,
    **extra,
) -> dict:
    """rows x cols cells ids 'r-c' (row 0 south), each a closed lon/lat Polygon; lat/lon = the mean corner."""
    rng = random.Random(seed)
    corner = {}
    for r in range(rows + 1):
        for c in range(cols + 1):
            inner = 0 < r < rows and 0 < c < cols  # the outline stays straight
            dx = rng.uniform(-jitter, jitter) * cell_deg if inner else 0.0
            dy = rng.uniform(-jitter, jitter) * cell_deg if inner else 0.0
            corner[r, c] = [round(lon0 + c * cell_deg + dx, 6), round(lat0 + r * cell_deg + dy, 6)]
    units = []
    for r in range(rows):
        for c in range(cols):
            ring = [corner[r, c], corner[r, c + 1], corner[r + 1, c + 1], corner[r + 1, c], corner[r, c]]
            lon = sum(p[0] for p in ring[:4]) / 4
            lat = sum(p[1] for p in ring[:4]) / 4
            units.append(
                {
                    "id": f"{r}-{c}",
                    "name": f"Cell {r}-{c}",
                    "lat": round(lat, 6),
                    "lon": round(lon, 6),
                    "workload": round(rng.uniform(5, 15), 1),
                    "potential": round(rng.uniform(1000, 3000)),
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
    adjacency = [[f"{r}-{c}", f"{r}-{c + 1}"] for r in range(rows) for c in range(cols - 1)]
    adjacency += [[f"{r}-{c}", f"{r + 1}-{c}"] for r in range(rows - 1) for c in range(cols)]
    data = {"name": f"polygon grid {rows}x{cols}", "units": units, "adjacency": adjacency, "territories": k}
    data.update(extra)
    return data
