"""The heuristic method (docs/model.md): construct, repair balance, improve compactness.

1. Construction: seeds by weighted k-means++ (+ Lloyd steps) on projected coordinates,
   locked territories seeded at their locked units; then location-allocation (the cheapest
   balanced assignment to the centers, re-centering, repeated) and a contiguity repair.
   Where territories are small enough for the exact re-split (5.) and for rep-centric
   problems (which also start once from the balanced assignment to the homes): balanced
   region growing from the seeds over the adjacency graph.
2. Balance repair: connectivity-preserving boundary moves minimizing
   violation_weight * (relative bound violation) + squared relative deviation from target
   (+ a small cost term), then merge-and-split (ReCom) of a violating territory with a
   neighbour.
3. Compactness: boundary moves and pairwise swaps that lower cost and keep every bound,
   re-centering in between, until nothing improves.
4. Multistart, then iterated local search from the best plan: merge-and-split of a random
   pair of neighbours along distance-weighted random spanning trees, local search, keep if
   the objective falls. At scale (split_min_units) the one start is a recursive split along
   spanning trees, and center jumps replace the ILS (Search.jumps): one center closes,
   another opens where the plan's cost lies, location-allocation from those centers, repair
   and local search, the best plan kept. The merge-and-split ILS gains little where
   territories hold hundreds of units, and fresh location-allocation starts take too long
   there.
5. Where territories are small (at most lns_max_units_per_territory units on average, plain
   Hess model: no reps' homes, disruption or frozen territories), exact-subproblem LNS
   (lns.py) before and after the ILS: the split of 2, 3 or 4 neighbouring territories
   (<= lns_max_units units together) is re-optimized by a small SCIP model with contiguity,
   the rest fixed. Local moves stall under tight balance where a different split of the same
   units is cheaper. Each group is solved once as it stands (remembered by the members of its
   territories), so the search ends when no group improves.
6. When no start meets every bound (the descent repairs stall: two measures with opposite
   geography, e.g. urban workload and rural potential), violation annealing from the least
   violating plan until one does or time runs out (Search.anneal).

Stopping is by iteration counts, no-improvement counters and sub-MIP node limits, so a
seed gives the same plan whatever the machine speed (except in step 6, which only runs
while no feasible plan exists and stops on the clock, and at scale, where the
location-allocation rounds and the jumps run while time remains); the clock is a safety
net only (with small territories and a short limit the LNS may still be running when the
clock stops it). Every plan returned as "feasible" has been verified by
engine.evaluate.evaluate. The tunables: params.py (HeuristicParams); the measurements behind
their defaults: benchmarks/results/tuning.md, "Heuristic".
"""

from __future__ import annotations

import numpy as np

from engine.align import align_to_current
from engine.evaluate import evaluate
from engine.problem import Problem
from engine.tolerance import NOISE
from models.options import SolveOptions
from solvers.clock import Clock
from solvers.heuristic.construct import grow, seeds
from solvers.heuristic.instance import Instance
from solvers.heuristic.lns import applicable
from solvers.heuristic.location_allocation import capacitated_lloyd
from solvers.heuristic.params import HeuristicParams
from solvers.heuristic.repair import repaired
from solvers.heuristic.search import Search
from solvers.heuristic.state import State
from solvers.result import SolveResult


def solve_heuristic(
    problem: Problem,
    options: SolveOptions,
    clock: Clock,
    warm_start: np.ndarray | None = None,
    params: HeuristicParams | None = None,
) -> SolveResult:
    """The heuristic's plan for `problem` (the starts, then the phases in order; see the
    module docstring), with the tunables `params` (HeuristicParams() when None)."""
    params = HeuristicParams() if params is None else params
    search = Search(problem, options, clock, params)
    inst = search.inst
    n, k = inst.n, inst.k

    if k == 1:
        labels = np.zeros(n, dtype=np.int64)
        return _finish(problem, clock, labels, search, "converged")

    starts: list[np.ndarray | None] = []
    if warm_start is not None:
        ws = np.asarray(warm_start, dtype=np.int64)
        if ws.shape == (n,) and ws.min(initial=0) >= 0 and ws.max(initial=0) < k and len(np.unique(ws)) == k:
            ws = np.where(inst.locked, inst.locks, ws)
            starts.append(ws)
    if inst.move_cap is not None or (inst.disruption_weight > 0 and not inst.rep_centric):
        # a realignment (moves capped or priced) starts from the current alignment
        cur = inst.current
        if (cur >= 0).all() and len(np.unique(cur)) == k:
            starts.insert(0, np.where(inst.locked, inst.locks, cur))
    if n <= params.many_units:
        n_starts = int(np.clip(params.start_units // max(n, 1), params.min_starts, params.max_starts))
    else:
        n_starts = params.scale_starts
    jumps = False
    if n >= params.split_min_units and not inst.locked.any() and not starts and not inst.rep_centric:
        # (rep-centric problems start from a balanced assignment to the homes instead: the
        # split ignores them)
        # at scale, region growing leaves balance to a repair that does not keep up with
        # hundreds of territories: bisect along spanning trees first (balanced by construction)
        from solvers.heuristic.split import recursive_split

        split = recursive_split(inst, search.rng, clock, params)
        if split is not None and np.bincount(split, minlength=k).min() > 0:
            starts.append(split)
            n_starts, jumps = 0, True  # then center jumps from it
    if inst.rep_centric and inst.move_cap is None and not starts:
        # rep-centric: the cheapest balanced assignment to the homes (contiguity repaired in the
        # loop); at scale it replaces region growing, which hems crowded homes in
        from solvers.heuristic.location_allocation import balanced_assignment

        starts.append(balanced_assignment(inst, n_cand=params.home_candidates))
        if n >= params.split_min_units:
            n_starts = 0
    starts += [None] * n_starts

    lns_ok = applicable(inst) and n <= params.lns_max_units_per_territory * k
    seen: set[int] = set()  # location-allocation results so far (a repeat grows regions instead)

    # moves are counted against the current alignment: territories of a start numbered anyhow
    # would count as moved what only changed its number (rep-centric numbers are the reps')
    renumber = not inst.rep_centric and bool((inst.current >= 0).any())
    searched = 0.0  # the longest a start's repair and local search took
    for s0 in starts:
        if search.stop():
            break
        if s0 is None:
            # location-allocation rounds stop while the start's own search still fits: twice
            # the longest a start's search took so far, or half the time left before any has run
            keep = 2.0 * searched if searched > 0 else 0.5 * clock.remaining()
            s0 = _construct(
                inst,
                search.rng,
                seen,
                params,
                allocate=not lns_ok,
                stop=lambda keep=keep: search.stop() or clock.remaining() < keep,
            )
        plan = repaired(inst, s0)
        if plan is None:
            continue
        if renumber:  # a start's territories keep the ids of the current ones they overlap most
            plan = align_to_current(problem, plan)
        st = State(inst, plan)
        t0 = clock.elapsed()
        search.improve(st)
        searched = max(searched, clock.elapsed() - t0)
        search.record(st)
        if jumps and search.best_feasible is None and len(starts) == 1:
            starts.append(None)  # the split met no set of bounds: a location-allocation start too

    if search.best_feasible is None and search.best_any is not None:
        # no start met every bound and the descent repairs are stuck: anneal the violation from
        # the least violating plan (a fresh start every 4th round) while time remains
        size = (inst.loads / inst.scale).sum(axis=1) if inst.n_tracked else np.zeros(n)
        t0 = params.anneal_temp * float(np.median(size))
        rounds = 0
        while t0 > 0 and search.best_feasible is None and not search.stop():
            if rounds % 4 == 3:
                plan = repaired(inst, grow(inst, seeds(inst, search.rng, params.seed_lloyd_steps), search.rng))
                if plan is None:
                    rounds += 1
                    continue
                st = State(inst, plan)
                search.improve(st)
            else:
                st = State(inst, search.best_any[1])
            search.anneal(st, params.anneal_moves_per_unit * n, t0, t0 / params.anneal_cooling)
            search.record(st)
            rounds += 1

    if search.best_feasible is not None and not search.stop():
        st = State(inst, search.best_feasible[1])
        if lns_ok:
            search.lns(st, max_solves=params.lns_solves_per_k * k)
        max_iter = params.ils_iter + params.ils_iter_per_k * k
        patience = params.ils_patience + params.ils_patience_per_k * k
        if jumps and not search.stop():
            search.jumps()
        elif not search.stop():
            search.ils(st, max_iter=max_iter, patience=patience)
        if lns_ok and not search.stop():
            search.lns(st, max_solves=2 * params.lns_solves_per_k * k)

    if search.best_feasible is not None:
        labels = search.best_feasible[1]
    elif search.best_any is not None:
        labels = search.best_any[1]
    else:
        labels = np.zeros(n, dtype=np.int64)
    return _finish(problem, clock, labels, search, "time_limit" if search.timed_out else "converged")


def _construct(
    inst: Instance, rng: np.random.Generator, seen: set, params: HeuristicParams, allocate: bool, stop=None
) -> np.ndarray:
    """A start from k-means++ seeds: with `allocate`, location-allocation from them
    (location_allocation.capacitated_lloyd), unless it repeats an earlier start (`seen`);
    otherwise region growing from them.

    Location-allocation instead of region growing: region growing fills territories in the
    order the frontier reaches units, and local moves under tight balance do not undo a poor
    arrangement. Where the exact re-split runs (small territories, lns.py) the starts' variety
    counts more, so it grows regions there. Rep-centric problems grow regions (their balanced
    assignment to the homes is a start of its own). (The measurements:
    benchmarks/results/tuning.md.)"""
    s = seeds(inst, rng, params.seed_lloyd_steps)
    if allocate and not inst.rep_centric:
        labels = capacitated_lloyd(inst, s, params, stop=stop, at_scale=inst.n >= params.split_min_units)
        key = hash(labels.tobytes())
        if key not in seen:
            seen.add(key)
            return labels
    return grow(inst, s, rng)


def least_violating_message(problem: Problem, ev) -> str:
    head = "; ".join(ev.violations[:5])
    more = f" (+{len(ev.violations) - 5} more)" if len(ev.violations) > 5 else ""
    parts = []
    for r in np.flatnonzero(problem.balanced):
        lo, hi = problem.lower[r], problem.upper[r]
        tot = ev.totals[:, r]
        over = np.maximum(0, tot - hi) / max(hi, NOISE) if np.isfinite(hi) else np.zeros_like(tot)
        under = np.maximum(0, lo - tot) / max(lo, NOISE) if lo > 0 else np.zeros_like(tot)
        worst = float(max(over.max(initial=0), under.max(initial=0)))
        if worst > 0:
            parts.append(f"{problem.measure_names[r]} off its bounds by up to {worst:.2%}")
    summary = ("; ".join(parts) + ". ") if parts else ""
    return f"no plan satisfying every hard rule found. {summary}Still violated: {head}{more}"


def _finish(problem: Problem, clock: Clock, labels: np.ndarray, search: Search, reason) -> SolveResult:
    ev = evaluate(problem, labels)
    stop_reason = clock.stop_reason() if reason == "time_limit" else "converged"
    if ev.feasible:
        clock.report(ev.objective, None, "heuristic: done", labels=ev.labels.copy())
    return SolveResult(
        status="feasible" if ev.feasible else "no_solution",
        stop_reason=stop_reason,
        method="heuristic",
        labels=ev.labels,
        centers=ev.centers,
        objective=ev.objective,
        runtime_s=clock.elapsed(),
        message=None if ev.feasible else least_violating_message(problem, ev),
        details={} if ev.feasible else {"violations": ev.violations},
    )
