"""The compiled center costs (engine.center_costs) against the haversine formula (engine.geo)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.center_costs import center_costs
from engine.geo import haversine_km, unit_vectors


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
    p=st.sampled_from([1, 2]),
    spread=st.sampled_from([1e-6, 0.01, 1.0, 60.0, 180.0]),
)
def test_costs_equal_the_haversine_sums(seed, n, p, spread):
    """Any points (tiny to antipodal spreads, duplicates included), any weights."""
    rng = np.random.default_rng(seed)
    lat = np.clip(rng.uniform(-1, 1, n) * spread, -90, 90)
    lon = rng.uniform(-1, 1, n) * spread
    lat[rng.random(n) < 0.2] = lat[0]
    lon[lat == lat[0]] = lon[0]
    w = rng.uniform(0, 5, n)
    rows = rng.permutation(n)[: rng.integers(1, n + 1)]
    cands = rng.permutation(n)[: rng.integers(1, n + 1)]
    got = center_costs(unit_vectors(lat, lon), w, rows, cands, p)
    want = (
        w[rows][:, None]
        * haversine_km(lat[rows][:, None], lon[rows][:, None], lat[cands][None, :], lon[cands][None, :]) ** p
    ).sum(axis=0)
    scale = max(float(np.abs(want).max()), 1e-9)
    assert np.allclose(got, want, rtol=1e-9, atol=1e-9 * scale)


def test_best_center_is_the_same_by_either_sum():
    """The evaluator's center over a territory large enough for the compiled path is the
    member of least cost by the haversine sums (the NumPy path)."""
    import engine.evaluate as ev
    from engine.problem import build_problem
    from models import Scenario

    rng = np.random.default_rng(5)
    n = 900
    units = [
        {
            "id": f"u{i}",
            "lat": float(41 + rng.normal(0, 0.5)),
            "lon": float(-93 + rng.normal(0, 0.8)),
            "workload": float(rng.integers(1, 9)),
        }
        for i in range(n)
    ]
    prob = build_problem(Scenario.model_validate({"name": "t", "units": units, "territories": 2}))
    members = np.arange(n)
    assert n * min(n, ev.CENTER_CANDIDATES) >= ev.COMPILED_PAIRS  # the compiled path runs by default
    fast = ev.best_center(prob, members)
    assert fast == ev.best_center(prob, members, compiled=True)
    slow = ev.best_center(prob, members, compiled=False)
    d = lambda c: float((prob.weights * prob.dist_from(c)).sum())  # noqa: E731
    assert d(fast) <= d(slow) * (1 + 1e-12)
