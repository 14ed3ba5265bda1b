"""`solve()`: pre-check, pick a method, run it, verify the plan with the one evaluator."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, replace

import numpy as np

from engine.align import align_to_current
from engine.evaluate import Evaluation, evaluate
from engine.problem import Problem
from models import SolveOptions
from solvers.base import Clock, ProgressCallback, SolveResult, warm_budget
from solvers.precheck import infeasibility_reasons

# `auto` uses the exact method up to this many units (x[i,j] has n^2 entries).
EXACT_MAX_UNITS = 150


@dataclass(frozen=True, eq=False)
class Outcome:
    result: SolveResult
    evaluation: Evaluation | None
    rep_of_territory: np.ndarray | None = None
    region_of_territory: np.ndarray | None = None

    def region_ids(self, problem: Problem) -> list[str] | None:
        if self.region_of_territory is None:
            return None
        return [f"R{r + 1}" for r in self.region_of_territory]

    def rep_ids(self, problem: Problem) -> list[str | None] | None:
        if self.rep_of_territory is None:
            return None
        return [problem.rep_ids[r] for r in self.rep_of_territory]


def solve(
    problem: Problem,
    options: SolveOptions | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Outcome:
    options = options or SolveOptions()
    clock = Clock(options.time_limit_s, on_progress, cancel)
    if problem.regions and 1 < problem.regions < problem.k:
        return _solve_hierarchy(problem, options, clock)
    return _solve_level(problem, options, clock)


def _solve_level(problem: Problem, options: SolveOptions, clock: Clock) -> Outcome:
    reasons = infeasibility_reasons(problem)
    if reasons:
        result = SolveResult(
            status="infeasible", stop_reason="proved_infeasible", method="precheck",
            runtime_s=clock.elapsed(), message="; ".join(reasons),
        )
        return Outcome(result, None)

    method = options.method
    if uses_labelled_model(problem, method):
        return _solve_labelled(problem, options, clock)
    if problem.rep_centric:
        return _solve_rep_heuristic(problem, options, clock)
    if method == "auto":
        result = _auto(problem, options, clock)
    elif method == "exact":
        result = _exact(problem, options, clock)
    else:
        result = _heuristic(problem, options, clock, final=True)
    return _verified(problem, replace(result, runtime_s=clock.elapsed()))


def uses_labelled_model(problem: Problem, method: str) -> bool:
    """Reps with homes (fixed centers) or a realignment that minimizes moved units need the
    territory-indexed exact model (up to EXACT_MAX_UNITS with `auto`); larger rep-centric
    problems go to the rep-centric heuristic (`_solve_rep_heuristic`)."""
    if not (problem.rep_ids or problem.minimize == "moved"):
        return False
    return method == "exact" or (method == "auto" and problem.n <= EXACT_MAX_UNITS)


def _solve_labelled(problem: Problem, options: SolveOptions, clock: Clock) -> Outcome:
    """Territory t is served by a known rep, so no rep assignment follows and no renumbering:
    the labels are checked as they are, skills and capacities included."""
    from solvers.exact_labelled import solve_exact_labelled
    from solvers.exact_labelled_prep import rep_of_territories

    warm = None
    if problem.n > 20:
        # a cheap contiguous plan to start from (the model renumbers it to its reps): without
        # one, SCIP may find no plan at all on county realignments with k = 6
        h = _heuristic(problem, options, clock.sub(min(0.2, 10.0 / max(clock.remaining(), 1e-9))))
        warm = h.labels if h.status == "feasible" else None
    result = solve_exact_labelled(problem, options, clock, warm)
    result = replace(result, runtime_s=clock.elapsed())
    rep_of = rep_of_territories(problem)
    if result.labels is None:
        return Outcome(result, None)
    ev = evaluate(problem, result.labels, rep_of_territory=rep_of)
    if result.status in ("optimal", "feasible") and not ev.feasible:
        result = replace(result, status="error",
                         message="the solver returned a plan that breaks: " + "; ".join(ev.violations[:5]))
    if result.objective is not None and abs(result.objective - ev.objective) > 1e-9 * max(1.0, abs(ev.objective)):
        # Without reps the model measures travel from the best center of each territory's
        # current units, the evaluator from the plan's best center: report the evaluator's
        # objective; the model's and its bound stay in the details. With reps both measure
        # from the reps' homes and agree, so the bound stands.
        details = {**result.details, "model_objective": result.objective, "model_bound": result.bound}
        result = replace(result, objective=ev.objective, bound=None, bound_source=None, details=details)
    return Outcome(result, ev, rep_of)


def _solve_rep_heuristic(problem: Problem, options: SolveOptions, clock: Clock) -> Outcome:
    """Rep-centric design at scale: territory t is built around the home of its rep
    (`Problem.rep_of_territories`), with the rep's capacity, skills, locks, frozen territories
    and the moved cap honoured by the search; the evaluator checks the plan as numbered."""
    result = _heuristic(problem, options, clock)
    outcome = _verified(problem, replace(result, runtime_s=clock.elapsed()))
    return replace(outcome, rep_of_territory=problem.rep_of_territories())


def _solve_hierarchy(problem: Problem, options: SolveOptions, clock: Clock) -> Outcome:
    from solvers.hierarchy import solve_hierarchy

    def solve_one(sub: Problem, sub_options: SolveOptions, parent: Clock) -> SolveResult:
        sub_clock = Clock(min(sub_options.time_limit_s, parent.remaining()), parent.on_progress, parent.cancel)
        return _solve_level(sub, sub_options, sub_clock).result

    result, regions = solve_hierarchy(problem, options, clock, solve_one)
    if not problem.rep_ids:
        outcome = _verified(problem, replace(result, runtime_s=clock.elapsed()))
        return replace(outcome, region_of_territory=regions)
    # regions and territories are designed without the reps, then reps are assigned to them
    outcome = _verified(problem.without_reps(), replace(result, runtime_s=clock.elapsed()))
    if outcome.evaluation is None:
        return replace(outcome, region_of_territory=regions)
    return _with_reps(problem, outcome, regions)


# Share of the time limit the lower bound may take after a heuristic solve.
BOUND_SHARE = 0.15


# The heuristic knows no lexicographic objective: "fewest moved units first" becomes a
# disruption weight that outweighs any compactness difference.
_MOVED_WEIGHT = 1e12


def _heuristic(problem: Problem, options: SolveOptions, clock: Clock, warm_start=None, final: bool = False) -> SolveResult:
    """The heuristic, then the Lagrangian bound. `final`: this is the answer (not a warm start),
    so the bound may use all the time the heuristic left: it often converges well before the
    limit, and the bound stops by itself when its steps converge."""
    from solvers.heuristic import solve_heuristic

    searched = problem
    if problem.minimize == "moved" and (problem.current >= 0).any():
        searched = problem.with_(minimize="compactness", disruption_weight=max(problem.disruption_weight, _MOVED_WEIGHT))
    side = _side_bound(problem, options, clock) if final else None
    if side is None and not problem.rep_centric:  # the bound runs here, after the search
        _warm_bound_kernels()
    budget = 0.0 if side is not None else min(BOUND_SHARE * clock.time_limit_s, 120.0)
    on_progress = clock.on_progress
    if side is not None:  # better plans' objectives steer the child's steps
        def on_progress(event, report=clock.on_progress):
            side.offer(event.objective)
            if report is not None:
                report(event)
    search_clock = Clock(max(clock.remaining() - budget, 0.5 * clock.remaining()), on_progress, clock.cancel)
    try:
        result = solve_heuristic(searched, options, search_clock, warm_start)
    except BaseException:
        if side is not None:
            side.cancel()
        raise
    if searched is not problem and result.labels is not None:
        labels = result.labels if problem.rep_centric else align_to_current(problem, result.labels)
        ev = evaluate(problem, labels)
        result = replace(result, objective=ev.objective if ev.feasible else result.objective, bound=None)
    if side is not None:
        if clock.cancelled() or result.status not in ("feasible", "no_solution"):
            side.cancel()
            return result
        # a search that converged leaves the child its time; one cut by the clock stops it
        b = side.finish(stop=result.stop_reason != "converged", wait_s=clock.remaining(), cancel=clock.cancel)
        if b is not None:
            return _attach_bound(result, clock, b)
        if side.error:
            result = replace(result, details={**result.details, "bound_error": side.error})
    return _with_bound(problem, result, clock, max(budget, clock.remaining()) if final else budget)


@functools.cache
def _warm_bound_kernels() -> None:
    """Import the bound and compile (or load from numba's cache) its kernels in a thread, once
    per process, while the search runs: in a new process that takes about 1.2 s, which a
    short solve's bound would otherwise pay itself (Iowa, 2 s heuristic, first solve in a
    process: 2.34 s and gap 39.7 %, the same solve again 7.4 %; the CLI's `auto` on Iowa in
    5 s, whose heuristic warm start carries the bound: gap 39.6 % -> 1.25 %). API workers
    have them from the forkserver (api.worker_preload)."""

    def run() -> None:
        import solvers.bound  # noqa: F401 - its imports too
        from solvers.bound_terms import warm_all

        warm_all()

    threading.Thread(target=run, name="territoria-bound-warm", daemon=True).start()


def _side_bound(problem: Problem, options: SolveOptions, clock: Clock):
    """The bound in a child process beside the search (solvers.bound_side), where the bound
    needs more time than its share and a second core is there; else None."""
    from solvers.bound_lists import long_lists_fit
    from solvers.bound_side import MIN_SECONDS, SideBound, cores

    if (problem.rep_centric or problem.explicit_distances is not None or long_lists_fit(problem.n, problem.k)
            or options.threads < 2 or cores() < 2 or clock.remaining() < MIN_SECONDS):
        return None
    return SideBound.start(problem, clock.start + clock.time_limit_s)


def _with_bound(problem: Problem, result: SolveResult, clock: Clock, budget_s: float) -> SolveResult:
    """Attach the Lagrangian lower bound when the result has none or a weaker one (with reps:
    the per-unit cheapest-rep bound, as travel is measured from the reps' homes)."""
    from solvers.bound import lagrangian_bound

    if problem.rep_centric:
        from solvers.bound_homes import SOURCE, home_assignment_bound

        b = home_assignment_bound(problem) if result.status in ("feasible", "no_solution") else None
        if b is None or (result.bound is not None and result.bound >= b):
            return result
        return replace(result, bound=b, bound_source=SOURCE)
    if clock.should_stop() or result.status not in ("feasible", "no_solution"):
        return result
    bound_clock = Clock(min(budget_s, clock.remaining()), None, clock.cancel)
    feasible = result.status == "feasible"
    b = lagrangian_bound(problem, bound_clock, upper=result.objective if feasible else None,
                         labels=result.labels if feasible else None)
    return result if b is None else _attach_bound(result, clock, b)


def _attach_bound(result: SolveResult, clock: Clock, b) -> SolveResult:
    """The result with bound b when it has none or a weaker one (a progress event says so)."""
    if result.bound is not None and result.bound >= b.bound:
        return result
    if result.status == "feasible":
        clock.report(result.objective, b.bound, "bound: lagrangian", labels=result.labels)
    return replace(result, bound=b.bound, bound_source=b.source)


def _exact(problem: Problem, options: SolveOptions, clock: Clock, warm_start=None) -> SolveResult:
    from solvers.exact import solve_exact

    return solve_exact(problem, options, clock, warm_start)


def moved_cap_unenforced_by_exact(problem: Problem) -> int | None:
    """The moved-units cap (units) when it can bind and the center-based exact model cannot
    enforce it, else None. That model identifies territories by their centers, not by the
    current territory ids, so 'moved' is not expressible in it: its optimum may move more
    units than allowed and then is no plan at all."""
    share = problem.max_moved_share
    n_cur = int((problem.current >= 0).sum()) if problem.current is not None else 0
    if share is None or n_cur == 0 or problem.rep_centric:
        return None
    cap = int(np.floor(share * n_cur + 1e-9))  # as the heuristic and the evaluator count it
    return cap if cap < n_cur else None


# `auto` on a capped realignment runs the exact model after the heuristic only when the
# heuristic and its bound leave at least this share of the time limit.
_CAPPED_EXACT_MIN_SHARE = 0.1


def _auto_capped(problem: Problem, options: SolveOptions, clock: Clock, cap: int) -> SolveResult:
    """A realignment under max_moved_share: the heuristic enforces the cap, the exact model
    cannot, so the heuristic (and its bound) gets the whole time limit instead of a warm
    start's share. Only the time it leaves goes to the exact model, which may still prove the
    plan optimal (its optimum respects the cap) or raise the bound (its relaxation drops the
    cap, so its bound stands); a plan of it that breaks the cap is no plan (solvers.exact)."""
    share = problem.max_moved_share
    note = (f"auto: the exact model cannot enforce max_moved_share {share:g} (at most {cap} moved units), "
            "so the heuristic had the whole time limit")
    heur = _heuristic(problem, options, clock, final=True)
    details = {**heur.details, "auto_route": "heuristic_first", "auto_reason": "max_moved_share"}
    left = clock.remaining()
    if clock.should_stop() or left < _CAPPED_EXACT_MIN_SHARE * clock.time_limit_s or heur.status not in ("feasible", "no_solution"):
        return replace(heur, message=_joined(heur.message, note), details={**details, "exact_after": "skipped"})
    exact = _exact(problem, options, clock, heur.labels if heur.status == "feasible" else None)
    details.update(exact_after=exact.status, exact_after_s=round(exact.runtime_s, 3))
    if exact.status == "optimal":
        # proved optimal by a relaxation (no cap) whose optimum keeps the cap: optimal under every rule
        return replace(exact, message=_joined(exact.message, note + "; the exact model then proved its plan optimal"),
                       details={**exact.details, **details})
    if exact.status == "infeasible" and heur.status != "feasible":
        return replace(exact, message=_joined(exact.message, note), details={**exact.details, **details})
    best = heur
    if exact.status == "feasible" and (heur.status != "feasible" or exact.objective < heur.objective):
        best = exact
    bound, source = heur.bound, heur.bound_source
    if exact.bound is not None and (bound is None or exact.bound > bound):
        bound, source = exact.bound, exact.bound_source
    return replace(best, bound=bound, bound_source=source, message=_joined(best.message, note),
                   details={**best.details, **details})


def _joined(*messages: str | None) -> str | None:
    return "; ".join(m for m in messages if m) or None


def _auto(problem: Problem, options: SolveOptions, clock: Clock) -> SolveResult:
    if problem.n > EXACT_MAX_UNITS:
        return _heuristic(problem, options, clock, final=True)
    cap = moved_cap_unenforced_by_exact(problem)
    if cap is not None:
        return _auto_capped(problem, options, clock, cap)
    # A contiguous warm start first (its share: solvers.base.warm_budget): on the county
    # instances it is often already optimal, and it leaves the exact method only the bound.
    warm = _heuristic(problem, options, Clock(warm_budget(clock.remaining()), clock.on_progress, clock.cancel))
    if clock.should_stop():
        return warm
    warm_labels = warm.labels if warm.status == "feasible" else None
    exact = _exact(problem, options, clock, warm_labels)
    if exact.status in ("optimal", "infeasible"):
        return exact
    if warm.bound is not None and (exact.bound is None or warm.bound > exact.bound):
        exact = replace(exact, bound=warm.bound, bound_source=warm.bound_source)
    if warm.status == "feasible" and (exact.objective is None or warm.objective < exact.objective):
        # keep the exact method's bound: it is valid for any plan
        return replace(warm, bound=exact.bound, bound_source=exact.bound_source, stop_reason=exact.stop_reason)
    if exact.labels is None and warm.labels is not None and exact.status in ("no_solution", "cancelled"):
        # neither found a plan (PA counties, k = 5, in 120 s): the planner gets the warm
        # start's least violating attempt and what it breaks, not an empty plan
        note = "the exact method found no plan either" + (f" ({exact.message})" if exact.message else "")
        return replace(warm, status=exact.status, bound=exact.bound, bound_source=exact.bound_source,
                       stop_reason=exact.stop_reason, message=_joined(warm.message, note))
    return exact


def _verified(problem: Problem, result: SolveResult) -> Outcome:
    """Re-evaluate the returned labels; a plan claimed feasible must pass every hard rule."""
    if result.labels is None:
        return Outcome(result, None)
    if (problem.current >= 0).any() and not problem.rep_centric:
        # rep-centric labels already name the territory of each rep: never renumber them
        result = replace(result, labels=align_to_current(problem, result.labels))
    ev = evaluate(problem, result.labels)
    status, message = result.status, result.message
    if status in ("optimal", "feasible") and not ev.feasible:
        status = "error"
        message = "the solver returned a plan that breaks: " + "; ".join(ev.violations[:5])
    elif status in ("no_solution", "cancelled") and ev.feasible:
        status = "feasible"
    bound = result.bound
    if bound is not None and bound > ev.objective + 1e-9 * max(1.0, abs(ev.objective)):
        # A valid bound never exceeds a feasible plan's objective: drop it rather than mislead.
        message = (message + "; " if message else "") + f"reported bound {bound:g} exceeded the plan's objective; dropped"
        bound = None
    return Outcome(
        replace(result, status=status, message=message, objective=ev.objective, bound=bound, labels=np.asarray(result.labels)),
        ev,
    )


def _with_reps(problem: Problem, outcome: Outcome, regions: np.ndarray | None) -> Outcome:
    """Territories designed without the reps get reps by an exact bipartite assignment, then
    are renumbered so that territory t is served by the rep the shared mapping gives it; the
    evaluator then measures travel from the reps' homes."""
    from solvers.assign_reps import assign_reps, labels_for_reps, territory_of_reps

    assignment = assign_reps(problem, outcome.evaluation)
    result = outcome.result
    if assignment.rep_of_territory is None:
        status = "no_solution" if result.status in ("optimal", "feasible") else result.status
        message = "; ".join(m for m in (result.message, assignment.message) if m)
        return Outcome(replace(result, status=status, message=message, bound=None), None, None, regions)
    labels = labels_for_reps(problem, result.labels, assignment.rep_of_territory)
    if regions is not None:
        renumbered = np.empty_like(regions)
        renumbered[territory_of_reps(problem)[assignment.rep_of_territory]] = regions
        regions = renumbered
    ev = evaluate(problem, labels)
    status, message = result.status, result.message
    if status in ("optimal", "feasible") and not ev.feasible:
        status, message = "error", "rep assignment breaks: " + "; ".join(ev.violations[:5])
    # a bound of the design without reps does not bound travel from the reps' homes
    result = replace(result, status=status, message=message, labels=labels, objective=ev.objective, bound=None,
                     bound_source=None)
    return Outcome(result, ev, problem.rep_of_territories(), regions)
