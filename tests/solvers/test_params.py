"""solve(params=...) reaches every tunable's user: the heuristic, the exact method's incumbent
phase, and the bound, so a benchmark can compare settings without editing code."""

from __future__ import annotations

import pytest

import solvers.bound.lagrangian as lagrangian
import solvers.realign as realign
from solvers import BoundParams, HeuristicParams, SolveOptions, SolverParams, solve
from tests.instances import grid_scenario, problem_of, weighted_grid


def _spy(monkeypatch, module, name, seen):
    real = getattr(module, name)

    def spy(*args, **kwargs):
        seen.append(kwargs.get("params", args[4] if len(args) > 4 else None))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)


@pytest.mark.parametrize("method", ["heuristic", "auto", "exact"])
def test_heuristic_params_reach_the_search(monkeypatch, method):
    """The heuristic runs as the method, as auto's warm start, and as the exact method's first
    incumbent (a scenario above 12 units without a warm start): each gets the caller's params."""
    seen: list = []
    _spy(monkeypatch, realign, "solve_heuristic", seen)
    import solvers.heuristic.solve as heuristic_solve

    _spy(monkeypatch, heuristic_solve, "solve_heuristic", seen)
    params = SolverParams(heuristic=HeuristicParams(jump_rounds=3, report_every_s=1.0))
    out = solve(
        problem_of(weighted_grid(4, 4, 2, tol=0.3)), SolveOptions(method=method, time_limit_s=20), params=params
    )
    assert out.result.status in ("optimal", "feasible")
    assert seen and all(p is params.heuristic for p in seen), seen


def test_bound_params_reach_the_bound(monkeypatch):
    seen: list = []
    real = lagrangian.lagrangian_bound

    def spy(*args, **kwargs):
        seen.append(kwargs.get("params"))
        return real(*args, **kwargs)

    monkeypatch.setattr(lagrangian, "lagrangian_bound", spy)
    params = SolverParams(bound=BoundParams(max_iter=50))
    data = grid_scenario(6, 6, 3, balance=[{"measure": "workload", "tolerance": 0.2}])
    out = solve(problem_of(data), SolveOptions(method="heuristic", time_limit_s=20), params=params)
    assert out.result.bound is not None
    assert seen == [params.bound]
