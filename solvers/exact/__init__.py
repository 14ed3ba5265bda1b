"""Exact methods: mixed-integer models with contiguity, solved to proven optimality or to the
time limit, reporting objective, bound and gap.

- `solve_exact` (hess.py): the Hess / p-median model, centers chosen among the units, on SCIP
  (lazy separator cuts, hess_scip.py) or HiGHS (single-commodity flow, hess_highs.py); its
  data, fixing and cuts in hess_data.py and hess_cuts.py, its incumbent in incumbent.py.
- `solve_exact_labelled` (labelled.py): territories indexed by their reps (fixed homes) or
  their current alignment: rep-centric design and "fewest moved units" realignment; data and
  cuts in labelled_data.py and labelled_cuts.py.

Shared: vertex separators (separators.py) and SCIP's handlers (scip_tools.py).
"""

from solvers.exact.hess import solve_exact

__all__ = ["solve_exact", "solve_exact_labelled"]


def __getattr__(name: str):
    # the labelled model subclasses SCIP's handlers: pyscipopt loads only when it is used
    if name == "solve_exact_labelled":
        from solvers.exact.labelled import solve_exact_labelled

        return solve_exact_labelled
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
