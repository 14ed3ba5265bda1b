"""Exact-subproblem LNS of the heuristic: it never worsens a plan, every plan it leaves is
feasible (contiguous, balanced, locks kept), and a sub-MIP over the whole of a tiny
instance finds the brute-force optimum.

Grids are drawn row by row; a 3x4 grid has units u0_0 .. u2_3 and 4-neighbour adjacency.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.evaluate import evaluate
from engine.problem import build_problem
from models import Scenario, SolveOptions
from solvers.clock import Clock
from solvers.heuristic.lns import reoptimize
from solvers.heuristic.search import Search
from solvers.heuristic.state import State
from tests.instances import weighted_grid


def _search(problem, seed=0, t=30.0):
    return Search(problem, SolveOptions(method="heuristic", time_limit_s=t, seed=seed), Clock(t))


def _stripes(rows, cols, k):
    """Column stripes: a contiguous (not necessarily balanced) start."""
    return np.repeat(np.arange(cols) * k // cols, 1)[np.tile(np.arange(cols), rows)]


def test_whole_instance_subproblem_is_brute_force_optimal():
    """3x4 grid, k = 2, p = 2: the sub-MIP over both territories finds the best of all 2^11
    labellings the evaluator accepts."""
    problem = build_problem(Scenario.model_validate(weighted_grid(3, 4, 2, tol=0.2, seed=4, power=2)))
    best = None
    for bits in itertools.product([0, 1], repeat=problem.n - 1):
        labels = np.array((0, *bits))
        if labels.min() == labels.max():
            continue
        ev = evaluate(problem, labels)
        if ev.feasible and (best is None or ev.objective < best - 1e-9):
            best = ev.objective
    search = _search(problem)
    start = _stripes(3, 4, 2)
    assert evaluate(problem, start).feasible
    st0 = State(search.inst, start)
    res, proved = reoptimize(st0, [0, 1], search.clock, seed=0)
    labels = start if res is None else start.copy()
    if res is not None:
        labels[res[0]] = res[1]
    ev = evaluate(problem, labels)
    assert ev.feasible
    assert proved
    assert abs(ev.objective - best) <= 1e-6 * best


def test_lns_never_worsens_and_keeps_feasibility():
    problem = build_problem(Scenario.model_validate(weighted_grid(8, 9, 4, tol=0.1, seed=2, power=2)))
    search = _search(problem)
    start = np.where(np.tile(np.arange(9), 8) < 5, 0, 2) + (np.repeat(np.arange(8), 9) >= 4)
    ev0 = evaluate(problem, start)
    st0 = State(search.inst, start)
    search.repair_balance(st0)
    ev0 = evaluate(problem, st0.labels)
    assert ev0.feasible
    search.lns(st0, max_solves=40)
    ev = evaluate(problem, st0.labels)
    assert ev.feasible
    assert ev.objective <= ev0.objective + 1e-9 * ev0.objective
    assert search.lns_solves > 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.integers(3, 6),
    cols=st.integers(3, 7),
    k=st.integers(2, 4),
    seed=st.integers(0, 1000),
    nlocks=st.integers(0, 3),
    power=st.sampled_from([1, 2]),
)
def test_property_lns_keeps_plans_valid(rows, cols, k, seed, nlocks, power):
    """From the heuristic's own plan, LNS leaves a plan the evaluator accepts (contiguous,
    within tolerance, locks kept) at no higher cost."""
    rng = np.random.default_rng(seed)
    rows_at, cols_at = rng.integers(0, rows, nlocks), rng.integers(0, cols, nlocks)
    cells = [(int(r), int(c)) for r, c in zip(rows_at, cols_at, strict=True)]
    locks = {cell: f"T{int(rng.integers(1, k + 1))}" for cell in cells}
    scenario = weighted_grid(rows, cols, k, tol=0.15, seed=seed, locks=locks, power=power)
    problem = build_problem(Scenario.model_validate(scenario))
    search = _search(problem, seed=seed, t=10.0)
    labels = None
    from solvers.heuristic.construct import grow, seeds
    from solvers.heuristic.repair import repair_contiguity, repair_rules

    inst = search.inst
    labels = repair_rules(inst, repair_contiguity(inst, grow(inst, seeds(inst, search.rng), search.rng)))
    if np.bincount(labels, minlength=k).min() == 0:
        return
    st0 = State(search.inst, labels)
    search.improve(st0)
    ev0 = evaluate(problem, st0.labels)
    if not ev0.feasible:
        return
    search.lns(st0, max_solves=15)
    ev = evaluate(problem, st0.labels)
    assert ev.feasible, ev.violations
    assert ev.objective <= ev0.objective * (1 + 1e-9) + 1e-9


def test_same_seed_same_plan_with_lns():
    """18 units per territory: the LNS runs inside solve_heuristic, and its sub-MIPs stop at
    node limits, not the clock, so a seed repeats its plan."""
    from solvers.heuristic.solve import solve_heuristic

    problem = build_problem(Scenario.model_validate(weighted_grid(8, 9, 4, tol=0.05, seed=7, power=2)))
    opts = SolveOptions(method="heuristic", time_limit_s=60, seed=3)
    a = solve_heuristic(problem, opts, Clock(60))
    b = solve_heuristic(problem, opts, Clock(60))
    assert a.status == "feasible" and a.stop_reason == "converged"
    assert np.array_equal(a.labels, b.labels)
