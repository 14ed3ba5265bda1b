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
from typing import Protocol

import numpy as np

from engine.geo import EARTH_RADIUS_KM, unit_vectors
from solvers.bound.params import BoundParams
from solvers.clock import Clock


class Demand(Protocol):
    """What the lists read from a problem: a Problem, or aggregate.Aggregated's clusters."""

    @property
    def n(self) -> int: ...
    @property
    def lat(self) -> np.ndarray: ...
    @property
    def lon(self) -> np.ndarray: ...
    @property
    def distance_power(self) -> int: ...
    @property
    def explicit_distances(self) -> np.ndarray | None: ...


# Rounding allowance (relative) of measured distances: a distance the bound relies on being no
# longer than the true one is multiplied by 1 - SHAVE, a radius that must not fall short of the
# true one by 1 + SHAVE (plus SHAVE km). Guarantees validity: not a tunable.
SHAVE = 1e-9
# Rows are listed this many pairs at a time (and the clock looked at between them).
_BATCH_PAIRS = 2_000_000


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


def list_length(n: int, k: int, params: BoundParams | None = None) -> int:
    """params.long_list territories' worth of units when every unit can keep its own row of
    that length (long_lists_fit), else params.short_list territories' worth (rows then stand
    for groups of candidate centers); at least params.min_list. Long lists make the bound
    tight; at scale they would mean fewer, coarser rows and fewer steps."""
    params = BoundParams() if params is None else params
    share = params.long_list if long_lists_fit(n, k, params) else params.short_list
    m = int(np.ceil(share * n / k))
    return int(min(max(params.min_list, m), n - 1))


def long_lists_fit(n: int, k: int, params: BoundParams | None = None) -> bool:
    """Can every unit keep its own row of params.long_list territories' worth of neighbours
    within params.max_pairs_long pairs?"""
    params = BoundParams() if params is None else params
    return n * int(np.ceil(params.long_list * n / k)) <= params.max_pairs_long


def demand_shrink(problem) -> np.ndarray:
    """Each unit's demand-side radius (km): an aggregated cluster's (aggregate.py), else 0."""
    shrink = getattr(problem, "unit_shrink", None)
    return np.zeros(problem.n) if shrink is None else np.asarray(shrink, dtype=float)


def wide_clusters(shrink: np.ndarray, params: BoundParams | None = None) -> np.ndarray:
    """Mask of the aggregated clusters whose radius is among the largest (params.wide_share
    of them, at most params.wide_max; none without aggregation): one outlying cluster would
    otherwise shrink every row's outside radius, so the bound sums these exactly."""
    params = BoundParams() if params is None else params
    mask = np.zeros(len(shrink), dtype=bool)
    if not (shrink > 0).any():
        return mask
    t = int(min(params.wide_max, np.ceil(params.wide_share * len(shrink))))
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
    problem: Demand,
    k: int,
    clock: Clock,
    max_list: int | None = None,
    max_pairs: int | None = None,
    seed: int = 0,
    params: BoundParams | None = None,
) -> NeighbourLists | None:
    """The rows of the bound within `max_pairs` pairs (params.max_pairs when None), each with
    a list of `max_list` units (list_length when None); None when the clock stops first or an
    explicit distance matrix is too large (params.max_explicit)."""
    params = BoundParams() if params is None else params
    max_pairs = params.max_pairs if max_pairs is None else max_pairs
    n, p = problem.n, problem.distance_power
    m = list_length(n, k, params) if max_list is None else int(min(max_list, n - 1))
    if problem.explicit_distances is not None:
        if n > params.max_explicit:
            return None
        D = np.asarray(problem.explicit_distances, dtype=float)
        order = np.argsort(D, axis=1, kind="stable")[:, : m + 1]
        d = np.take_along_axis(D, order, axis=1)
        return NeighbourLists(
            np.arange(n), np.ones(n, dtype=np.int64), np.zeros(n), order[:, :m], d[:, :m] ** p, d[:, m] ** p
        )
    from scipy.spatial import cKDTree

    xyz = unit_vectors(problem.lat, problem.lon)
    tree = cKDTree(xyz)
    if max_list is None and n * m <= params.max_pairs_long:
        max_pairs = max(max_pairs, params.max_pairs_long)
    rows = min(n, max(k, max_pairs // max(m, 1)))
    # aggregated demand (solvers.bound.aggregate): each "unit" is a cluster whose members lie
    # within shrink_g of it, and whose row stands for its center_count candidate centers
    # (as a center, its candidate centers lie within center_shrink_g of it)
    shrink = demand_shrink(problem)
    count = getattr(problem, "center_count", None)
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
        np.maximum.at(delta, near, _to_km(chord) * (1.0 + SHAVE) + SHAVE + cshrink)
    # units outside a row's list are at least (d_(m+1) - delta - their radius) away: the widest
    # clusters are summed exactly over all rows by the bound instead (wide_clusters), so the
    # radius here is the largest of the others
    max_shrink = outside_shrink(shrink, params)
    R = len(rep)
    idx = np.empty((R, m), dtype=np.int32)
    dp = np.empty((R, m), dtype=np.float32)
    radius_p = np.empty(R)
    block = max(1, _BATCH_PAIRS // (m + 1))
    for s in range(0, R, block):
        if clock.should_stop():
            return None
        idx[s : s + block], dp[s : s + block], radius_p[s : s + block] = list_rows(
            tree, xyz[rep[s : s + block]], m, p, shrink, max_shrink, delta[s : s + block]
        )
    return NeighbourLists(rep, mult, delta, idx, dp, radius_p)


def outside_shrink(shrink: np.ndarray, params: BoundParams | None = None) -> float:
    """The demand-side radius that units outside a row's list are shrunk by: the largest but
    for the widest clusters, which the bound sums exactly over all rows (wide_clusters)."""
    return float(shrink[~wide_clusters(shrink, params)].max(initial=0.0))


def list_rows(
    tree, points: np.ndarray, m: int, p: int, shrink: np.ndarray, max_shrink: float, delta: np.ndarray | float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows centered at `points` (unit-sphere xyz) over the units of `tree`: each row's m
    nearest units (idx), their shrunk distances^p rounded down (dp) and the radius^p beyond
    which every other unit lies (radius_p). Distances are shrunk by the row's `delta` (the
    group radius of its candidate centers) and by each unit's own `shrink`."""
    chord, nb = tree.query(points, k=m + 1, workers=-1)
    chord, nb = np.atleast_2d(chord), np.atleast_2d(nb)
    # chord on the unit sphere -> great-circle km (what engine.geo.haversine_km gives),
    # shaved for rounding, then shrunk by the group radius
    d = np.maximum(0.0, _to_km(chord) * (1.0 - SHAVE) - np.reshape(delta, (-1, 1)))
    dp = down32(np.maximum(0.0, d[:, :m] - shrink[nb[:, :m]]) ** p)
    return nb[:, :m], dp, np.maximum(0.0, d[:, m] - max_shrink) ** p
