"""Territoria's solvers. Start with `solve(problem, options)`: it pre-checks the scenario,
routes it to a method, runs it and verifies the plan with the one evaluator (solve.py).

    from engine.io import load_scenario
    from engine.problem import build_problem
    from solvers import solve, SolveOptions

    outcome = solve(build_problem(load_scenario("scenario.json")), SolveOptions(time_limit_s=30))
    outcome.result.status, outcome.result.objective, outcome.result.gap, outcome.evaluation.violations

Families, each a folder with its entry point in its __init__: exact/ (mixed-integer models),
heuristic/ (construct, repair, improve at scale), bound/ (lower bounds). Policies and glue:
auto.py (the `auto` method), bounded.py (the heuristic with its bound), hierarchy.py
(regions), assign_reps.py, precheck.py, sweep.py. Shared types: result.py, clock.py,
params.py (the tunables: `SolverParams(heuristic=HeuristicParams(...), bound=BoundParams(...))`).
"""

from models import SolveOptions
from solvers.bound.params import BoundParams
from solvers.clock import Clock
from solvers.heuristic.params import HeuristicParams
from solvers.params import SolverParams
from solvers.result import Outcome, ProgressEvent, SolveResult
from solvers.solve import solve

__all__ = [
    "BoundParams",
    "Clock",
    "HeuristicParams",
    "Outcome",
    "ProgressEvent",
    "SolveOptions",
    "SolveResult",
    "SolverParams",
    "solve",
]
