"""SCIP backend (pyscipopt): Hess model with contiguity as a constraint handler that adds
(length-U) a,b-separator inequalities lazily for integer points and, at the root, for
fractional LP points (cheap support test, then min vertex cuts)."""

from __future__ import annotations

import numpy as np
from pyscipopt import SCIP_PARAMSETTING, Model, Variable, quicksum

from engine.problem import Problem
from models.options import SolveOptions
from solvers.clock import Clock
from solvers.exact.hess_cuts import Cut, fractional_cuts, integer_cuts, neighbor_cuts
from solvers.exact.hess_data import BackendResult, HessData, model_objective
from solvers.exact.scip_tools import (
    ProgressHandler,
    SeparatorHandler,
    add_warm_start,
    include_connectivity,
    optimize_interruptible,
)
from solvers.result import StopReason


class HessConnectivity(SeparatorHandler):
    """The Hess model's contiguity: each unit's territory is that of its center j; a piece not
    reaching j violates x[i, j] <= sum_{c in C} x[c, j] (solvers.exact.hess_cuts). With `frac`,
    fractional LP points are cut at the root too."""

    def __init__(self, prep: HessData, x: dict, clock: Clock, frac: bool) -> None:
        super().__init__(x, clock, prep.n)
        self.prep = prep
        self.frac = frac

    def violated_cuts(self, center_of: np.ndarray) -> list[Cut]:
        return integer_cuts(self.prep, center_of)

    def fractional_cuts(self) -> list[Cut] | None:
        if not self.frac:
            return None
        self.rounds += 1
        xval = {key: self.model.getSolVal(None, v) for key, v in self.x.items()}
        return fractional_cuts(self.prep, xval, use_flow=True)

    def cut_key(self, cut: Cut):
        i, j, C = cut
        return i, j, tuple(C)

    def add_cut(self, cut: Cut, name: str, removable: bool) -> None:
        i, j, C = cut
        self.model.addCons(
            self.x[i, j] - quicksum(self.x[c, j] for c in C) <= 0, name=name, removable=removable, initial=True
        )


def solve_scip(
    problem: Problem,
    prep: HessData,
    options: SolveOptions,
    clock: Clock,
    ws: np.ndarray | None,
    frac_cuts: bool = False,
    verbose: bool = False,
    heuristic_mode: bool = False,
) -> BackendResult:
    n = prep.n
    init_cuts = neighbor_cuts(prep) if problem.contiguity else []
    if not prep.allowed.any(axis=1).all():
        return BackendResult(
            "infeasible",
            "proved_infeasible",
            message="balance/contiguity: some unit cannot join any connected territory within the bounds",
        )
    m, x, centers = hess_model(problem, prep, "territoria-exact", init_cuts)
    if not verbose:
        m.hideOutput()

    hdlr = None
    if problem.contiguity:
        hdlr = HessConnectivity(prep, x, clock, frac_cuts)
        include_connectivity(m, hdlr)
    m.includeEventhdlr(ProgressHandler(clock, "scip"), "territoria-progress", "progress and cancellation")

    tl = min(options.time_limit_s, clock.remaining())
    m.setParam("limits/time", max(0.01, tl))
    m.setParam("limits/gap", float(options.gap))
    m.setParam("randomization/randomseedshift", int(options.seed) % 2**31)
    if prep.integral:
        m.setObjIntegral()
    # SCIP's own cutting planes stall the root without moving the bound; branching on centers
    # first pays (benchmarks/results/tuning.md, "Exact and auto").
    m.setSeparating(SCIP_PARAMSETTING.OFF)
    for j in centers:
        m.chgVarBranchPriority(x[j, j], 10)
    # One strong-branching look per variable before trusting its pseudocosts: strong
    # branching took half the time of the hardest county instance.
    m.setParam("branching/relpscost/maxreliable", 1.0)
    if ws is not None and not heuristic_mode:
        m.setHeuristics(SCIP_PARAMSETTING.FAST)

    if ws is not None and add_warm_start(m, x, ws):
        clock.report(model_objective(prep, ws), None, "scip: warm start accepted")

    if clock.cancelled():
        return BackendResult("cancelled", "cancelled", message="cancelled before solving")
    optimize_interruptible(m, clock)
    st = m.getStatus()
    details = {
        "backend": "scip",
        "variables": len(x),
        "scip_status": st,
        "nodes": m.getNNodes(),
        "initial_cuts": len(init_cuts),
        "solve_s": m.getSolvingTime(),
    }
    if hdlr is not None:
        details.update(lazy_cuts=hdlr.n_lazy, fractional_cuts=hdlr.n_frac)
    nsols = m.getNSols()
    center_of = None
    obj = None
    if nsols:
        best = m.getBestSol()
        center_of = np.full(n, -1, dtype=np.int64)
        for (i, j), v in x.items():
            if m.getSolVal(best, v) > 0.5:
                center_of[i] = j
        obj = model_objective(prep, center_of)
    bound = m.getDualbound()
    if st == "infeasible":
        return BackendResult(
            "infeasible",
            "proved_infeasible",
            bound=None,
            message="no plan satisfies balance, contiguity and locks together (proved by SCIP)",
            details=details,
        )
    if st == "optimal":
        return BackendResult(
            "optimal",
            "converged",
            center_of,
            obj,
            min(bound, obj) if obj is not None else bound,
            "SCIP branch-and-cut",
            details=details,
        )
    if st == "gaplimit":
        return BackendResult(
            "optimal" if options.gap > 0 else "feasible",
            "gap_limit",
            center_of,
            obj,
            bound,
            "SCIP branch-and-cut",
            details=details,
        )
    reason: StopReason = "cancelled" if (st == "userinterrupt" and clock.cancelled()) else "time_limit"
    if center_of is None:
        return BackendResult(
            "cancelled" if reason == "cancelled" else "no_solution",
            reason,
            bound=bound,
            bound_source="SCIP branch-and-cut",
            details=details,
        )
    return BackendResult("feasible", reason, center_of, obj, bound, "SCIP branch-and-cut", details=details)


def hess_model(problem: Problem, prep: HessData, name: str, cuts=()) -> tuple[Model, dict, list[int]]:
    """The Hess model (docs/model.md) on `prep.allowed` pairs: assignment, k centers, a unit
    only at an open center, balance per center, locks, and the given separator inequalities
    (contiguity itself is the caller's constraint handler). Returns (model, x[i, j], centers)."""
    n, k = prep.n, prep.k
    m = Model(name)
    x = {}
    unit, center = np.nonzero(prep.allowed)
    for i, j in zip(unit.tolist(), center.tolist()):
        x[i, j] = m.addVar(name=f"x_{i}_{j}", vtype="B", obj=float(prep.cost[i, j]))
    cols: list[list[tuple[int, Variable]]] = [[] for _ in range(n)]
    for (i, j), v in x.items():
        cols[j].append((i, v))
    for i in range(n):
        m.addCons(quicksum(x[i, j] for j in np.flatnonzero(prep.allowed[i]).tolist()) == 1, name=f"assign_{i}")
    centers = [j for j in range(n) if prep.allowed[j, j]]
    m.addCons(quicksum(x[j, j] for j in centers) == k, name="k")
    for (i, j), v in x.items():
        if i != j:
            m.addCons(v <= x[j, j], name=f"open_{i}_{j}")
    for r in prep.balanced_rows:
        a = problem.measures[r]
        lo, hi = float(problem.lower[r]), float(problem.upper[r])
        for j in centers:
            expr = quicksum(float(a[i]) * v for i, v in cols[j] if a[i] != 0)
            if lo > 0:
                m.addCons(expr - lo * x[j, j] >= 0, name=f"lo_{r}_{j}")
            if np.isfinite(hi):
                m.addCons(expr - hi * x[j, j] <= 0, name=f"hi_{r}_{j}")
    _add_locks(m, prep, x, centers)
    for i, j, C in cuts:
        m.addCons(x[i, j] - quicksum(x[c, j] for c in C) <= 0, name=f"nb_{i}_{j}")
    return m, x, centers


def _add_locks(m, prep: HessData, x: dict, centers: list[int]) -> None:
    groups = prep.lock_groups
    for g in groups:
        r0 = int(g[0])
        for i in g[1:]:
            for j in centers:
                if (r0, j) in x:
                    m.addCons(x[int(i), j] - x[r0, j] == 0, name=f"lockeq_{i}_{j}")
    for a in range(len(groups)):
        for b in range(a + 1, len(groups)):
            ra, rb = int(groups[a][0]), int(groups[b][0])
            for j in centers:
                if (ra, j) in x and (rb, j) in x:
                    m.addCons(x[ra, j] + x[rb, j] <= 1, name=f"lockne_{a}_{b}_{j}")
