"""Rep-centric customer sets: reps with homes, skills and capacities (the rep-centric
heuristic's benchmark, benchmarks/reps_heuristic.py)."""

from __future__ import annotations

import numpy as np


def rep_customers(n: int, k: int, seed: int = 0, soft_penalty: float | None = None, skills: bool = True) -> dict:
    """n customers in Gaussian clusters around "towns" in a 600 x 400 km box in the US Midwest,
    tiers A/B/C (24/12/4 visits a year, 1.5/1/1 h a visit, 0.5 h travel a visit); 3 % need skill
    'medical' (with `skills`), held by a third of the k reps, who live in the largest towns;
    two part-time reps have a workload capacity of 95 % of the mean; workload within +-10 %."""
    rng = np.random.default_rng(seed)
    towns = max(3 * k, 30)
    tlat = rng.uniform(39.0, 42.6, towns)
    tlon = rng.uniform(-96.0, -89.0, towns)
    size = rng.pareto(1.2, towns) + 1.0
    town = rng.choice(towns, n, p=size / size.sum())
    spread = 0.08 + 0.05 * np.sqrt(size[town] / size.max())
    lat = np.clip(tlat[town] + rng.normal(0, spread), 38.5, 43.0)
    lon = np.clip(tlon[town] + rng.normal(0, spread * 1.3), -96.5, -88.5)
    tier = rng.choice(["A", "B", "C"], n, p=[0.15, 0.35, 0.5])
    units = []
    for i in range(n):
        u = {
            "id": f"c{i}",
            "lat": round(float(lat[i]), 5),
            "lon": round(float(lon[i]), 5),
            "tier": str(tier[i]),
            "potential": round(float(rng.lognormal(8, 0.6)), 1),
        }
        if rng.random() < 0.03 and skills:
            u["skills"] = ["medical"]
        units.append(u)
    tiers = {
        "A": {"visits_per_year": 24, "hours_per_visit": 1.5, "travel_hours_per_visit": 0.5},
        "B": {"visits_per_year": 12, "hours_per_visit": 1.0, "travel_hours_per_visit": 0.5},
        "C": {"visits_per_year": 4, "hours_per_visit": 1.0, "travel_hours_per_visit": 0.5},
    }
    work = {"A": 48.0, "B": 18.0, "C": 6.0}
    mean = sum(work[t] for t in tier) / k
    homes = np.argsort(-size)[:k]
    reps = []
    for r, t in enumerate(homes):
        rep = {
            "id": f"rep{r}",
            "lat": round(float(tlat[t]), 5),
            "lon": round(float(tlon[t]), 5),
            "skills": ["medical"] if r % 3 == 0 else [],
        }
        if r in (1, 2):
            rep["capacity"] = {"workload": round(0.95 * mean, 1)}
        reps.append(rep)
    data = {
        "name": f"reps {n}/{k}",
        "units": units,
        "territories": k,
        "reps": reps,
        "tiers": tiers,
        "balance": [{"measure": "workload", "tolerance": 0.10}],
        "contiguity": True,
        "objective": {"distance_power": 1},
    }
    if soft_penalty is not None:
        data["skills"] = {"mode": "soft", "penalty": soft_penalty}
    return data
