"""The heuristic method, for thousands to hundreds of thousands of units: construct, repair
balance, improve compactness, every plan verified by the one evaluator.

Start at solve.py (`solve_heuristic`: the starts and the order of the phases), then
search.py (the phases), moves.py (boundary moves, swaps and the sweeps that apply them),
state.py (a plan with its incremental tallies) and instance.py (the problem as arrays); the
tunables are params.py (`HeuristicParams`). Constructions: construct.py (seeds, region
growing), repair.py (contiguity and territory rules of a start), location_allocation.py,
split.py (recursive bisection at scale); improvements: recom.py (merge-and-split along
spanning trees, trees.py), lns.py (exact re-split of a few territories).
"""

from solvers.heuristic.params import HeuristicParams
from solvers.heuristic.solve import solve_heuristic

__all__ = ["HeuristicParams", "solve_heuristic"]
