"""Demand aggregation for the Lagrangian bound at scale (tens of thousands of units).

Units are grouped into G clusters around representative points r_g; every unit i of cluster
g lies within delta_g of r_g. For any center j (a unit of cluster h) the triangle inequality
gives

    d(i, j) >= max(0, d(r_g, r_h) - delta_g - delta_h),

so a cluster of total workload W_g can be treated as one unit whose distance to every center
is shrunk by its own radius (and the center's). The aggregated relaxation is still a
relaxation: put X_gj = sum_{i in g} w_i x_ij / W_g, then sum_j X_gj = 1, X_gj <= y_j, the
workload of center j is sum_g W_g X_gj, and the cost is at least sum_g W_g X_gj D_gj with
D_gj the shrunk distance to the power p. Candidate centers of cluster h stand together
as one row (`center_count` of them), with the same shrunk distances.

For p = 1 the demand side needs no shrinking: with e_i = d(i, r_g),

    sum_j sum_{i in g} w_i x_ij d(i, j) >= sum_j W_g X_gj max(0, d(r_g, j) - delta_h) - sum_{i in g} w_i e_i

(per unit d(i, j) >= max(0, d(r_g, j) - delta_h) - e_i, and sum_j x_ij = 1), so the clusters keep
their distances (shrunk by the center's radius only) and the bound subtracts the constant
C = sum_i w_i e_i once: the members' mean distance to their representative instead of the
largest (about half as much on US places: benchmarks/results/tuning.md, "Bound").

Why: with one row per unit the bound's lists would need about 10 territories' worth of
units per row (see lists.list_length); at 20,000 units and k = 20 that is 200 M
pairs. A few thousand tight clusters keep one row per cluster with long lists, and the
radii (a few km) cost little against territories hundreds of km across.

    aggregate(problem, groups, seed=0) -> Aggregated
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from engine.geo import EARTH_RADIUS_KM, unit_vectors
from engine.problem import Problem
from solvers.bound.lists import SHAVE, NeighbourLists, list_rows, outside_shrink
from solvers.bound.params import BoundParams


@dataclass(frozen=True, eq=False)
class Aggregated:
    """What lagrangian_bound and neighbour_lists read from a problem, for the clusters."""

    n: int
    k: int
    lat: np.ndarray
    lon: np.ndarray
    weights: np.ndarray  # W_g, summed workload
    unit_shrink: np.ndarray  # demand-side shrink (km): delta_g, or 0 with the offset (p = 1)
    center_shrink: np.ndarray  # delta_g (km): every member lies within it of the representative
    offset: float  # C = sum_i w_i d(i, r_g) (p = 1), subtracted from the bound; else 0
    center_count: np.ndarray  # units of the cluster (candidate centers its row stands for)
    member: np.ndarray  # cluster of each original unit
    distance_power: int
    balanced: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    explicit_distances: None = None


def aggregate(problem: Problem, groups: int, seed: int = 0, lloyd_steps: int = 4) -> Aggregated:
    """Cluster the units into about `groups` groups (Lloyd steps on the unit sphere from a
    random sample); each group's radius is measured exactly, by haversine, from its
    representative, then padded for rounding."""
    from engine.geo import haversine_km

    n = problem.n
    xyz = unit_vectors(problem.lat, problem.lon)
    rng = np.random.default_rng(seed)
    G = int(min(max(groups, problem.k), n))
    centers = xyz[np.sort(rng.choice(n, G, replace=False))]
    w = np.asarray(problem.weights, dtype=float)
    mass = np.where(w > 0, w, 0.0) + 1e-9  # weight the means a little towards heavy units
    for _ in range(lloyd_steps):
        _, near = cKDTree(centers).query(xyz, k=1, workers=-1)
        sums = np.zeros_like(centers)
        np.add.at(sums, near, xyz * mass[:, None])
        cnt = np.bincount(near, weights=mass, minlength=len(centers))
        keep = cnt > 0
        c = sums[keep] / cnt[keep, None]
        centers = c / np.linalg.norm(c, axis=1, keepdims=True)
    _, near = cKDTree(centers).query(xyz, k=1, workers=-1)
    used, near = np.unique(near, return_inverse=True)
    centers = centers[used]
    lat = np.degrees(np.arcsin(np.clip(centers[:, 2], -1.0, 1.0)))
    lon = np.degrees(np.arctan2(centers[:, 1], centers[:, 0]))
    d = haversine_km(problem.lat, problem.lon, lat[near], lon[near])
    shrink = np.zeros(len(centers))
    np.maximum.at(shrink, near, d)
    # pad: haversine rounding here and in the bound's own distances (both ~SHAVE relative)
    shrink = shrink * (1.0 + SHAVE) + SHAVE * EARTH_RADIUS_KM * 1e-3
    weights = np.bincount(near, weights=w, minlength=len(centers))
    linear = problem.distance_power == 1
    offset = float((w * (d * (1.0 + SHAVE) + SHAVE * EARTH_RADIUS_KM * 1e-3)).sum()) if linear else 0.0
    return Aggregated(
        n=len(centers),
        k=problem.k,
        lat=lat,
        lon=lon,
        weights=weights,
        unit_shrink=np.zeros(len(centers)) if linear else shrink,
        center_shrink=shrink,
        offset=offset * (1.0 + SHAVE),
        center_count=np.bincount(near, minlength=len(centers)).astype(np.int64),
        member=near,
        distance_power=problem.distance_power,
        balanced=problem.balanced,
        lower=problem.lower,
        upper=problem.upper,
    )


def member_rows(
    agg: Aggregated, problem: Problem, clusters: np.ndarray, m: int, params: BoundParams | None = None
) -> NeighbourLists:
    """One row per member unit of the given clusters, each at the member's own position: a
    cluster's row stands for all its candidate centers with distances shrunk by its radius
    (the center side), a member's row for that one center with exact distances. Each list
    holds the m clusters nearest the member; every other cluster's representative is at least
    the (m+1)-th distance away, less the largest demand-side radius (as in neighbour_lists)."""
    clusters = np.asarray(clusters, dtype=np.int64)
    units = np.flatnonzero(np.isin(agg.member, clusters))
    units = units[np.argsort(agg.member[units], kind="stable")]
    m = int(min(m, agg.n - 1))
    shrink = np.asarray(agg.unit_shrink, dtype=float)
    tree = cKDTree(unit_vectors(agg.lat, agg.lon))
    idx, dp, radius_p = list_rows(
        tree,
        unit_vectors(problem.lat[units], problem.lon[units]),
        m,
        agg.distance_power,
        shrink,
        outside_shrink(shrink, params),
    )
    return NeighbourLists(
        rep=agg.member[units],
        mult=np.ones(len(units), dtype=np.int64),
        delta=np.zeros(len(units)),
        idx=idx.astype(np.int32),
        dp=dp,
        radius_p=radius_p,
        rep_lat=np.asarray(problem.lat[units], dtype=float),
        rep_lon=np.asarray(problem.lon[units], dtype=float),
    )
