"""Annual realignment instances: a county map with a current alignment, and a perturbation
that unbalances an alignment the way a year of changes does (benchmarks/realignment.py)."""

from __future__ import annotations

import json

import numpy as np

from engine.contiguity import territory_components
from tests.instances.paths import DISTRICTING


def county_realignment(
    state: str, k: int, tol: float, current: list[str] | None = None, minimize="compactness"
) -> dict:
    """The counties of state `state` (GEOID10, C_Y/C_X as lat/lon, workload = TOTPOP, adjacency
    from the graph), workload within `tol`, with a `current` territory per county when given."""
    g = json.loads((DISTRICTING / "county" / f"county{state}.json").read_text())
    nodes = g["nodes"]
    ids = [str(nd["GEOID10"]) for nd in nodes]
    units = []
    for i, nd in enumerate(nodes):
        u = {
            "id": ids[i],
            "name": nd.get("NAME10"),
            "lat": float(nd["C_Y"]),
            "lon": float(nd["C_X"]),
            "workload": float(nd["TOTPOP"]),
        }
        if current is not None:
            u["current"] = current[i]
        units.append(u)
    edges = sorted(
        {(min(i, e["id"]), max(i, e["id"])) for i, nbrs in enumerate(g["adjacency"]) for e in nbrs if e["id"] != i}
    )
    return {
        "name": f"county{state} k={k}",
        "units": units,
        "adjacency": [[ids[a], ids[b]] for a, b in edges],
        "territories": k,
        "balance": [{"measure": "workload", "tolerance": tol}],
        "objective": {"minimize": minimize},
    }


def perturb(problem, labels: np.ndarray, target: float, seed: int) -> np.ndarray:
    """Move boundary units between neighbouring territories, keeping both contiguous, until
    one territory is about +target and another about -target of the mean."""
    rng = np.random.default_rng(seed)
    labels = labels.copy()
    k, w = problem.k, problem.weights
    mean = w.sum() / k
    adj = problem.adj.tocsr()

    def dev(lab):
        return np.bincount(lab, weights=w, minlength=k) / mean - 1

    def moves(grow: int | None, shrink: int | None):
        d = dev(labels)
        out = []
        for u in range(problem.n):
            a = labels[u]
            for b in set(labels[adj.indices[adj.indptr[u] : adj.indptr[u + 1]]].tolist()) - {a}:
                if (grow is not None and b != grow) or (shrink is not None and a != shrink):
                    continue
                if d[b] + w[u] / mean > target or d[a] - w[u] / mean < -target:
                    continue
                lab = labels.copy()
                lab[u] = b
                if territory_components(problem.adj, lab, k)[a] == 1:
                    out.append((u, b))
        return out

    grow = int(rng.integers(k))
    while dev(labels)[grow] < target - 0.01:
        cand = moves(grow, None)
        if not cand:
            break
        u, b = cand[int(rng.integers(len(cand)))]
        labels[u] = b
    shrink = int(np.argsort(dev(labels))[1]) if k > 2 else int(np.argmin(dev(labels)))
    while dev(labels)[shrink] > -(target - 0.01):
        cand = [(u, b) for u, b in moves(None, shrink) if b != grow]
        if not cand:
            break
        u, b = cand[int(rng.integers(len(cand)))]
        labels[u] = b
    return labels


# Four Midwest metros (lat, lon): where a new user's 1,300 customers were (issue 18).
MIDWEST = {
    "Chicago": (41.88, -87.63),
    "Milwaukee": (43.04, -87.91),
    "Indianapolis": (39.77, -86.16),
    "Detroit": (42.33, -83.05),
}


def metro_customers(
    n: int,
    k: int,
    seed: int = 0,
    metros: dict[str, tuple[float, float]] | None = None,
    workload_tol: float = 0.05,
    potential_tol: float = 0.10,
) -> dict:
    """n customers scattered around metros (more around the first ones, 10-60 km from the
    center), workload from visit tiers (1-8), lognormal potential; k territories, workload and
    potential balanced within their tolerances; adjacency derived from the locations."""
    rng = np.random.default_rng(seed)
    metros = metros or MIDWEST
    centers = np.array(list(metros.values()))
    share = np.linspace(2.0, 1.0, len(centers))
    which = rng.choice(len(centers), size=n, p=share / share.sum())
    r_km = rng.gamma(2.0, 12.0, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    lat = centers[which, 0] + r_km * np.sin(angle) / 111.0
    lon = centers[which, 1] + r_km * np.cos(angle) / (111.0 * np.cos(np.radians(centers[which, 0])))
    workload = rng.choice([1.0, 2.0, 4.0, 8.0], size=n, p=[0.45, 0.3, 0.18, 0.07])
    potential = np.round(rng.lognormal(10.0, 0.8, n), -2)
    units = [
        {
            "id": f"c{i}",
            "lat": round(float(lat[i]), 5),
            "lon": round(float(lon[i]), 5),
            "workload": float(workload[i]),
            "potential": float(potential[i]),
        }
        for i in range(n)
    ]
    return {
        "name": f"{n} customers around {', '.join(metros)}",
        "units": units,
        "territories": k,
        "balance": [
            {"measure": "workload", "tolerance": workload_tol},
            {"measure": "potential", "tolerance": potential_tol},
        ],
    }


def drift(problem, labels: np.ndarray, share: float, seed: int = 0) -> np.ndarray:
    """A year of hand edits: `share` of the units moved one at a time to a neighbouring
    territory, each move keeping both territories connected and non-empty."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels).copy()
    neighbours = problem.neighbour_lists
    target = int(round(share * problem.n))
    moved: set[int] = set()
    for u in rng.permutation(problem.n).tolist():
        if len(moved) >= target:
            break
        a = int(labels[u])
        others = sorted({int(labels[v]) for v in neighbours[u]} - {a})
        if not others or (labels == a).sum() <= 1:
            continue
        b = others[int(rng.integers(len(others)))]
        trial = labels.copy()
        trial[u] = b
        if territory_components(problem.adj, trial, problem.k)[a] == 1:
            labels = trial
            moved.add(u)
    return labels


def grow_metro(data: dict, lat: float, lon: float, radius_km: float, factor: float) -> dict:
    """The scenario with the workload of every unit within radius_km of (lat, lon) times factor
    (a metro whose accounts grew)."""
    from engine.geo import haversine_km

    units = []
    for u in data["units"]:
        near = haversine_km(lat, lon, u["lat"], u["lon"]) <= radius_km
        units.append({**u, "workload": u.get("workload", 1.0) * factor} if near else u)
    return {**data, "units": units}


def with_current(data: dict, territory_ids: list[str], labels: np.ndarray) -> dict:
    """The scenario with each unit's `current` territory from labels (indices into territory_ids)."""
    units = [{**u, "current": territory_ids[int(t)]} for u, t in zip(data["units"], labels)]
    return {**data, "units": units}
