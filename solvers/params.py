"""The solvers' tunables in one object: the heuristic's and the bound's parameters, each a
dataclass that checks itself. The defaults are measured (benchmarks/results/tuning.md); a
benchmark passes others to compare settings without editing code:

    solve(problem, options, params=SolverParams(heuristic=HeuristicParams(jump_rounds=5)))
"""

from __future__ import annotations

from dataclasses import dataclass, field

from solvers.bound.params import BoundParams
from solvers.heuristic.params import HeuristicParams


@dataclass(frozen=True)
class SolverParams:
    heuristic: HeuristicParams = field(default_factory=HeuristicParams)
    bound: BoundParams = field(default_factory=BoundParams)


DEFAULT_PARAMS = SolverParams()
