"""bound_outside: the per-block sums match a direct count, and the block floors are lower
bounds on every member's distance."""

import numpy as np
import pytest

from engine.geo import haversine_km
from solvers.bound.outside import Blocks, Outside


@pytest.mark.parametrize("seed", range(5))
def test_terms_and_cover_match_a_direct_count(seed):
    rng = np.random.default_rng(seed)
    n, B, R = 60, 7, 9
    label = rng.integers(0, B, n)
    label[:B] = np.arange(B)  # every block has a unit
    blocks = Blocks(label, np.zeros(B), np.zeros(B), np.zeros(B))  # geometry unused here
    v = rng.random(n) * 10
    w = rng.random(n) + 0.1
    counted = rng.random(n) > 0.2
    levels = rng.random((R, B)) * 12 - 1
    out = Outside(blocks, v, w, counted)
    rho, load = out.terms(levels)
    lev_u = levels[:, label]  # (R, n): each unit at its block's level
    take = counted[None, :] & (v[None, :] > lev_u)
    assert np.allclose(rho, (np.where(take, w * (lev_u - v), 0.0)).sum(axis=1))
    assert np.allclose(load, (np.where(take, w, 0.0)).sum(axis=1))
    cnt = rng.integers(1, 4, R).astype(float)
    assert np.allclose(out.cover(levels, cnt, n), (take * cnt[:, None]).sum(axis=0))


def test_block_floor_is_below_every_members_distance():
    from types import SimpleNamespace

    from solvers.bound.outside import make_blocks

    rng = np.random.default_rng(1)
    n = 400
    lat, lon = 40 + rng.random(n) * 5, -100 + rng.random(n) * 8
    prob = SimpleNamespace(
        n=n,
        k=4,
        lat=lat,
        lon=lon,
        weights=np.ones(n),
        distance_power=1,
        balanced=np.array([True]),
        lower=np.array([0.0]),
        upper=np.array([1e9]),
        explicit_distances=None,
    )
    blocks = make_blocks(prob, 16)
    qlat, qlon = 38 + rng.random(30) * 9, -103 + rng.random(30) * 12
    for p in (1, 2):
        floor = blocks.floor_p(qlat, qlon, np.zeros(30), p)
        d = haversine_km(qlat[:, None], qlon[:, None], lat[None, :], lon[None, :]) ** p
        assert (floor[:, blocks.label] <= d).all()
        assert floor.max() > 0
