"""Balance-vs-disruption sweep on a perturbed alignment."""

from engine.io import parse_scenario
from engine.problem import build_problem
from models import SolveOptions
from solvers.sweep import frontier, sweep
from tests.instances import perturbed_grid


def test_frontier_trades_balance_for_moves():
    problem = build_problem(parse_scenario(perturbed_grid()))
    points = sweep(
        problem,
        SolveOptions(method="heuristic", time_limit_s=40, seed=0),
        tolerances=[0.0, 0.1, 0.25, 0.55],
        disruption_weights=[1000.0],
    )
    assert all(p.feasible for p in points), [p.outcome.result.message for p in points]
    front = frontier(problem, points)
    devs = [p.max_deviation(problem) for p in front]
    moved = [p.moved_units() for p in front]
    assert devs == sorted(devs) and moved == sorted(moved, reverse=True)
    assert len(front) >= 2
    assert moved[-1] == 0  # at +-55 % the current alignment itself is allowed: nothing moves
    assert devs[0] <= 1e-9 and moved[0] >= 3  # exact balance needs the 3 units back
