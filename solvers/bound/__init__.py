"""Lower bounds, so every plan can say how far from optimal it may be at most.

- `lagrangian_bound` (lagrangian.py): the Lagrangian relaxation of the p-median model with
  workload balance kept per center; its rows' lists (lists.py) and terms (relaxation.py),
  the subgradient ascent on its multipliers (ascent.py), aggregated demand at scale
  (aggregate.py), units beyond the lists counted by block (outside.py), the compiled inner
  loop (kernels.py), and a child process beside the search (side.py).
- `BoundParams` (params.py): the bound's tunables, checked when made.
- `home_assignment_bound` (homes.py): with reps, each unit at its cheapest allowed rep.
- schedule.py: when and where a heuristic solve's bound runs, and how it joins the result.
"""

from solvers.bound.homes import home_assignment_bound
from solvers.bound.lagrangian import BoundResult, lagrangian_bound
from solvers.bound.params import BoundParams

__all__ = ["BoundParams", "BoundResult", "home_assignment_bound", "lagrangian_bound"]
