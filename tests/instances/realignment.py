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
