"""Lagrangian lower bound: never above the true optimum (brute force on tiny instances,
the exact method's proved optima on small ones), tight enough to be useful, and on time."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.problem import build_problem
from models import Scenario, SolveOptions
from solvers.bound.lagrangian import SOURCE_BALANCED, SOURCE_PLAIN, lagrangian_bound
from solvers.clock import Clock
from solvers.solve import solve
from tests.brute_force import brute_optimum
from tests.instances import problem_of, square_points, synthetic_scenario


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("power", [1, 2])
def test_bound_never_above_brute_force_optimum(seed, power):
    prob = problem_of(square_points(7, 3, seed=seed, power=power, explicit=seed % 2 == 1, dup=seed % 3))
    opt = brute_optimum(prob.with_(contiguity=False))[0]  # <= the contiguous optimum: a harder test
    if opt is None:
        pytest.skip("no feasible plan")
    # short lists exercise the outside correction; few pairs make rows stand for groups of
    # centers with shrunk distances (explicit matrices always keep one row per unit)
    for m, pairs in ((None, None), (2, None), (3, None), (4, 12)):
        res = lagrangian_bound(prob, Clock(2.0), upper=opt, max_list=m, max_pairs=pairs)
        assert res is not None
        assert res.bound <= opt * (1 + 1e-12) + 1e-9, (m, pairs, res.bound, opt)


@pytest.mark.parametrize("seed", range(3))
def test_bound_without_balance_is_plain_pmedian_and_valid(seed):
    prob = problem_of(square_points(7, 2, seed=seed, balance=False))
    opt = brute_optimum(prob.with_(contiguity=False))[0]
    res = lagrangian_bound(prob, Clock(5.0), upper=opt)
    assert res.source == SOURCE_PLAIN
    assert res.bound <= opt * (1 + 1e-12)
    assert res.bound >= 0.9 * opt  # the p-median Lagrangian is tight on tiny instances


def test_balance_tightens_the_bound():
    prob = problem_of(square_points(8, 3, seed=4, tol=0.1))
    opt = brute_optimum(prob.with_(contiguity=False))[0]
    if opt is None:
        pytest.skip("no feasible plan")
    plain = lagrangian_bound(prob.with_(balanced=np.zeros_like(prob.balanced)), Clock(5.0), upper=opt)
    bal = lagrangian_bound(prob, Clock(5.0), upper=opt)
    assert bal.source == SOURCE_BALANCED
    assert plain.bound <= bal.bound + 1e-9 <= opt * (1 + 1e-12) + 1e-9


@pytest.mark.parametrize("seed", range(2))
def test_bound_below_exact_optimum(seed):
    from solvers.exact.hess import solve_exact

    prob = problem_of(square_points(24, 3, seed=seed, tol=0.1, power=2))
    res = solve_exact(prob, SolveOptions(method="exact", time_limit_s=30), Clock(30))
    if res.status != "optimal":
        pytest.skip("exact did not prove optimality in time")
    b = lagrangian_bound(prob, Clock(5.0), upper=res.objective, labels=res.labels)
    assert b.bound <= res.objective * (1 + 1e-9)
    assert b.bound >= 0.5 * res.objective


def test_bound_is_useful_on_a_clustered_instance():
    from solvers.heuristic import solve_heuristic

    prob = build_problem(Scenario.model_validate(synthetic_scenario(1000, 8)))
    plan = solve_heuristic(prob, SolveOptions(method="heuristic", time_limit_s=10), Clock(10))
    b = lagrangian_bound(prob, Clock(3.0), upper=plan.objective, labels=plan.labels)
    assert b.source == SOURCE_BALANCED
    assert b.bound <= plan.objective
    assert b.bound >= 0.8 * plan.objective  # measured: ~0.9


def test_bound_honours_the_clock():
    prob = problem_of(square_points(3000, 20, seed=1))
    t0 = time.monotonic()
    res = lagrangian_bound(prob, Clock(1.0))
    assert time.monotonic() - t0 < 2.5
    assert res is None or res.bound >= 0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("power", [1, 2])
def test_aggregated_demand_bound_never_above_brute_force_optimum(seed, power):
    """Clusters stand for their units with distances shrunk by the clusters' radii: still a
    relaxation, whatever the clustering (few groups = big radii, short lists, grouped rows)."""
    prob = problem_of(square_points(7, 3, seed=seed, power=power, dup=seed % 3))
    opt = brute_optimum(prob.with_(contiguity=False))[0]
    if opt is None:
        pytest.skip("no feasible plan")
    for groups, m, pairs in ((4, None, None), (5, 2, None), (6, 3, 6), (4, None, 4)):
        res = lagrangian_bound(prob, Clock(2.0), upper=opt, max_list=m, max_pairs=pairs, aggregate_groups=groups)
        assert res is not None and "aggregated" in res.source
        assert res.bound <= opt * (1 + 1e-12) + 1e-9, (groups, m, pairs, res.bound, opt)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("power", [1, 2])
def test_refined_rows_keep_the_bound_below_the_optimum(seed, power):
    """During the ascent, the cluster rows the bound picks as centers are replaced by one row
    per member at its own position (no center-side shrink): still a relaxation."""
    prob = problem_of(square_points(8, 2, seed=seed, power=power, dup=seed % 3))
    opt = brute_optimum(prob.with_(contiguity=False))[0]
    if opt is None:
        pytest.skip("no feasible plan")
    res = lagrangian_bound(prob, Clock(1.0), upper=opt, aggregate_groups=3)
    assert res is not None and "at their own position" in res.source, res.source
    assert res.bound <= opt * (1 + 1e-12) + 1e-9, (res.bound, opt)


def test_aggregated_bound_below_a_feasible_plan_and_useful():
    """Many units per territory (the regime where the bound aggregates): 300 clusters of 900
    uniform points keep most of the unaggregated bound (measured 34.7 k vs 46.0 k)."""
    prob = problem_of(square_points(900, 3, seed=3, tol=0.1, power=1))
    res = solve(prob, SolveOptions(method="heuristic", time_limit_s=15, seed=0)).result
    assert res.status == "feasible"
    full = lagrangian_bound(prob, Clock(5.0), upper=res.objective, aggregate_groups=0)
    agg = lagrangian_bound(prob, Clock(5.0), upper=res.objective, aggregate_groups=300)
    assert agg is not None and "aggregated into" in agg.source and "aggregated" not in full.source
    assert agg.bound <= res.objective * (1 + 1e-12)
    assert agg.bound > 0.6 * full.bound


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    groups=st.integers(2, 6),
    power=st.sampled_from([1, 2]),
    tol=st.sampled_from([0.1, 0.3]),
)
def test_aggregated_bound_property(seed, groups, power, tol):
    """Any clustering (p = 1: members' distance subtracted once; p = 2: shrunk by the radius),
    float32 lists, steps steered on a subset of rows: the bound stays below the optimum."""
    prob = problem_of(square_points(7, 2, seed=seed, power=power, tol=tol, dup=seed % 2))
    opt = brute_optimum(prob.with_(contiguity=False))[0]
    assume(opt is not None)
    res = lagrangian_bound(prob, Clock(1.0), upper=opt, aggregate_groups=groups)
    assert res is not None
    assert res.bound <= opt * (1 + 1e-12) + 1e-9, (res.bound, opt)
