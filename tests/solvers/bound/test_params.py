"""BoundParams: every field checked when made (the error names it), frozen, and passed down
to where it acts: the ascent's step count, the lists, the schedule's share, the child."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.bound import BoundParams, lagrangian_bound
from solvers.bound.lists import list_length, long_lists_fit, neighbour_lists, wide_clusters
from solvers.bound.schedule import reserved_seconds
from solvers.bound.side import SideBound
from solvers.clock import Clock
from tests.brute_force import brute_optimum
from tests.instances import problem_of, square_points

FIELDS = [f.name for f in dataclasses.fields(BoundParams)]


def _bad_values(name: str) -> list:
    """Values no field accepts (wrong type, negative, NaN), and ones out of this field's range."""
    value = getattr(BoundParams(), name)
    if isinstance(value, tuple):
        return [None, ("a",) * len(value), (-1.0,) * len(value), 0.5]
    bad = ["3", None, -1, float("nan"), True]
    if isinstance(value, int):
        bad.append(1.5)
    return bad


@pytest.mark.parametrize("name", FIELDS)
def test_each_field_rejects_bad_values_by_name(name):
    for bad in _bad_values(name):
        with pytest.raises(ValueError, match=rf"BoundParams\.{name}\b"):
            BoundParams(**{name: bad})


def test_ranges_and_orders_between_fields():
    for kw, field in (
        ({"active_share": 0.0}, "active_share"),
        ({"active_share": 1.5}, "active_share"),
        ({"lam_shrink": 0.0}, "lam_shrink"),
        ({"theta_grow": 0.9}, "theta_grow"),
        ({"refine_at": (0.5, 0.2)}, "refine_at"),
        ({"refine_at": (0.5, 1.2)}, "refine_at"),
        ({"refine_cover": (25.0,)}, "refine_cover"),
        ({"blocks_min": 300}, "blocks_min"),
        ({"min_pairs_agg": 50_000_000}, "min_pairs_agg"),
        ({"max_iter": 0}, "max_iter"),
    ):
        with pytest.raises(ValueError, match=field):
            BoundParams(**kw)
    ok = BoundParams(refine_at=(), active_share=1.0, top=0, wide_share=0.0, after_share=0.0)
    assert ok.refine_at == () and ok.top == 0


def test_params_are_frozen_and_hashable():
    p = BoundParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.max_iter = 5  # type: ignore[misc]
    assert hash(p) == hash(BoundParams()) and p == BoundParams()
    assert dataclasses.replace(p, max_iter=5).max_iter == 5


@settings(max_examples=30, deadline=None)
@given(
    max_iter=st.integers(1, 12),
    full_every=st.integers(1, 6),
    top=st.integers(0, 40),
    active_share=st.floats(0.01, 1.0),
    stale_steps=st.integers(1, 20),
    seed=st.integers(0, 5),
)
def test_any_valid_params_give_a_bound_below_the_optimum_within_their_steps(
    max_iter, full_every, top, active_share, stale_steps, seed
):
    prob = problem_of(square_points(7, 3, seed=seed, power=1 + seed % 2))
    opt = brute_optimum(prob.with_(contiguity=False))[0]
    params = BoundParams(
        max_iter=max_iter, full_every=full_every, top=top, active_share=active_share, stale_steps=stale_steps
    )
    res = lagrangian_bound(prob, Clock(10.0), upper=opt, params=params)
    assert res is not None and res.iterations <= max_iter
    if opt is not None:
        assert res.bound <= opt * (1 + 1e-12) + 1e-9


def test_max_iter_argument_overrides_the_params():
    prob = problem_of(square_points(30, 3, seed=1))
    assert lagrangian_bound(prob, Clock(10.0), params=BoundParams(max_iter=7)).iterations <= 7
    assert lagrangian_bound(prob, Clock(10.0), max_iter=3, params=BoundParams(max_iter=7)).iterations <= 3


def test_list_params_reach_the_lists():
    assert long_lists_fit(2000, 20) and not long_lists_fit(2000, 20, BoundParams(max_pairs_long=1000))
    assert list_length(2000, 20) == 1000  # long_list = 10 territories' worth
    assert list_length(2000, 20, BoundParams(long_list=5.0)) == 500
    assert list_length(2000, 20, BoundParams(max_pairs_long=1000)) == 350  # short_list = 3.5
    assert list_length(100, 20) == 50 and list_length(100, 20, BoundParams(min_list=60)) == 60
    shrink = np.arange(200, dtype=float)
    assert wide_clusters(shrink).sum() == 4  # 2 %
    assert wide_clusters(shrink, BoundParams(wide_share=0.1, wide_max=7)).sum() == 7
    prob = problem_of(square_points(50, 3, seed=2, explicit=True))
    assert neighbour_lists(prob, 3, Clock(10.0), params=BoundParams(max_explicit=49)) is None
    assert neighbour_lists(prob, 3, Clock(10.0), params=BoundParams(max_explicit=50)) is not None


def test_reserved_seconds_follow_the_params():
    clock = Clock(100.0)
    assert reserved_seconds(clock, beside=False) == pytest.approx(15.0)
    assert reserved_seconds(clock, beside=False, params=BoundParams(after_share=0.3)) == pytest.approx(30.0)
    assert reserved_seconds(clock, beside=False, params=BoundParams(after_max_s=4.0)) == pytest.approx(4.0)
    assert reserved_seconds(clock, beside=True, params=BoundParams(after_share=0.3)) == 0.0


def test_the_child_process_gets_the_params():
    """The params travel with the problem to the child: its steps stop at side_max_iter."""
    prob = problem_of(square_points(40, 3, seed=5, power=1))
    side = SideBound.start(prob, time.monotonic() + 20.0, params=BoundParams(side_max_iter=4))
    assert side is not None
    res = side.finish(stop=False, wait_s=20.0)
    assert res is not None and 1 <= res.iterations <= 4
