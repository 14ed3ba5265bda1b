"""Made-up boundaries for the adjacency and plan tests (a helper module, not a test module).

Cells are squares of 0.01 degree (about 850 m east-west and 1.1 km north-south at 40 N).
Grid cell (r, c) has its south-west corner at lon -90 + 0.01 c, lat 40 + 0.01 r:

    r=2   6 7 8
    r=1   3 4 5
    r=0   0 1 2      id = r * cols + c
"""

from __future__ import annotations

import numpy as np

from engine.geo import EARTH_RADIUS_KM

SIDE = 0.01
M_PER_DEG_LAT = np.radians(1) * EARTH_RADIUS_KM * 1000  # about 111 km


def square(x0: float, y0: float, side: float = SIDE, grow: float = 0.0) -> dict:
    """A square polygon (GeoJSON, lon/lat), grown on every side by `grow` degrees (negative shrinks)."""
    a, b, c, d = x0 - grow, y0 - grow, x0 + side + grow, y0 + side + grow
    return {"type": "Polygon", "coordinates": [[[a, b], [c, b], [c, d], [a, d], [a, b]]]}


def grid(rows: int, cols: int, grow: float = 0.0):
    """ids, lat, lon (cell centres) and polygons of a rows x cols grid of squares."""
    ids, lat, lon, geoms = [], [], [], []
    for r in range(rows):
        for c in range(cols):
            x0, y0 = -90 + SIDE * c, 40 + SIDE * r
            ids.append(f"c{r * cols + c}")
            lat.append(y0 + SIDE / 2)
            lon.append(x0 + SIDE / 2)
            geoms.append(square(x0, y0, grow=grow))
    return ids, np.array(lat), np.array(lon), geoms


def square_units(rows: int, cols: int, grow: float = 0.0) -> list[dict]:
    """The cells of `grid` as scenario units: id, lat, lon and geometry."""
    ids, lat, lon, geoms = grid(rows, cols, grow=grow)
    return [{"id": ids[i], "lat": float(lat[i]), "lon": float(lon[i]), "geometry": geoms[i]} for i in range(len(ids))]


def edge_set(adj) -> set[tuple[int, int]]:
    coo = adj.tocoo()
    return {(int(a), int(b)) for a, b in zip(coo.row, coo.col, strict=True) if a < b}


def grid_edges(rows: int, cols: int, diagonals: bool) -> set[tuple[int, int]]:
    steps = [(0, 1), (1, 0)] + ([(1, 1), (1, -1)] if diagonals else [])
    out = set()
    for r in range(rows):
        for c in range(cols):
            for dr, dc in steps:
                rr, cc = r + dr, c + dc
                if 0 <= rr < rows and 0 <= cc < cols:
                    a, b = r * cols + c, rr * cols + cc
                    out.add((min(a, b), max(a, b)))
    return out


def island_scenario() -> dict:
    """A 3x3 grid of squares c0..c8 and an island 3 km east of c5 (the middle of the east column)."""
    units = square_units(3, 3)
    x0 = -89.97 + 0.035
    units.append({"id": "island", "lat": 40.015, "lon": x0 + SIDE / 2, "geometry": square(x0, 40.01)})
    return {"name": "island", "territories": 2, "units": units}
