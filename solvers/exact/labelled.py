"""Exact method for rep-centric design and realignment: a territory-indexed model on SCIP.

    solve_exact_labelled(problem, options, clock, warm_start=None) -> SolveResult

Unlike the center-based Hess model (solvers.exact.hess), territory identity matters here: territory t
is served by a known rep (Problem.rep_of_territories) and has a current
alignment to be disrupted as little as possible. With x[i, t] = 1 when unit i is in
territory t (t = 0..k-1):

    min   sum_{i,t} c[i,t] x[i,t] + lambda_D sum_i moved_i        mode "compactness"
          sum_i moved_i   (then compactness, best effort)          mode "moved"
    s.t.  sum_t x[i,t] = 1                                  each unit in one territory
          L_a <= sum_i a_i x[i,t] <= min(U_a, cap_a(rep of t))   balance and rep capacity
          sum_i x[i,t] >= 1
          x[i,t] = 0 when the rep of t lacks a skill of i; x[i,lock_i] = 1
          frozen t: x[i,t] = 1 for its current units, 0 for all others
          sum_i moved_i <= floor(max_moved_share * #units with a current territory)
          contiguity, lazily (a,b-separator cuts in a SCIP constraint handler):
            x[i,t] <= sum_{c in C} x[c,t]              t holds a fixed unit r, C separates i, r
            x[i,t] + x[j,t] - 1 <= sum_{c in C} x[c,t]  otherwise, C separates i, j

with moved_i = 1 - x[i, current_i] and c[i,t] = w_i d(i, home of t's rep)^p (without reps:
d to the best center of t's current units); with soft skills, x[i,t] is allowed when t's rep
lacks a skill of i and c[i,t] adds the scenario's penalty per lacking skill. With reps the
model's objective is the evaluator's, so its bound is a bound on the evaluated plan. Mode "moved"
is lexicographic in two solves:
the fewest moved units first (an integral objective, proved with zero gap), then the most
compact plan among those. The returned objective is the model's (moved units in mode
"moved"); the labels are territory indices, so no renumbering is needed.
"""

from __future__ import annotations

import time

import numpy as np
from pyscipopt import Model, quicksum

from engine.problem import Problem
from engine.tolerance import falls_short
from models.options import SolveOptions
from solvers.clock import Clock
from solvers.exact.labelled_cuts import Cut, fractional_cuts, integer_cuts
from solvers.exact.labelled_data import (
    RULES,
    LabelledData,
    moved_count,
    plan_compactness,
    plan_objective,
    plan_violations,
    prepare_labelled,
    warm_labels,
)
from solvers.exact.scip_tools import (
    ProgressHandler,
    SeparatorHandler,
    add_warm_start,
    include_connectivity,
    optimize_interruptible,
)
from solvers.result import SolveResult, StopReason

METHOD = "exact/labelled"
_ROOT_ROUNDS = 50  # fractional separation rounds at the root


class LabelledConnectivity(SeparatorHandler):
    """The territory-indexed model's contiguity (solvers.exact.labelled_cuts): rooted cuts
    against a territory's fixed unit, pairwise ones otherwise; fractional LP points are cut at
    the root for _ROOT_ROUNDS rounds. Its fractional cuts stay in the LP."""

    fractional_removable = False

    def __init__(self, prep: LabelledData, x: dict, clock: Clock) -> None:
        super().__init__(x, clock, prep.n)
        self.prep = prep

    def violated_cuts(self, labels: np.ndarray) -> list[Cut]:
        return integer_cuts(self.prep, labels)

    def fractional_cuts(self) -> list[Cut] | None:
        # they lift the bound where integer cuts alone leave it flat
        if self.rounds >= _ROOT_ROUNDS:
            return None
        self.rounds += 1
        xval = np.zeros((self.prep.n, self.prep.k))
        for (i, t), v in self.x.items():
            xval[i, t] = self.model.getSolVal(None, v)
        return fractional_cuts(self.prep, xval)

    def add_cut(self, cut: Cut, name: str, removable: bool) -> None:
        add_cut(self.model, self.x, cut, name=name)


def add_cut(m: Model, x: dict, cut: Cut, name: str) -> None:
    t, i, j, C = cut
    rhs = quicksum(x[c, t] for c in C if (c, t) in x)
    if j >= 0:
        m.addCons(x[i, t] + x[j, t] - rhs <= 1, name=name)
    else:
        m.addCons(x[i, t] - rhs <= 0, name=name)


def _initial_cuts(problem: Problem, prep: LabelledData) -> list[tuple[int, int]]:
    """(i, t) for x[i,t] <= sum_{c in N(i)} x[c,t]: valid when i is not t's root and t has a
    root, or when i alone is below the territory minimum (t then has other units, and with
    contiguity one of them is a neighbour of i)."""
    out = []
    alone_too_small = np.zeros(prep.n, dtype=bool)
    for r in range(len(problem.measure_names)):
        alone_too_small |= falls_short(problem.measures[r], prep.lower[r])
    for i, t in zip(*np.nonzero(prep.allowed)):
        i, t = int(i), int(t)
        if prep.root[t] == i:
            continue
        if prep.root[t] >= 0 or alone_too_small[i]:
            out.append((i, t))
    return out


def _build(
    problem: Problem,
    prep: LabelledData,
    mode: str,
    phase: str,
    moved_max: int | None,
    cuts: list[Cut],
    verbose: bool = False,
):
    """The SCIP model. phase "moved": minimize moved units; "cost": minimize compactness (+
    lambda_D moved in mode compactness), with moved <= moved_max when given."""
    n, k = prep.n, prep.k
    m = Model("territoria-labelled")
    if not verbose:
        m.hideOutput()
    cur = problem.current
    has = prep.has_current
    lam = problem.disruption_weight if mode == "compactness" else 0.0
    x = {}
    for i, t in zip(*np.nonzero(prep.allowed)):
        i, t = int(i), int(t)
        if phase == "moved":
            obj = -1.0 if has[i] and cur[i] == t else 0.0
        else:
            obj = float(prep.cost[i, t]) - (lam if has[i] and cur[i] == t else 0.0)
        lb = 1.0 if prep.allowed[i].sum() == 1 else 0.0
        x[i, t] = m.addVar(name=f"x_{i}_{t}", vtype="B", obj=obj, lb=lb)
    n_cur = int(has.sum())
    if phase == "moved":
        m.addObjoffset(float(n_cur))
    elif lam:
        m.addObjoffset(lam * n_cur)
    for i in range(n):
        m.addCons(quicksum(x[i, t] for t in np.flatnonzero(prep.allowed[i]).tolist()) == 1, name=f"assign_{i}")
    cols = [[(i, v) for (i, t2), v in x.items() if t2 == t] for t in range(k)]
    for t in range(k):
        m.addCons(quicksum(v for _, v in cols[t]) >= 1, name=f"nonempty_{t}")
        for r in range(len(problem.measure_names)):
            a = problem.measures[r]
            hi, lo = float(prep.upper[t, r]), float(prep.lower[r])
            if not np.isfinite(hi) and lo <= 0:
                continue
            expr = quicksum(float(a[i]) * v for i, v in cols[t] if a[i] != 0)
            if lo > 0:
                m.addCons(expr >= lo, name=f"lo_{r}_{t}")
            if np.isfinite(hi):
                m.addCons(expr <= hi, name=f"hi_{r}_{t}")
    caps = [c for c in (prep.max_moved, moved_max) if c is not None]
    if caps and n_cur:
        stay = quicksum(x[i, int(cur[i])] for i in np.flatnonzero(has).tolist() if (i, int(cur[i])) in x)
        m.addCons(stay >= n_cur - min(caps), name="moved_cap")
    if problem.contiguity:
        for i, t in _initial_cuts(problem, prep):
            m.addCons(
                x[i, t] - quicksum(x[int(c), t] for c in prep.neighbours[i] if (int(c), t) in x) <= 0,
                name=f"nb_{i}_{t}",
            )
        for s, cut in enumerate(cuts):
            add_cut(m, x, cut, name=f"carried_{s}")
    return m, x


def _run(
    problem: Problem,
    prep: LabelledData,
    options: SolveOptions,
    clock: Clock,
    mode: str,
    phase: str,
    moved_max: int | None,
    cuts: list[Cut],
    warm: list[np.ndarray],
    time_limit_s: float,
    integral: bool,
    to_user=(lambda v: v, lambda v: v),
):
    """Solve one phase. Returns (scip status, labels or None, bound, details, cuts). `to_user`
    maps the phase's objective to the one progress events report."""
    m, x = _build(problem, prep, mode, phase, moved_max, cuts)
    hdlr = None
    if problem.contiguity:
        hdlr = LabelledConnectivity(prep, x, clock)
        hdlr.cuts.update(dict.fromkeys(cuts))
        include_connectivity(m, hdlr)
    m.includeEventhdlr(ProgressHandler(clock, METHOD, to_user), "territoria-progress", "progress and cancellation")
    m.setParam("limits/time", max(0.01, time_limit_s))
    m.setParam("limits/gap", float(options.gap))
    m.setParam("randomization/randomseedshift", int(options.seed) % 2**31)
    m.setParam("parallel/maxnthreads", int(options.threads))
    if integral:
        m.setObjIntegral()
    for start in warm:
        add_warm_start(m, x, start)
    optimize_interruptible(m, clock)
    st = m.getStatus()
    details = {"variables": len(x), "scip_status": st, "nodes": m.getNNodes(), "solve_s": round(m.getSolvingTime(), 3)}
    labels: np.ndarray | None = None
    if m.getNSols():
        best = m.getBestSol()
        labels = np.full(prep.n, -1, dtype=np.int64)
        for (i, t), v in x.items():
            if m.getSolVal(best, v) > 0.5:
                labels[i] = t
    new_cuts = list(hdlr.cuts) if hdlr is not None else []
    if hdlr is not None:
        details["lazy_cuts"] = hdlr.n_lazy
        details["fractional_cuts"] = hdlr.n_frac
    bound = m.getDualbound() if st != "infeasible" else None
    return st, labels, bound, details, new_cuts


def _stop(st: str, clock: Clock) -> StopReason:
    if st == "optimal":
        return "converged"
    if st == "gaplimit":
        return "gap_limit"
    if st == "infeasible":
        return "proved_infeasible"
    return "cancelled" if clock.cancelled() else "time_limit"


def solve_exact_labelled(
    problem: Problem, options: SolveOptions, clock: Clock, warm_start: np.ndarray | None = None, diagnose: bool = True
) -> SolveResult:
    t0 = time.monotonic()
    mode = "moved" if problem.minimize == "moved" else "compactness"
    prep = prepare_labelled(problem)
    if prep.infeasible:
        return SolveResult(
            "infeasible",
            "proved_infeasible",
            METHOD,
            message=prep.infeasible,
            runtime_s=time.monotonic() - t0,
            details={"proved_by": "preprocessing"},
        )
    if mode == "moved" and not prep.has_current.any():
        mode = "compactness"
    warm = []
    for cand in ([warm_start] if warm_start is not None else []) + (
        [problem.current] if prep.has_current.all() else []
    ):
        lab = warm_labels(problem, prep, cand, mode)
        if lab is not None:
            warm.append(lab)
    if warm:
        best = min(warm, key=lambda lab: plan_objective(problem, prep, lab, mode))
        clock.report(plan_objective(problem, prep, best, mode), None, "exact/labelled: warm start", labels=best)
    details: dict = {
        "mode": mode,
        "warm_starts": len(warm),
        "variables_fixed_share": round(1.0 - prep.allowed.sum() / prep.allowed.size, 4),
    }
    if clock.should_stop():
        status = "feasible" if warm else ("cancelled" if clock.cancelled() else "no_solution")
        return _result_from(problem, prep, mode, status, clock.stop_reason(), best if warm else None, None, details, t0)
    integral = mode == "moved"
    if mode == "compactness":
        integral = (
            bool(np.all(np.abs(prep.cost - np.round(prep.cost)) <= 1e-9))
            and float(problem.disruption_weight).is_integer()
        )
    try:
        st, labels, bound, d1, cuts = _run(
            problem,
            prep,
            options,
            clock,
            mode,
            "moved" if mode == "moved" else "cost",
            None,
            [],
            warm,
            min(options.time_limit_s, clock.remaining()),
            integral,
        )
    except Exception as exc:  # a backend failure must not take the caller down
        return SolveResult("error", "error", METHOD, message=f"SCIP failed: {exc!r}", runtime_s=time.monotonic() - t0)
    details["phase1"] = d1
    if st == "infeasible":
        message = "no plan satisfies balance, contiguity and the realignment rules together (proved by SCIP)"
        if diagnose:
            message = _diagnose(problem, options, clock, message)
        return SolveResult(
            "infeasible", "proved_infeasible", METHOD, message=message, runtime_s=time.monotonic() - t0, details=details
        )
    if labels is None:
        return SolveResult(
            "cancelled" if clock.cancelled() else "no_solution",
            _stop(st, clock),
            METHOD,
            bound=bound,
            bound_source="SCIP branch-and-cut" if bound is not None else None,
            runtime_s=time.monotonic() - t0,
            details=details,
        )
    proved = st == "optimal" or (st == "gaplimit" and options.gap > 0)
    status = "optimal" if proved else "feasible"
    if mode == "moved":
        moved = moved_count(problem, labels)
        details["moved_proved_minimal"] = st == "optimal"
        details["moved_bound"] = int(np.ceil(bound - 1e-6)) if bound is not None else None
        # tie-break: the most compact plan among those moving no more units
        budget = clock.remaining() if options.gap == 0 else 0.5 * clock.remaining()
        if budget > 0.05 and not clock.cancelled():
            moved_bound = float(np.ceil(bound - 1e-6)) if bound is not None else None
            st2, lab2, _, d2, _ = _run(
                problem,
                prep,
                options,
                clock,
                mode,
                "cost",
                moved,
                cuts,
                [labels],
                budget,
                False,
                to_user=(lambda v: float(moved), lambda v: moved_bound),
            )
            details["phase2"] = d2
            details["compactness_proved"] = st2 == "optimal"
            if lab2 is not None and moved_count(problem, lab2) <= moved and not plan_violations(problem, prep, lab2):
                labels = lab2
        bound = float(np.ceil(bound - 1e-6)) if bound is not None else None
        return _result_from(problem, prep, mode, status, _stop(st, clock), labels, bound, details, t0)
    return _result_from(problem, prep, mode, status, _stop(st, clock), labels, bound, details, t0)


def _result_from(problem, prep, mode, status, stop_reason, labels, bound, details, t0) -> SolveResult:
    if labels is None:
        return SolveResult(status, stop_reason, METHOD, runtime_s=time.monotonic() - t0, details=details)
    broken = plan_violations(problem, prep, labels)
    if broken:
        return SolveResult(
            "error",
            "error",
            METHOD,
            message="labelled model returned a plan that breaks: " + ", ".join(broken),
            runtime_s=time.monotonic() - t0,
            details=details,
        )
    objective = plan_objective(problem, prep, labels, mode)
    details.update(moved_units=moved_count(problem, labels), compactness_fixed_centers=plan_compactness(prep, labels))
    if bound is not None:
        bound = min(bound, objective)
    return SolveResult(
        status,
        stop_reason,
        METHOD,
        labels=labels,
        centers=None,
        objective=objective,
        bound=bound,
        bound_source="SCIP branch-and-cut" if bound is not None else None,
        runtime_s=time.monotonic() - t0,
        details=details,
    )


def _diagnose(problem: Problem, options: SolveOptions, clock: Clock, message: str) -> str:
    """Name the rules that make the scenario infeasible: drop one rule group at a time and see
    which drop makes a plan possible (short solves)."""
    present = []
    if (problem.locks >= 0).any():
        present.append("locks")
    if problem.frozen is not None and problem.frozen.any():
        present.append("frozen")
    if problem.rep_ids and problem.unit_skills.any() and not problem.soft_skills:
        present.append("skills")
    if problem.rep_ids and np.isfinite(problem.rep_capacity).any():
        present.append("capacity")
    if problem.max_moved_share is not None and (problem.current >= 0).any():
        present.append("moved cap")
    if not present:
        return message + "; balance and contiguity alone admit no plan"
    culprits = []
    for rule in present:
        budget = min(10.0, clock.remaining() / max(1, len(present)))
        if budget < 0.1:
            break
        prep = prepare_labelled(problem, tuple(r for r in RULES if r != rule))
        if prep.infeasible:
            continue
        sub = Clock(budget, None, clock.cancel)
        try:
            st, labels, *_ = _run(
                problem,
                prep,
                options.model_copy(update={"time_limit_s": budget}),
                sub,
                "moved",
                "moved",
                None,
                [],
                [],
                budget,
                True,
            )
        except Exception:
            continue
        if labels is not None:
            culprits.append(rule)
    if not culprits:
        return message + f" (rules in play: {', '.join(present)}, balance, contiguity)"
    named = []
    tids = problem.territory_ids
    for rule in culprits:
        if rule == "locks":
            locked = np.flatnonzero(problem.locks >= 0)
            named.append(
                "locks ("
                + ", ".join(f"{problem.ids[i]} -> {tids[problem.locks[i]]}" for i in locked[:8])
                + (" ..." if len(locked) > 8 else "")
                + ")"
            )
        elif rule == "frozen":
            named.append("frozen territories (" + ", ".join(tids[t] for t in np.flatnonzero(problem.frozen)) + ")")
        elif rule == "moved cap":
            named.append(f"max_moved_share {problem.max_moved_share:g}")
        else:
            named.append(rule)
    return (
        message
        + "; without "
        + " or without ".join(named)
        + " a plan exists, so that rule breaks balance/contiguity here"
    )
