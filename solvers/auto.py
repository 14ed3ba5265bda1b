"""The `auto` method: which model solves a scenario, with what warm start and time.

- Up to EXACT_MAX_UNITS units, the exact Hess model, warm-started by the heuristic (with its
  bound) in a share of the time (solvers.clock.warm_budget): on the county instances the warm
  start is often already optimal, and the exact model then only proves it.
- A realignment capped by max_moved_share: the heuristic first with the whole time limit (it
  enforces the cap; the center-based exact model cannot), the exact model in the time left.
- Above EXACT_MAX_UNITS, the heuristic with its bound.

Reps with homes and "fewest moved units" need the territory-indexed model instead
(`uses_labelled_model`), which solvers.solve routes before this policy.
"""

from __future__ import annotations

from dataclasses import replace

from engine.problem import Problem
from models import SolveOptions
from solvers.bounded import solve_heuristic_with_bound
from solvers.clock import Clock, warm_budget
from solvers.exact import solve_exact
from solvers.params import DEFAULT_PARAMS, SolverParams
from solvers.result import SolveResult

# `auto` uses the exact method up to this many units (x[i,j] has n^2 entries).
EXACT_MAX_UNITS = 150
# `auto` on a capped realignment runs the exact model after the heuristic only when the
# heuristic and its bound leave at least this share of the time limit.
CAPPED_EXACT_MIN_SHARE = 0.1


def uses_labelled_model(problem: Problem, method: str) -> bool:
    """Reps with homes (fixed centers) or a realignment that minimizes moved units need the
    territory-indexed exact model (up to EXACT_MAX_UNITS with `auto`); larger rep-centric
    problems go to the rep-centric heuristic."""
    if not (problem.rep_ids or problem.minimize == "moved"):
        return False
    return method == "exact" or (method == "auto" and problem.n <= EXACT_MAX_UNITS)


def moved_cap_unenforced_by_exact(problem: Problem) -> int | None:
    """The moved-units cap (units) when it can bind and the center-based exact model cannot
    enforce it, else None. That model identifies territories by their centers, not by the
    current territory ids, so 'moved' is not expressible in it: its optimum may move more
    units than allowed and then is no plan at all."""
    cap = problem.moved_cap
    if cap is None or problem.rep_centric:
        return None
    return cap if cap < int((problem.current >= 0).sum()) else None


def solve_auto(
    problem: Problem, options: SolveOptions, clock: Clock, params: SolverParams = DEFAULT_PARAMS
) -> SolveResult:
    if problem.n > EXACT_MAX_UNITS:
        return solve_heuristic_with_bound(problem, options, clock, final=True, params=params)
    cap = moved_cap_unenforced_by_exact(problem)
    if cap is not None:
        return _solve_capped(problem, options, clock, cap, params)
    warm_clock = Clock(warm_budget(clock.remaining()), clock.on_progress, clock.cancel)
    warm = solve_heuristic_with_bound(problem, options, warm_clock, params=params)
    if clock.should_stop():
        return warm
    warm_labels = warm.labels if warm.status == "feasible" else None
    exact = solve_exact(problem, options, clock, warm_labels, params.heuristic)
    if exact.status in ("optimal", "infeasible"):
        return exact
    if warm.bound is not None and (exact.bound is None or warm.bound > exact.bound):
        exact = replace(exact, bound=warm.bound, bound_source=warm.bound_source)
    if _cheaper(warm, exact):
        # keep the exact method's bound: it is valid for any plan
        return replace(warm, bound=exact.bound, bound_source=exact.bound_source, stop_reason=exact.stop_reason)
    if exact.labels is None and warm.labels is not None and exact.status in ("no_solution", "cancelled"):
        # neither found a plan: the planner gets the warm start's least violating attempt and
        # what it breaks, not an empty plan
        note = "the exact method found no plan either" + (f" ({exact.message})" if exact.message else "")
        return replace(
            warm,
            status=exact.status,
            bound=exact.bound,
            bound_source=exact.bound_source,
            stop_reason=exact.stop_reason,
            message=_joined(warm.message, note),
        )
    return exact


def _solve_capped(problem: Problem, options: SolveOptions, clock: Clock, cap: int, params: SolverParams) -> SolveResult:
    """A realignment under max_moved_share: the heuristic enforces the cap, the exact model
    cannot, so the heuristic (and its bound) gets the whole time limit instead of a warm
    start's share. Only the time it leaves goes to the exact model, which may still prove the
    plan optimal (its optimum respects the cap) or raise the bound (its relaxation drops the
    cap, so its bound stands); a plan of it that breaks the cap is no plan (solvers.exact.hess)."""
    share = problem.max_moved_share
    note = (
        f"auto: the exact model cannot enforce max_moved_share {share:g} (at most {cap} moved units), "
        "so the heuristic had the whole time limit"
    )
    heur = solve_heuristic_with_bound(problem, options, clock, final=True, params=params)
    details = {**heur.details, "auto_route": "heuristic_first", "auto_reason": "max_moved_share"}
    left = clock.remaining()
    if (
        clock.should_stop()
        or left < CAPPED_EXACT_MIN_SHARE * clock.time_limit_s
        or heur.status not in ("feasible", "no_solution")
    ):
        return replace(heur, message=_joined(heur.message, note), details={**details, "exact_after": "skipped"})
    exact = solve_exact(problem, options, clock, heur.labels if heur.status == "feasible" else None, params.heuristic)
    details.update(exact_after=exact.status, exact_after_s=round(exact.runtime_s, 3))
    if exact.status == "optimal":
        # proved optimal by a relaxation (no cap) whose optimum keeps the cap: optimal under every rule
        return replace(
            exact,
            message=_joined(exact.message, note + "; the exact model then proved its plan optimal"),
            details={**exact.details, **details},
        )
    if exact.status == "infeasible" and heur.status != "feasible":
        return replace(exact, message=_joined(exact.message, note), details={**exact.details, **details})
    best = exact if _cheaper(exact, heur) else heur
    bound, source = heur.bound, heur.bound_source
    if exact.bound is not None and (bound is None or exact.bound > bound):
        bound, source = exact.bound, exact.bound_source
    return replace(
        best, bound=bound, bound_source=source, message=_joined(best.message, note), details={**best.details, **details}
    )


def _cheaper(result: SolveResult, other: SolveResult) -> bool:
    """`result` is a feasible plan, and `other` has none or a costlier one."""
    if result.status != "feasible" or result.objective is None:
        return False
    return other.status != "feasible" or other.objective is None or result.objective < other.objective


def _joined(*messages: str | None) -> str | None:
    return "; ".join(m for m in messages if m) or None
