"""Territory labels matched to an existing alignment.

Solvers number territories arbitrarily; a plan's territory ids must be those of the current
alignment wherever it overlaps most, or every unit would count as moved. Relabeling never
changes the partition, only which id each territory carries, so it never breaks contiguity
or balance; locked territories keep their ids.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.problem import Problem

_FORBIDDEN = 1e18


def align_to_current(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """Permute territory labels to keep the most units (then workload) where they are now."""
    labels = np.asarray(labels, dtype=np.int64)
    k = problem.k
    has = problem.current >= 0
    if not has.any():
        return labels
    # overlap[a, b]: units (plus a workload tie-break) in solver territory a currently in territory b
    w = problem.weights[has]
    wsum = float(w.sum()) or 1.0
    overlap = np.zeros((k, k))
    np.add.at(overlap, (labels[has], problem.current[has]), 1.0 + w / (wsum + 1.0))
    cost = -overlap
    locked = problem.locks >= 0
    if locked.any():
        # a territory holding units locked to t must keep the id t
        for a, t in set(zip(labels[locked].tolist(), problem.locks[locked].tolist())):
            row = np.full(k, _FORBIDDEN)
            row[t] = cost[a, t]
            cost[a] = row
    rows, cols = linear_sum_assignment(cost)
    if (cost[rows, cols] >= _FORBIDDEN).any():
        return labels  # locks contradict each other here; leave the solver's labels to the evaluator
    mapping = np.empty(k, dtype=np.int64)
    mapping[rows] = cols
    return mapping[labels]
