"""Candidate-center rows for the Lagrangian bound.

Each row stands for a group of candidate centers: a representative unit r and the units
nearest to it (all within delta_r of r). For any center j of the group and any unit i,
d(i, j) >= max(0, d(i, r) - delta_r) by the triangle inequality, so a row computed with
these shrunk distances bounds rho_j from below for every j of its group (valid for p = 1
and p = 2, as t -> max(0, t)^p is monotone). With the row budget large enough each unit is
its own row (delta = 0, exact). A row keeps the m units nearest its representative; every
other unit is at least R away."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.geo import EARTH_RADIUS_KM, unit_vectors
from engine.problem import Problem
from solvers.clock import Clock

# idx (int32) and d^p (float32) here, the bound's float32 gap and weights, a quarter of the
# rows copied again: ~20 bytes a pair; the bound's temporaries are per chunk of rows
_MAX_PAIRS = 4_000_000  # grouped rows: ~80 MB
_MAX_PAIRS_LONG = 16_000_000  # one row per unit with long lists: ~320 MB
_MAX_EXPLICIT = 4000
_LONG = 10.0  # territories' worth of units in a long list


@dataclass(frozen=True)
class NeighbourLists:
    rep: np.ndarray  # (R,) representative unit of each row
    mult: np.ndarray  # (R,) candidate centers the row stands for
    delta: np.ndarray  # (R,) group radius (km); distances of the row are shrunk by it
    idx: np.ndarray  # (R, m) the m units nearest the representative
    dp: np.ndarray  # (R, m) max(0, d - delta)^p, float32 rounded down
    radius_p: np.ndarray  # (R,) a lower bound on the shrunk d^p of every unit not in the row
    rep_lat: np.ndarray | None = None  # (R,) where each row's representative is, when it is not
    rep_lon: np.ndarray | None = None  # a unit of the problem (a member row of a cluster)


def list_length(n: int, k: int) -> int:
    """About 10 territories' worth of units when every unit can keep its own row of that
    length (<= _MAX_PAIRS_LONG pairs), else 3.5 territories' worth (rows then stand for groups
    of candidate centers); >= 32. Short lists make the bound loose: on 1,000 US places with
    k = 20 the converged bound was 5.84 M with 3.5 territories' worth and 7.41 M with 10 (the
    plan: 8.22 M); with k = 40, 2.43 M and 4.74 M (plan 6.18 M). At 20,000 units, longer lists
    mean fewer, coarser rows and fewer steps in the time there is: the bound got worse."""
    m = int(np.ceil(_LONG * n / k)) if long_lists_fit(n, k) else int(np.ceil(3.5 * n / k))
    return int(min(max(32, m), n - 1))


def long_lists_fit(n: int, k: int) -> bool:
    """Can every unit keep its own row of 10 territories' worth of neighbours?"""
    return n * int(np.ceil(_LONG * n / k)) <= _MAX_PAIRS_LONG


_WIDE_SHARE = 0.02  # the widest 2 % of aggregated clusters (at most _WIDE_MAX) are summed exactly
_WIDE_MAX = 256


def wide_clusters(shrink: np.ndarray) -> np.ndarray:
    """Mask of the aggregated clusters whose radius is among the largest (none without
    aggregation): one outlying cluster would otherwise shrink every row's outside radius."""
    mask = np.zeros(len(shrink), dtype=bool)
    if not (shrink > 0).any():
        return mask
    t = int(min(_WIDE_MAX, np.ceil(_WIDE_SHARE * len(shrink))))
    mask[np.argsort(-shrink, kind="stable")[:t]] = True
    return mask


def down32(x: np.ndarray) -> np.ndarray:
    """float32 values <= x (a shorter distance keeps the bound valid)."""
    y = np.asarray(x, dtype=float).astype(np.float32)
    return np.where(y.astype(float) > x, np.nextafter(y, np.float32(-np.inf)), y)


def up32(x: np.ndarray) -> np.ndarray:
    """float32 values >= x, and >= 0."""
    y = np.asarray(x, dtype=float).astype(np.float32)
    return np.maximum(np.where(y.astype(float) < x, np.nextafter(y, np.float32(np.inf)), y), np.float32(0))


def _to_km(chord: np.ndarray) -> np.ndarray:
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))


def neighbour_lists(
    problem: Problem, k: int, clock: Clock, max_list: int | None = None, max_pairs: int = _MAX_PAIRS, seed: int = 0
) -> NeighbourLists | None:
    n, p = problem.n, problem.distance_power
    m = list_length(n, k) if max_list is None else int(min(max_list, n - 1))
    if problem.explicit_distances is not None:
        if n > _MAX_EXPLICIT:
            return None
        D = np.asarray(problem.explicit_distances, dtype=float)
        order = np.argsort(D, axis=1, kind="stable")[:, : m + 1]
        d = np.take_along_axis(D, order, axis=1)
        return NeighbourLists(np.arange(n), np.ones(n, dtype=np.int64), np.zeros(n), order[:, :m], d[:, :m] ** p, d[:, m] ** p)
    from scipy.spatial import cKDTree

    xyz = unit_vectors(problem.lat, problem.lon)
    tree = cKDTree(xyz)
    if max_list is None and n * m <= _MAX_PAIRS_LONG:
        max_pairs = max(max_pairs, _MAX_PAIRS_LONG)
    rows = min(n, max(k, max_pairs // max(m, 1)))
    # aggregated demand (solvers.bound.aggregate): each "unit" is a cluster whose members lie
    # within shrink_g of it, and whose row stands for its center_count candidate centers
    # (as a center, its candidate centers lie within center_shrink_g of it)
    shrink = getattr(problem, "unit_shrink", None)
    count = getattr(problem, "center_count", None)
    shrink = np.zeros(n) if shrink is None else np.asarray(shrink, dtype=float)
    cshrink = getattr(problem, "center_shrink", None)
    cshrink = shrink if cshrink is None else np.asarray(cshrink, dtype=float)
    count = np.ones(n, dtype=np.int64) if count is None else np.asarray(count, dtype=np.int64)
    if rows >= n:
        rep = np.arange(n)
        mult = count.copy()
        delta = cshrink.copy()
    else:
        rng = np.random.default_rng(seed)
        rep = np.sort(rng.choice(n, rows, replace=False))
        chord, near = cKDTree(xyz[rep]).query(xyz, k=1, workers=-1)
        mult = np.bincount(near, weights=count, minlength=rows).astype(np.int64)
        delta = np.zeros(rows)
        np.maximum.at(delta, near, _to_km(chord) * (1.0 + 1e-9) + 1e-9 + cshrink)
    # units outside a row's list are at least (d_(m+1) - delta - their radius) away: the widest
    # clusters are summed exactly over all rows by the bound instead (wide_clusters), so the
    # radius here is the largest of the others
    max_shrink = outside_shrink(shrink)
    R = len(rep)
    idx = np.empty((R, m), dtype=np.int32)
    dp = np.empty((R, m), dtype=np.float32)
    radius_p = np.empty(R)
    block = max(1, 2_000_000 // (m + 1))
    for s in range(0, R, block):
        if clock.should_stop():
            return None
        idx[s : s + block], dp[s : s + block], radius_p[s : s + block] = list_rows(
            tree, xyz[rep[s : s + block]], m, p, shrink, max_shrink, delta[s : s + block])
    return NeighbourLists(rep, mult, delta, idx, dp, radius_p)


def outside_shrink(shrink: np.ndarray) -> float:
    """The demand-side radius that units outside a row's list are shrunk by: the largest but
    for the widest clusters, which the bound sums exactly over all rows (wide_clusters)."""
    return float(shrink[~wide_clusters(shrink)].max(initial=0.0))


def list_rows(tree, points: np.ndarray, m: int, p: int, shrink: np.ndarray, max_shrink: float,
              delta: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows centered at `points` (unit-sphere xyz) over the units of `tree`: each row's m
    nearest units (idx), their shrunk distances^p rounded down (dp) and the radius^p beyond
    which every other unit lies (radius_p). Distances are shrunk by the row's `delta` (the
    group radius of its candidate centers) and by each unit's own `shrink`."""
    chord, nb = tree.query(points, k=m + 1, workers=-1)
    chord, nb = np.atleast_2d(chord), np.atleast_2d(nb)
    # chord on the unit sphere -> great-circle km (what engine.geo.haversine_km gives),
    # shaved for rounding, then shrunk by the group radius
    d = np.maximum(0.0, _to_km(chord) * (1.0 - 1e-9) - np.reshape(delta, (-1, 1)))
    dp = down32(np.maximum(0.0, d[:, :m] - shrink[nb[:, :m]]) ** p)
    return nb[:, :m], dp, np.maximum(0.0, d[:, m] - max_shrink) ** p
