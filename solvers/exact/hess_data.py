"""The data of the Hess model (solvers.exact.hess) shared by its backends: costs, variable
fixing, locks, warm starts, and turning a center assignment back into a plan.

The model (docs/model.md, Hess with centers among the units): x[i, j] = 1 when unit i is
served by center j. `HessData.allowed[i, j]` says which x[i, j] survive fixing:

- U-fixing: with contiguity, x[i, j] = 0 when every i-j path weighs more than the upper
  bound of some balanced measure (vertex weights, both ends counted); without contiguity
  when a_i + a_j alone exceed it. A unit heavier than the upper bound alone makes the
  problem infeasible.
- locks: units locked to the same territory share their center; units locked to
  different territories never do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.csgraph import connected_components

from engine.problem import Problem
from engine.tolerance import slack
from solvers.exact.separators import vertex_weighted_paths
from solvers.result import Status, StopReason


@dataclass(eq=False)
class HessData:
    n: int
    k: int
    cost: np.ndarray  # (n, n) c[i, j] = w_i d(i, j)^p
    integral: bool  # all costs are integers (exact proofs with zero gap)
    allowed: np.ndarray  # (n, n) bool, x[i, j] exists
    neighbours: list[np.ndarray]  # adjacency lists
    balanced_rows: list[int]  # balanced measures
    path_weights: list[np.ndarray] = field(
        default_factory=list
    )  # per measure with finite upper: (n, n) min vertex-weighted path, both ends
    path_limits: list[float] = field(default_factory=list)  # the matching upper bounds (with slack)
    path_loads: list[np.ndarray] = field(default_factory=list)  # the matching unit weights
    lock_groups: list[np.ndarray] = field(default_factory=list)  # units locked to the same territory, per territory
    lock_terr: list[int] = field(default_factory=list)
    infeasible: str | None = None  # a rule proved infeasible before solving
    notes: list[str] = field(default_factory=list)

    @property
    def pairs(self) -> tuple[np.ndarray, ...]:
        return np.nonzero(self.allowed)

    def pair_ok(self, i: int, c: int, j: int) -> bool:
        """Can unit c lie on a path from i to center j inside one feasible territory (length-U test)?"""
        for d, u, a in zip(self.path_weights, self.path_limits, self.path_loads):
            if d[i, c] + d[c, j] - a[c] > u:
                return False
        return True


def prepare_hess(problem: Problem) -> HessData:
    n, k = problem.n, problem.k
    cost = problem.cost_matrix().astype(float)
    integral = bool(np.all(np.abs(cost - np.round(cost)) <= 1e-9 * np.maximum(1.0, np.abs(cost))))
    if integral:
        cost = np.round(cost)
    adj = problem.adj.tocsr()
    neighbours = problem.neighbour_lists
    balanced_rows = [int(r) for r in np.flatnonzero(problem.balanced)]
    prep = HessData(
        n=n,
        k=k,
        cost=cost,
        integral=integral,
        allowed=np.ones((n, n), dtype=bool),
        neighbours=neighbours,
        balanced_rows=balanced_rows,
    )

    # ---- overt infeasibility ---------------------------------------------------------
    for r in balanced_rows:
        a = problem.measures[r]
        name = problem.measure_names[r]
        lo, hi = float(problem.lower[r]), float(problem.upper[r])
        total = float(a.sum())
        if np.isfinite(hi):
            hi_s = hi + slack(hi)
            heavy = np.flatnonzero(a > hi_s)
            if len(heavy):
                i = int(heavy[0])
                prep.infeasible = (
                    f"balance: unit {problem.ids[i]} alone has {name} {a[i]:,.6g}, "
                    f"above the territory maximum {hi:,.6g}"
                )
                return prep
            if k * hi_s < total:
                prep.infeasible = f"balance: total {name} {total:,.6g} exceeds {k} territories x maximum {hi:,.6g}"
                return prep
        if k * (lo - slack(lo)) > total:
            prep.infeasible = f"balance: total {name} {total:,.6g} is below {k} territories x minimum {lo:,.6g}"
            return prep

    # ---- U-fixing ----------------------------------------------------------------------
    allowed = prep.allowed
    for r in balanced_rows:
        hi = float(problem.upper[r])
        if not np.isfinite(hi):
            continue
        a = problem.measures[r].astype(float)
        hi_s = hi + slack(hi)
        if problem.contiguity:
            d = vertex_weighted_paths(adj, a)
            allowed &= (d <= hi_s).T  # allowed[i, j]: path j..i light enough (symmetric anyway)
            prep.path_weights.append(d)
            prep.path_limits.append(hi_s)
            prep.path_loads.append(a)
        else:
            pair = a[:, None] + a[None, :]
            np.fill_diagonal(pair, a)
            allowed &= pair <= hi_s

    # ---- locks -------------------------------------------------------------------------
    locks = problem.locks if problem.locks is not None else np.full(n, -1)
    terrs = sorted(int(t) for t in np.unique(locks[locks >= 0]))
    for t in terrs:
        g = np.flatnonzero(locks == t)
        prep.lock_groups.append(g)
        prep.lock_terr.append(t)
        allowed[g] = allowed[g].all(axis=0, keepdims=True)
    for gi, g in enumerate(prep.lock_groups):
        others = (
            np.concatenate([h for hi_, h in enumerate(prep.lock_groups) if hi_ != gi])
            if len(prep.lock_groups) > 1
            else np.zeros(0, dtype=int)
        )
        # a center inside group g serves no unit locked elsewhere
        for j in g:
            allowed[others, j] = False
    # every unit needs a center; a center must serve itself
    diag = np.diag(allowed).copy()
    allowed &= diag[None, :]
    if not allowed.any(axis=1).all():
        i = int(np.flatnonzero(~allowed.any(axis=1))[0])
        prep.infeasible = f"balance/contiguity: unit {problem.ids[i]} cannot join any territory within the bounds"
        if len(prep.lock_groups):
            prep.infeasible = (
                f"locks/balance: unit {problem.ids[i]} cannot join any territory within the bounds and locks"
            )
        return prep
    if problem.contiguity:
        ncomp, _ = connected_components(adj, directed=False)
        if ncomp > k:
            prep.infeasible = f"contiguity: the adjacency graph has {ncomp} components, more than {k} territories"
            return prep
    return prep


# ---- warm start and result -----------------------------------------------------------
def warm_start_centers(problem: Problem, prep: HessData, labels) -> np.ndarray | None:
    """center_of[i] for a feasible warm start (labels), or None when unusable."""
    from engine.evaluate import best_centers, evaluate

    try:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (problem.n,):
            return None
        ev = evaluate(problem, labels)
    except Exception:
        return None
    if ev.violations:
        return None
    centers = best_centers(problem, labels)
    center_of = centers[labels]
    if not prep.allowed[np.arange(problem.n), center_of].all():
        return None
    return center_of


def plan_from_centers(problem: Problem, prep: HessData, center_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """labels (territory index per unit) and centers (unit per territory) from center_of,
    numbering territories so locked units land in their territory and, when current
    territories are given, as few units as possible move (an assignment problem)."""
    from scipy.optimize import linear_sum_assignment

    k = problem.k
    cs = np.unique(center_of)
    if len(cs) != k:
        raise RuntimeError(f"solution has {len(cs)} centers, expected {k}")
    pos = {int(c): t for t, c in enumerate(cs)}
    local = np.array([pos[int(c)] for c in center_of])
    # score[a, t]: units of group a that keep their current territory t (minus penalty for lock breaks)
    score = np.zeros((k, k))
    cur = problem.current if problem.current is not None else np.full(problem.n, -1)
    ok = cur >= 0
    np.add.at(score, (local[ok], cur[ok]), 1.0)
    locks = problem.locks if problem.locks is not None else np.full(problem.n, -1)
    lk = locks >= 0
    np.add.at(score, (local[lk], locks[lk]), 1e6)
    rows, cols = linear_sum_assignment(-score)
    perm = np.empty(k, dtype=np.int64)
    perm[rows] = cols
    labels = perm[local]
    centers = np.empty(k, dtype=np.int64)
    centers[perm] = cs
    return labels, centers


@dataclass
class BackendResult:
    """What a backend (hess_scip, hess_highs) returns to solvers.exact.hess."""

    status: Status
    stop_reason: StopReason
    center_of: np.ndarray | None = None  # (n,) center unit of each unit
    objective: float | None = None  # model objective of center_of
    bound: float | None = None
    bound_source: str = ""
    message: str | None = None
    details: dict = field(default_factory=dict)


def model_objective(prep: HessData, center_of: np.ndarray) -> float:
    return float(prep.cost[np.arange(prep.n), center_of].sum())
