"""HiGHS backend through OR-Tools model_builder (no highspy: it clashes with ortools).

Contiguity by Shirabe's single-commodity flow: every non-center unit of territory j sends
one unit of flow to j along arcs inside the territory. No callbacks are needed; the
neighbour separator inequalities are added up front to tighten the LP.
"""

from __future__ import annotations

import numpy as np
from ortools.linear_solver.python import model_builder as mb

from engine.problem import Problem
from models.options import SolveOptions
from solvers.clock import Clock, stop_on_cancel
from solvers.exact.hess_cuts import neighbor_cuts
from solvers.exact.hess_data import BackendResult, HessData, model_objective
from solvers.result import StopReason


def solve_highs(
    problem: Problem, prep: HessData, options: SolveOptions, clock: Clock, ws: np.ndarray | None, verbose: bool = False
) -> BackendResult:
    n, k = prep.n, prep.k
    init_cuts = neighbor_cuts(prep) if problem.contiguity else []
    if not prep.allowed.any(axis=1).all():
        return BackendResult(
            "infeasible",
            "proved_infeasible",
            message="balance/contiguity: some unit cannot join any connected territory within the bounds",
        )
    m = mb.Model()
    x = {}
    unit, center = np.nonzero(prep.allowed)
    for i, j in zip(unit.tolist(), center.tolist()):
        x[i, j] = m.new_bool_var(f"x_{i}_{j}")
    cols: list[list[tuple[int, mb.Variable]]] = [[] for _ in range(n)]
    rows: list[list[mb.Variable]] = [[] for _ in range(n)]
    for (i, j), v in x.items():
        cols[j].append((i, v))
        rows[i].append(v)
    for i in range(n):
        m.add(mb.LinearExpr.sum(rows[i]) == 1)
    centers = [j for j in range(n) if prep.allowed[j, j]]
    m.add(mb.LinearExpr.sum([x[j, j] for j in centers]) == k)
    for (i, j), v in x.items():
        if i != j:
            m.add(v <= x[j, j])
    for r in prep.balanced_rows:
        a = problem.measures[r]
        lo, hi = float(problem.lower[r]), float(problem.upper[r])
        for j in centers:
            terms = [(i, v) for i, v in cols[j] if a[i] != 0]
            expr = mb.LinearExpr.weighted_sum([v for _, v in terms], [float(a[i]) for i, _ in terms])
            if lo > 0:
                m.add(expr - lo * x[j, j] >= 0)
            if np.isfinite(hi):
                m.add(expr - hi * x[j, j] <= 0)
    for g in prep.lock_groups:
        r0 = int(g[0])
        for i in g[1:]:
            for j in centers:
                if (r0, j) in x:
                    m.add(x[int(i), j] - x[r0, j] == 0)
    for a_ in range(len(prep.lock_groups)):
        for b_ in range(a_ + 1, len(prep.lock_groups)):
            ra, rb = int(prep.lock_groups[a_][0]), int(prep.lock_groups[b_][0])
            for j in centers:
                if (ra, j) in x and (rb, j) in x:
                    m.add(x[ra, j] + x[rb, j] <= 1)
    n_flow = 0
    if problem.contiguity:
        for i, j, C in init_cuts:
            m.add(x[i, j] - mb.LinearExpr.sum([x[c, j] for c in C]) <= 0)
        for j in centers:
            members = [i for i, _ in cols[j]]
            member = np.zeros(n, dtype=bool)
            member[members] = True
            big = float(len(members) - 1)
            out_f: dict[int, list[mb.Variable]] = {u: [] for u in members}
            in_f: dict[int, list[mb.Variable]] = {u: [] for u in members}
            for u in members:
                if u == j:
                    continue  # flow ends at the center
                for neighbour in prep.neighbours[u].tolist():
                    if not member[neighbour]:
                        continue
                    f = m.new_num_var(0.0, big, f"f_{u}_{neighbour}_{j}")
                    n_flow += 1
                    out_f[u].append(f)
                    in_f[neighbour].append(f)
                    m.add(f - big * x[neighbour, j] <= 0)
            for u in members:
                if u == j:
                    continue
                m.add(mb.LinearExpr.sum(out_f[u]) - mb.LinearExpr.sum(in_f[u]) - x[u, j] == 0)

    m.minimize(mb.LinearExpr.weighted_sum(list(x.values()), [float(prep.cost[i, j]) for (i, j) in x]))
    # No add_hint: solution hints crash HiGHS under model_builder (ortools 9.15). The warm
    # start is kept as a fallback incumbent instead.

    solver = mb.Solver("highs")
    solver.enable_output(verbose)
    tl = max(0.01, min(options.time_limit_s, clock.remaining()))
    solver.set_time_limit_in_seconds(tl)
    solver.set_solver_specific_parameters(
        f"output_flag = {'true' if verbose else 'false'}\n"
        f"mip_rel_gap = {float(options.gap)}\n"
        "mip_abs_gap = 0\n"
        f"random_seed = {int(options.seed) % 2147483647}\n"
        f"threads = {int(options.threads)}"
    )
    with stop_on_cancel(clock, solver.stop_search):
        status = solver.solve(m)
    details = {
        "backend": "highs",
        "variables": len(x),
        "flow_variables": n_flow,
        "initial_cuts": len(init_cuts),
        "highs_status": str(status),
        "solve_s": solver.wall_time,
    }
    S = mb.SolveStatus
    center_of = None
    obj = None
    if status in (S.OPTIMAL, S.FEASIBLE):
        center_of = np.full(n, -1, dtype=np.int64)
        for (i, j), v in x.items():
            if solver.value(v) > 0.5:
                center_of[i] = j
        obj = model_objective(prep, center_of)
    if ws is not None:
        ws_obj = model_objective(prep, ws)
        if obj is None or ws_obj < obj:
            center_of, obj = ws.copy(), ws_obj
            details["incumbent"] = "warm start"
    bound = (
        _num(solver.best_objective_bound) if status in (S.OPTIMAL, S.FEASIBLE, S.NOT_SOLVED, S.UNKNOWN_STATUS) else None
    )
    src = "HiGHS branch-and-cut (flow contiguity)"
    if status == S.INFEASIBLE:
        return BackendResult(
            "infeasible",
            "proved_infeasible",
            message="no plan satisfies balance, contiguity and locks together (proved by HiGHS)",
            details=details,
        )
    if status == S.OPTIMAL and details.get("incumbent") != "warm start":
        assert obj is not None  # an optimal status comes with a plan
        if bound is None:
            bound = obj
        clock.report(obj, bound, "highs: optimal")
        return BackendResult(
            "optimal",
            "converged" if options.gap == 0 else "gap_limit",
            center_of,
            obj,
            min(bound, obj),
            src,
            details=details,
        )
    reason: StopReason = "cancelled" if clock.cancelled() else "time_limit"
    if center_of is None:
        if status not in (S.NOT_SOLVED, S.UNKNOWN_STATUS, S.FEASIBLE, S.OPTIMAL) and reason != "cancelled":
            return BackendResult("error", "error", message=f"HiGHS: {status} {solver.status_string}", details=details)
        return BackendResult(
            "cancelled" if reason == "cancelled" else "no_solution",
            reason,
            bound=bound,
            bound_source=src,
            details=details,
        )
    clock.report(obj, bound, "highs: stopped")
    return BackendResult("feasible", reason, center_of, obj, bound, src, details=details)


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None
