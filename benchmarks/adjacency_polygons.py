"""Time to derive adjacency from unit boundaries: Voronoi cells of random points in a box.

Synthetic, made-up geometry: N random points in a 10 x 7 degree lon/lat box (about the size
of Iowa and Missouri together), their Voronoi cells clipped to the box, each cell a unit's
GeoJSON Polygon. Times engine.adjacency.derive_from_units (projection, STRtree query, shared
border lengths, joining of components) for the rook and the queen rule, and, once, the whole
path from scenario JSON (pydantic validation of the boundaries) through build_problem.

    .venv/bin/python benchmarks/adjacency_polygons.py --sizes 5000,10000,20000 --out benchmarks/results/adjacency_polygons.md
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import shapely

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.adjacency import derive_from_units  # noqa: E402
from engine.problem import build_problem  # noqa: E402
from models import Scenario  # noqa: E402

BOX = (-97.0, 36.0, -87.0, 43.0)  # lon_min, lat_min, lon_max, lat_max


def voronoi_units(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = BOX
    pts = np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])
    box = shapely.box(*BOX)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box))
    cells = shapely.intersection(cells, box)
    # voronoi_polygons does not keep the input order: match each point to the cell holding it
    tree = shapely.STRtree(cells)
    point_idx, cell_idx = tree.query(shapely.points(pts), predicate="intersects")
    order = np.empty(n, dtype=np.int64)
    order[point_idx] = cell_idx
    cells = cells[order]
    geoms = [shapely.geometry.mapping(c) for c in cells]
    geoms = [{"type": g["type"], "coordinates": [[list(p) for p in ring] for ring in g["coordinates"]]} for g in geoms]
    return pts[:, 1], pts[:, 0], geoms


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="5000,10000,20000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out")
    args = ap.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        lat, lon, geoms = voronoi_units(n, args.seed)
        ids = [f"u{i}" for i in range(n)]
        vertices = sum(len(ring) for g in geoms for ring in g["coordinates"])
        for rule in ("rook", "queen"):
            t0 = time.perf_counter()
            found = derive_from_units(ids, lat, lon, geoms, rule=rule)
            dt = time.perf_counter() - t0
            edges = found.adj.nnz // 2
            rows.append((n, vertices, rule, edges, len(found.links), dt))
            print(f"n={n} vertices={vertices} {rule}: {edges} edges, {len(found.links)} links, {dt:.2f} s", flush=True)
        units = [{"id": ids[i], "lat": float(lat[i]), "lon": float(lon[i]), "geometry": geoms[i]} for i in range(n)]
        t0 = time.perf_counter()
        scenario = Scenario.model_validate({"name": "voronoi", "territories": 10, "units": units})
        t1 = time.perf_counter()
        problem = build_problem(scenario)
        t2 = time.perf_counter()
        rows.append((n, vertices, "validate + build_problem", problem.adj.nnz // 2, None, (t1 - t0, t2 - t1)))
        print(f"n={n}: validate {t1 - t0:.2f} s, build_problem {t2 - t1:.2f} s", flush=True)
    if args.out:
        lines = [
            "# Adjacency from unit boundaries (synthetic Voronoi cells)",
            "",
            f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
            f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}). "
            "Tolerance 10 m, rook border > 10 m. Command: see the script's docstring.",
            "",
            "| units | vertices | what | edges | links added | seconds |",
            "|---|---|---|---|---|---|",
        ]
        for n, v, what, e, links, dt in rows:
            secs = f"{dt:.2f}" if not isinstance(dt, tuple) else f"validate {dt[0]:.2f} + build_problem {dt[1]:.2f}"
            lines.append(f"| {n:,} | {v:,} | {what} | {e:,} | {'' if links is None else links} | {secs} |")
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
