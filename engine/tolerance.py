"""How close counts: the one slack within which a territory's total meets its bound, the
noise floor of running sums, and the relative gap between a plan and a lower bound.

The evaluator accepts a total within `slack(limit)` of a bound. Everything that decides
feasibility before it (the pre-checks, the exact models' variable fixing, the heuristic's
moves) uses the same slack, so none of them rejects a plan the evaluator would accept.
"""

from __future__ import annotations

import numpy as np

# A total may pass its bound by this share of the bound (at least of 1): float sums of the
# same measures in another order differ by far less.
FEASIBILITY_REL = 1e-9
# A relative violation, score change or step this small is rounding noise of running sums.
NOISE = 1e-12
# A plan counts as better only when it is cheaper by this share of its cost.
IMPROVEMENT_REL = 1e-9


def slack(limit):
    """How far a total may pass `limit` (a bound, or an array of bounds) and still meet it."""
    return FEASIBILITY_REL * np.maximum(np.abs(limit), 1.0)


def exceeds(value, upper):
    """`value` is above the upper bound `upper` beyond the slack (never for an infinite bound)."""
    return value > upper + slack(upper)


def falls_short(value, lower):
    """`value` is below the lower bound `lower` beyond the slack."""
    return value < lower - slack(lower)


def improves(new: float, best: float) -> bool:
    """`new` is cheaper than `best` by more than IMPROVEMENT_REL of it."""
    return new < best - IMPROVEMENT_REL * max(1.0, abs(best))


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """(objective - bound) / |objective|, at least 0; 0 for a zero objective; None when either
    is unknown."""
    if objective is None or bound is None:
        return None
    if objective == 0 or objective <= bound:
        return 0.0
    return (objective - bound) / abs(objective)
