"""Which unit boundaries touch: rook or queen adjacency of polygons, tolerant of small gaps.

Boundary files do not always snap exactly (a ZIP code area digitised apart from its
neighbour, a county file generalised at another scale), so two boundaries "touch" when they
come within `tolerance_m` of each other. Under the rook rule they must also share a border longer than
`min_border_m` (default: the tolerance), its length estimated from how much of one unit's
boundary lies near the other (`border_length_km`); under the queen rule a shared point
(within the tolerance) suffices.

Work is vectorized with shapely 2: one STRtree query for candidate pairs, then array
buffers and intersections for the border lengths. Coordinates are projected to
km with the same local equirectangular projection as the unit locations (engine.geo).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import shapely
from shapely import GeometryType

from engine.geo import EARTH_RADIUS_KM

Rule = Literal["rook", "queen"]


def project_polygons(geometries: Sequence[dict | None], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Shapely MultiPolygons in km (None where a unit has no boundary), one per unit.

    `geometries` are GeoJSON Polygon/MultiPolygon mappings (positions lon/lat, already
    validated by models.scenario.UnitGeometry); the projection is centred on the units'
    locations like engine.geo.project_km, so polygons and locations share one plane.
    Invalid polygons (self-intersections, bow ties) are repaired with shapely.make_valid.
    """
    n = len(geometries)
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    lon_r = np.radians(lon)
    mean_lon = np.degrees(np.arctan2(np.sin(lon_r).mean(), np.cos(lon_r).mean()))
    cos0 = np.cos(np.radians(lat.mean()))

    has = np.array([g is not None for g in geometries], dtype=bool)
    coords: list[list[float]] = []
    ring_ends: list[int] = []
    poly_ends: list[int] = []
    unit_ends: list[int] = []
    for g in geometries:
        if g is None:
            continue
        polygons = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
        for rings in polygons:
            for ring in rings:
                coords.extend(pos[:2] for pos in ring)
                ring_ends.append(len(coords))
            poly_ends.append(len(ring_ends))
        unit_ends.append(len(poly_ends))
    out = np.full(n, None, dtype=object)
    if not has.any():
        return out
    xy = np.asarray(coords, dtype=float)
    dlon = (xy[:, 0] - mean_lon + 180.0) % 360.0 - 180.0
    xy = np.column_stack([np.radians(dlon) * cos0 * EARTH_RADIUS_KM, np.radians(xy[:, 1]) * EARTH_RADIUS_KM])
    offsets = tuple(np.asarray([0] + ends, dtype=np.int64) for ends in (ring_ends, poly_ends, unit_ends))
    polys = shapely.from_ragged_array(GeometryType.MULTIPOLYGON, xy, offsets)
    bad = ~shapely.is_valid(polys)
    if bad.any():
        polys[bad] = _repair(polys[bad])
    out[has] = polys
    return out


def _repair(polys: np.ndarray) -> np.ndarray:
    """Valid polygonal versions of invalid polygons (lines and points left by repair dropped)."""
    fixed = shapely.make_valid(polys)
    polygonal = (GeometryType.POLYGON, GeometryType.MULTIPOLYGON)
    for i, g in enumerate(fixed):
        if shapely.get_type_id(g) not in polygonal:
            parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) in polygonal]
            fixed[i] = shapely.union_all(parts) if parts else shapely.buffer(polys[i], 0)
    return fixed


def touching_pairs(
    polys: np.ndarray,
    *,
    rule: Rule = "rook",
    tolerance_m: float = 10.0,
    min_border_m: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (a < b) of polygons that touch under `rule`, as two int64 arrays.

    `polys` is an array of shapely polygons in km (no None). Queen: they come within
    `tolerance_m` anywhere. Rook: their common border, estimated by `border_length_km`, is
    longer than `min_border_m` (default: the tolerance, and at least 1 mm). Overlapping
    polygons touch under both rules (each boundary runs inside the other).
    """
    if rule not in ("rook", "queen"):
        raise ValueError(f"adjacency rule must be 'rook' or 'queen', got {rule!r}")
    tol_km = max(tolerance_m / 1000.0, _HAIR_KM)
    tree = shapely.STRtree(polys)
    a, b = tree.query(polys, predicate="dwithin", distance=2 * tol_km if rule == "rook" else tol_km)
    keep = a < b
    a, b = a[keep].astype(np.int64), b[keep].astype(np.int64)
    if rule == "queen" or len(a) == 0:
        return a, b
    min_km = max((tolerance_m if min_border_m is None else min_border_m) / 1000.0, 1e-6)
    boundaries = shapely.boundary(polys)
    near = (shapely.buffer(polys, tol_km, quad_segs=2), shapely.buffer(polys, 2 * tol_km, quad_segs=2))
    border = border_length_km(boundaries, near, a, b)
    rook = border > min_km
    # One direction misses a unit lying wholly inside another (overlapping data): look back.
    doubt = np.flatnonzero(~rook)
    if len(doubt):
        rook[doubt] = border_length_km(boundaries, near, b[doubt], a[doubt]) > min_km
    return a[rook], b[rook]


_HAIR_KM = 1e-9  # a zero tolerance still needs a hair of width, or floating noise splits a border


def border_length_km(
    boundaries: np.ndarray, near: tuple[np.ndarray, np.ndarray], a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """Length of the border polygon a[p] shares with polygon b[p], for each pair p (km).

    `boundaries` are the polygons' boundaries, `near` the polygons buffered by t and by 2t.

    The length of a boundary lying within distance t of the other polygon is the true common
    border L plus, at each end, a tail where the two boundaries part: a tail grows linearly
    with t (about t / sin(angle) where they part at that angle), so two boundaries meeting
    at a sharp corner run "within t" for far longer than t. Measured at t and 2t,
    L(t) = L + c t and L(2t) = L + 2 c t, so 2 L(t) - L(2t) = L: the tails cancel, at a
    corner the estimate is about 0, and a gap g < t between two borders costs about c g.
    """
    wide = shapely.length(shapely.intersection(boundaries[a], near[1][b]))
    out = wide.copy()  # L(t) <= L(2t): a pair short at 2t is short, no second pass needed
    some = np.flatnonzero(wide > 0)
    if len(some):
        out[some] = 2 * shapely.length(shapely.intersection(boundaries[a[some]], near[0][b[some]])) - wide[some]
    return out
