"""Scenarios of scattered points, adjacency derived from the locations: around one point,
in a square, and clustered customers around towns (the heuristic benchmark's synthetic set)."""

from __future__ import annotations

import numpy as np


def points_scenario(n, k, seed=0, tol=0.05):
    """n customers scattered around one point in France, adjacency derived from the locations."""
    rng = np.random.default_rng(seed)
    lat = 48.0 + rng.normal(0, 1, n) * 0.5
    lon = 5.0 + rng.normal(0, 1, n) * 0.7
    units = [
        {
            "id": f"c{i}",
            "lat": float(lat[i]),
            "lon": float(lon[i]),
            "workload": float(rng.choice([1, 2, 4])),
            "potential": float(rng.lognormal(3, 0.8)),
        }
        for i in range(n)
    ]
    return {
        "name": f"points {n}",
        "units": units,
        "territories": k,
        "balance": [{"measure": "workload", "tolerance": tol}, {"measure": "potential", "tolerance": tol}],
        "contiguity": True,
    }


def square_points(n, k, seed=0, tol=0.2, power=1, explicit=False, dup=0, balance=True) -> dict:
    """n units uniform in a 0.5 x 0.5 degree square, workload and potential 1..8; `dup` of them
    at the first unit's address; `explicit`: a rounded Euclidean distance matrix instead."""
    rng = np.random.default_rng(seed)
    lat = 40 + rng.uniform(0, 0.5, n)
    lon = -90 + rng.uniform(0, 0.5, n)
    for d in range(dup):  # several customers at one address
        lat[n - 1 - d], lon[n - 1 - d] = lat[0], lon[0]
    ids = [f"u{i}" for i in range(n)]
    units = [
        {
            "id": ids[i],
            "lat": float(lat[i]),
            "lon": float(lon[i]),
            "workload": float(rng.integers(1, 9)),
            "potential": float(rng.integers(1, 9)),
        }
        for i in range(n)
    ]
    sc = {
        "name": "b",
        "units": units,
        "territories": k,
        "contiguity": True,
        "objective": {"distance_power": power},
        "balance": [{"measure": "workload", "tolerance": tol}] if balance else [],
    }
    if explicit:
        xy = rng.uniform(0, 10, (n, 2))
        sc["distances"] = {
            "ids": ids,
            "values": np.round(np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)), 1).tolist(),
        }
    return sc


def synthetic_scenario(n: int, k: int, seed: int = 0, tol: float = 0.05, clusters: int = 12) -> dict:
    """Clustered customers around a few towns; workload from visit tiers, lognormal potential."""
    rng = np.random.default_rng(seed)
    centers = np.column_stack([rng.uniform(45.0, 50.0, clusters), rng.uniform(2.0, 10.0, clusters)])
    sizes = rng.dirichlet(np.ones(clusters) * 2.0)
    which = rng.choice(clusters, size=n, p=sizes)
    spread = rng.uniform(0.05, 0.6, clusters)
    lat = centers[which, 0] + rng.normal(0, 1, n) * spread[which]
    lon = centers[which, 1] + rng.normal(0, 1, n) * spread[which] * 1.4
    lat = np.clip(lat, -89.0, 89.0)
    tiers = np.array([1.0, 2.0, 4.0, 8.0])
    workload = rng.choice(tiers, size=n, p=[0.5, 0.3, 0.15, 0.05])
    potential = rng.lognormal(mean=3.0, sigma=1.0, size=n)
    units = [
        {
            "id": f"c{i}",
            "lat": float(lat[i]),
            "lon": float(lon[i]),
            "workload": float(workload[i]),
            "potential": float(potential[i]),
        }
        for i in range(n)
    ]
    return {
        "name": f"synthetic n={n} k={k}",
        "units": units,
        "territories": k,
        "balance": [{"measure": "workload", "tolerance": tol}, {"measure": "potential", "tolerance": tol}],
        "contiguity": True,
        "objective": {"distance_power": 1},
    }


def long_points(n: int = 1000, k: int = 16, seed: int = 0) -> dict:
    """Random points (Delaunay adjacency), tight balance: the heuristic keeps improving for ~10 s (1 core)."""
    rng = np.random.default_rng(seed)
    units = [
        {
            "id": f"p{i}",
            "lat": float(35 + 2 * rng.random()),
            "lon": float(-90 + 2 * rng.random()),
            "workload": float(rng.integers(1, 20)),
            "potential": float(rng.integers(1, 100)),
        }
        for i in range(n)
    ]
    return {
        "name": f"points {n}",
        "units": units,
        "territories": k,
        "balance": [{"measure": "workload", "tolerance": 0.02}, {"measure": "potential", "tolerance": 0.05}],
    }
