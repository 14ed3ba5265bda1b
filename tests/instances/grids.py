"""Grid scenarios small enough to reason about (and to brute-force), drawn in the docstrings
where the picture matters: plain and weighted grids, a perturbed alignment, reps with homes and
skills."""

from __future__ import annotations

import numpy as np


def grid_scenario(rows: int, cols: int, k: int, **extra) -> dict:
    """A rows x cols grid of unit squares, 4-neighbour adjacency, ids 'r-c'."""
    units = [
        {"id": f"{r}-{c}", "lat": 40 + 0.1 * r, "lon": -90 + 0.1 * c, "workload": 1.0, "potential": 1.0}
        for r in range(rows)
        for c in range(cols)
    ]
    adjacency = [[f"{r}-{c}", f"{r}-{c + 1}"] for r in range(rows) for c in range(cols - 1)]
    adjacency += [[f"{r}-{c}", f"{r + 1}-{c}"] for r in range(rows - 1) for c in range(cols)]
    data = {"name": f"grid {rows}x{cols}", "units": units, "adjacency": adjacency, "territories": k}
    data.update(extra)
    return data


def weighted_grid(rows, cols, k, tol=0.05, seed=0, locks=None, power=1):
    """A rows x cols grid (ids 'u{r}_{c}', 0.05 degrees apart, 4-neighbour adjacency), random
    workload 5..14 and lognormal potential, both balanced within `tol`; `locks` maps (r, c) to a
    territory id."""
    rng = np.random.default_rng(seed)
    units, adjacency = [], []
    for r in range(rows):
        for c in range(cols):
            u = {
                "id": f"u{r}_{c}",
                "lat": 40.0 + 0.05 * r,
                "lon": -90.0 + 0.05 * c,
                "workload": float(rng.integers(5, 15)),
                "potential": float(rng.lognormal(2.0, 0.4)),
            }
            if locks and (r, c) in locks:
                u["lock"] = locks[(r, c)]
            units.append(u)
            if r + 1 < rows:
                adjacency.append([f"u{r}_{c}", f"u{r + 1}_{c}"])
            if c + 1 < cols:
                adjacency.append([f"u{r}_{c}", f"u{r}_{c + 1}"])
    return {
        "name": f"grid {rows}x{cols}",
        "units": units,
        "adjacency": adjacency,
        "territories": k,
        "balance": [{"measure": "workload", "tolerance": tol}, {"measure": "potential", "tolerance": tol}],
        "contiguity": True,
        "objective": {"distance_power": power},
    }


def perturbed_grid():
    """
    6x6 grid, 4 territories as quadrants, then the boundary column 2 of the top-left
    quadrant moved into the top-right one: T1 has 6 units, T2 12, so T2 is +33 %.
    """
    data = grid_scenario(6, 6, 4)
    for u in data["units"]:
        r, c = map(int, u["id"].split("-"))
        u["current"] = ["T1", "T2", "T3", "T4"][(r >= 3) * 2 + (c >= 3)]
        if r < 3 and c == 2:
            u["current"] = "T2"
    return data


REP_GRID_SIDE = 14


def rep_grid(seed=0, k=4, side=REP_GRID_SIDE, **extra) -> dict:
    """
    side x side grid (14 x 14: 196 units, above the exact model's 150), random workloads 1..3,
    +-15 % workload balance, k reps with homes in the k quadrants-ish; current alignment in
    vertical stripes; 3 units need 'med' and only rep r0 has it.
    """
    rng = np.random.default_rng(seed)
    data = grid_scenario(side, side, k)
    for u in data["units"]:
        r, c = map(int, u["id"].split("-"))
        u["workload"] = float(rng.integers(1, 4))
        u["current"] = f"T{c * k // side + 1}"
    data["balance"] = [{"measure": "workload", "tolerance": 0.15}]
    corners = [(0.3, 0.3), (0.3, 1.0), (1.0, 0.3), (1.0, 1.0), (0.65, 0.65)]
    data["reps"] = [
        {
            "id": f"r{t}",
            "lat": 40 + corners[t][0],
            "lon": -90 + corners[t][1],
            "current": f"T{t + 1}",
            "skills": ["med"] if t == 0 else [],
        }
        for t in range(k)
    ]
    for i in (0, 1, 15):
        data["units"][i]["skills"] = ["med"]
    data.update(extra)
    return data


def skill_grid(penalty: float | None, rows=2, cols=4, k=2, seed=0) -> dict:
    """
    rows x cols grid, k reps with homes spread along the grid, workloads 1..3, +-40 % balance.
    Units 0-0 and the last unit need 'med'; only rep r1 (home at the far end from 0-0) has it,
    so serving 0-0 by its nearest rep r0 costs a skill.
    """
    rng = np.random.default_rng(seed)
    data = grid_scenario(rows, cols, k)
    for u in data["units"]:
        u["workload"] = float(rng.integers(1, 4))
    data["units"][0]["skills"] = ["med"]
    data["units"][-1]["skills"] = ["med"]
    data["balance"] = [{"measure": "workload", "tolerance": 0.4}]
    data["reps"] = [
        {
            "id": f"r{t}",
            "lat": 40 + 0.1 * rng.uniform(0, rows - 1),
            "lon": -90 + 0.1 * (cols - 1) * t / max(k - 1, 1),
            "skills": ["med"] if t == 1 else [],
        }
        for t in range(k)
    ]
    if penalty is not None:
        data["skills"] = {"mode": "soft", "penalty": penalty}
    return data
