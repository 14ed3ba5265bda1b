"""What the exact backends return to solvers.exact, and model pieces they share."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from solvers.exact_prep import Prepared


@dataclass
class BackendResult:
    status: str  # optimal / feasible / infeasible / no_solution / cancelled / error
    stop_reason: str
    center_of: np.ndarray | None = None  # (n,) center unit of each unit
    objective: float | None = None  # model objective of center_of
    bound: float | None = None
    bound_source: str = ""
    message: str | None = None
    details: dict = field(default_factory=dict)


def neighbor_cuts(prep: Prepared) -> list[tuple[int, int, list[int]]]:
    """x[i, j] <= sum_{c in N(i)} x[c, j] for i not adjacent to j (N(i) separates i from j),
    restricted to neighbours c that can lie on a light i-j path. Fixes x[i, j] = 0 (in
    prep.allowed) when no neighbour qualifies, repeating until nothing changes."""
    n = prep.n
    allowed = prep.allowed
    changed = True
    while changed:
        changed = False
        cuts = []
        I, J = np.nonzero(allowed)
        for i, j in zip(I.tolist(), J.tolist()):
            if i == j:
                continue
            nb = prep.nbrs[i]
            if (nb == j).any():
                continue
            C = [int(c) for c in nb if allowed[c, j] and prep.pair_ok(i, c, j)]
            if not C:
                allowed[i, j] = False
                changed = True
                continue
            cuts.append((i, j, C))
    # units without any center left: infeasible, caught by the caller
    del n
    return cuts


def model_objective(prep: Prepared, center_of: np.ndarray) -> float:
    return float(prep.cost[np.arange(prep.n), center_of].sum())


def chosen_per_row(model, sol, rows: list[list[tuple[int, object]]]) -> np.ndarray | None:
    """For each unit's row of (index, binary variable), the index whose variable is 1 in `sol`.

    None when some unit has no variable at 1 (a fractional or partial solution).
    """
    chosen = np.full(len(rows), -1, dtype=np.int64)
    for i, row in enumerate(rows):
        for j, v in row:
            if model.getSolVal(sol, v) > 0.5:
                chosen[i] = j
                break
        if chosen[i] < 0:
            return None
    return chosen


def add_warm_start(model, x: dict, choice: np.ndarray) -> bool:
    """Offer SCIP the solution x[i, c] = 1 where choice[i] == c; True when it is accepted."""
    sol = model.createSol()
    for (i, c), v in x.items():
        model.setSolVal(sol, v, 1.0 if choice[i] == c else 0.0)
    return bool(model.addSol(sol, free=True))


def optimize_interruptible(model, clock) -> None:
    """SCIP's optimize, releasing the GIL, with cancellation honored even inside presolve or a
    long LP, where SCIP's own callbacks do not fire."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            if clock.cancelled():
                model.interruptSolve()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        model.optimizeNogil()
    finally:
        done.set()
        watcher.join()
