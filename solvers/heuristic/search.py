"""The phases of the heuristic search on a plan state (solve.py runs them, in order):

- `repair_balance`: boundary moves minimizing violation_weight * (relative bound violation)
  + squared relative deviation from target (+ a small cost term), then merge-and-split
  (ReCom) of a violating territory with a neighbour; when stuck, a ReCom chain: a random
  walk of merge-and-split steps that never increases the violation.
- `compact`: boundary moves and pairwise swaps that lower cost and keep every bound,
  re-centering in between, until nothing improves.
- `ils`: iterated local search: merge-and-split of a random pair of neighbours along
  distance-weighted random spanning trees, local search, keep if the objective falls.
- `jumps` (at scale, instead of the ILS): one center closes, another opens where the plan's
  cost lies, location-allocation from those centers, repair and local search.
- `lns`: the split of 2, 3 or 4 neighbouring territories re-optimized by a small exact model.
- `anneal`: violation annealing, when no start meets every bound.

`record` keeps the best feasible plan (verified by the evaluator's own measures: `badness`
is 0) and the least violating one.
"""

from __future__ import annotations

import numpy as np

from engine.contiguity import territory_components
from engine.problem import Problem
from engine.tolerance import IMPROVEMENT_REL, NOISE
from models.options import SolveOptions
from solvers.clock import Clock
from solvers.heuristic.instance import Instance
from solvers.heuristic.location_allocation import capacitated_lloyd
from solvers.heuristic.moves import Moves
from solvers.heuristic.params import DEFAULTS, HeuristicParams
from solvers.heuristic.recom import recom_pair
from solvers.heuristic.repair import repaired
from solvers.heuristic.state import State


class Search:
    """One seeded search: the instance, the random numbers, the clock, the parameters, and the
    best plans found so far."""

    def __init__(
        self, problem: Problem, options: SolveOptions, clock: Clock, params: HeuristicParams = DEFAULTS
    ) -> None:
        self.problem = problem
        self.clock = clock
        self.params = params
        self.inst = Instance(problem)
        self.moves = Moves(params)
        self.rng = np.random.default_rng(options.seed)
        self.seed = options.seed
        self.best_feasible: tuple[float, np.ndarray] | None = None
        self.best_any: tuple[float, np.ndarray] | None = None
        self.last_report = -1e9
        self.timed_out = False
        self.lns_done: set[tuple] = set()
        self.lns_solves = 0

    # ------------------------------------------------------------------ helpers
    def stop(self) -> bool:
        if self.clock.should_stop():
            self.timed_out = True
            return True
        return False

    def badness(self, st: State) -> float:
        """Violation score of a state: balance (relative), pieces, locks, empties."""
        inst = self.inst
        b = st.total_violation()
        if inst.contiguity:
            pieces = territory_components(self.problem.adj, st.labels, inst.k)
            b += float(np.maximum(pieces - 1, 0).sum())
        b += float((st.count == 0).sum())
        b += float((inst.locked & (st.labels != inst.locks)).sum())
        b += float(st.moved_excess())
        if inst.hard_skills or inst.frozen.any():
            b += float(st.disallowed())
        return b

    def record(self, st: State) -> None:
        """Keep the state's plan if it is the best feasible one, or the least violating one."""
        bad = self.badness(st)
        if bad <= NOISE:
            obj = st.cost()
            if self.best_feasible is None or obj < self.best_feasible[0] - IMPROVEMENT_REL * (1 + abs(obj)):
                self.best_feasible = (obj, st.labels.copy())
                now = self.clock.elapsed()
                if now - self.last_report >= self.params.report_every_s:
                    self.last_report = now
                    self.clock.report(obj, None, "heuristic: better plan", labels=st.labels.copy())
        elif self.best_any is None or bad < self.best_any[0]:
            self.best_any = (bad, st.labels.copy())

    def neighbours(self, st: State, t: int) -> list[int]:
        """Territories adjacent to t, the one with the most room first (least full when t is
        over its target, most full when under)."""
        inst = self.inst
        lab = st.labels
        m = lab[inst.edge_from] == t
        nbr = np.unique(lab[inst.edge_to[m]])
        nbr = nbr[nbr != t]
        fill = (st.tot[nbr] / inst.scale).max(axis=1) if inst.n_tracked else np.zeros(len(nbr))
        viol_t = st.tot[t] - inst.target
        if inst.n_tracked and viol_t.sum() < 0:
            fill = -fill
        return nbr[np.argsort(fill, kind="stable")].tolist()

    def random_pairs(self, st: State, count: int) -> list[tuple[int, int]]:
        """`count` random pairs of neighbouring territories (an edge between them drawn each)."""
        inst = self.inst
        lab = st.labels
        diff = np.flatnonzero(lab[inst.edge_from] < lab[inst.edge_to])
        if len(diff) == 0:
            return []
        pick = self.rng.choice(diff, size=min(count, len(diff)), replace=False)
        return [(int(lab[inst.edge_from[e]]), int(lab[inst.edge_to[e]])) for e in pick]

    def groups(self, st: State, size: int, max_units: int) -> list[tuple[int, ...]]:
        """Connected groups of `size` neighbouring territories with at most `max_units`
        units together, in a seeded random order."""
        inst = self.inst
        lab = st.labels
        m = lab[inst.edge_from] != lab[inst.edge_to]
        pairs = np.unique(np.sort(np.column_stack([lab[inst.edge_from[m]], lab[inst.edge_to[m]]]), axis=1), axis=0)
        nbr: dict[int, set[int]] = {t: set() for t in range(inst.k)}
        for a, b in pairs.tolist():
            nbr[a].add(b)
            nbr[b].add(a)
        out: set[tuple[int, ...]] = {(a, b) for a, b in pairs.tolist()}
        for _ in range(size - 2):  # grow each group by one neighbouring territory
            out = {tuple(sorted((*g, c))) for g in out for c in set().union(*(nbr[t] for t in g)) if c not in g}
        cnt = st.count
        res = sorted(g for g in out if int(cnt[list(g)].sum()) <= max_units)
        order = self.rng.permutation(len(res))
        return [res[i] for i in order.tolist()]

    def _recom(self, st: State, a: int, b: int, n_trees: int, noise: float):
        return recom_pair(st, a, b, self.rng, n_trees=n_trees, noise=noise, n_candidates=self.params.recom_candidates)

    # ------------------------------------------------------------------ phases
    def improve(self, st: State) -> None:
        """Repair the balance, then compact; once more if a bound is still violated."""
        self.repair_balance(st)
        self.compact(st)
        if st.total_violation() > NOISE:
            self.repair_balance(st, rounds=4)
            self.compact(st)

    def repair_balance(self, st: State, rounds: int = 6) -> None:
        """Boundary-move repair, then merge-and-split of violating territories with their
        neighbours; when stuck, a random walk of merge-and-split steps that never increases
        the violation (ReCom chain) until the bounds hold or the budget is spent."""
        inst, p = self.inst, self.params
        for _ in range(rounds):
            if st.total_violation() <= NOISE or self.stop():
                return
            self.repair_sweeps(st)
            if st.total_violation() <= NOISE:
                return
            st.recenter(range(inst.k))
            improved = False
            viol_t = inst.violation(st.tot, np.arange(inst.k))
            for t in np.argsort(-viol_t, kind="stable").tolist():
                if viol_t[t] <= NOISE or self.stop():
                    break
                for u in self.neighbours(st, t):
                    pair_v = float(inst.violation(st.tot[[t, u]], np.array([t, u])).sum())
                    res = self._recom(st, t, u, p.repair_recom_trees, p.repair_recom_noise)
                    if res is not None and res[2] < pair_v - NOISE and self._resplit(st, res[0], res[1]):
                        improved = True
                        break
                viol_t = inst.violation(st.tot, np.arange(inst.k))
            if not improved:
                break
        if st.total_violation() <= NOISE:
            return
        # ReCom chain: pairs touching a violating territory (mostly) or any pair (diffusion)
        budget = p.chain_steps + p.chain_steps_per_k * inst.k
        stale_max = p.chain_patience + p.chain_patience_per_k * inst.k
        stale = 0
        best_v = st.total_violation()
        for it in range(budget):
            if best_v <= NOISE or stale >= stale_max or self.stop():
                break
            viol_t = inst.violation(st.tot, np.arange(inst.k))
            bad = np.flatnonzero(viol_t > NOISE)
            if len(bad) and self.rng.random() < p.chain_violating_share:
                t = int(bad[self.rng.integers(len(bad))])
                nb = self.neighbours(st, t)
                if not nb:
                    continue
                u = nb[int(self.rng.integers(len(nb)))]
            else:
                pr = self.random_pairs(st, 1)
                if not pr:
                    break
                t, u = pr[0]
            pair_v = float(viol_t[[t, u]].sum())
            res = self._recom(st, t, u, p.chain_recom_trees, p.chain_recom_noise)
            if res is None or res[2] > pair_v + NOISE or not self._resplit(st, res[0], res[1], recenter=False):
                stale += 1
                continue
            if it % 10 == 0:
                self.repair_sweeps(st, max_sweeps=5)
            v = st.total_violation()
            if v < best_v - NOISE:
                best_v = v
                stale = 0
            else:
                stale += 1
        st.recenter(range(inst.k))
        self.repair_sweeps(st)

    def _resplit(self, st: State, members: np.ndarray, labels: np.ndarray, recenter: bool = True) -> bool:
        """Relabel `members` as a merge-and-split proposes, unless that moves more units past the
        cap on moved units than before (a re-split may move many): then leave the state as it was."""
        excess = st.moved_excess()
        old = st.labels[members].copy()
        st.set_labels(members, labels, recenter=recenter)
        if st.moved_excess() > excess:
            st.set_labels(members, old, recenter=recenter)
            return False
        return True

    def repair_sweeps(self, st: State, max_sweeps: int = 200) -> None:
        """Repair moves, then repair swaps when no move helps, until neither does."""
        cw = self.params.repair_cost_per_k * self.inst.k / max(st.cost(), NOISE)
        for _s in range(max_sweeps):
            if self.stop() or st.total_violation() <= NOISE:
                break
            if self.moves.sweep_repair(st, cw) == 0:
                if self.moves.sweep_swaps(st, repair_cw=cw)[0] == 0:
                    break

    def anneal(self, st: State, moves: int, t_start: float, t_end: float) -> None:
        """Violation annealing: random connectivity-preserving boundary moves accepted by the
        Metropolis rule on the summed bound violation, the temperature falling geometrically
        from `t_start` to `t_end` over `moves` proposals. Unlike the descent repairs it can
        cross ridges of the violation, which two measures with opposite geography (urban
        workload, rural potential) put between a start and every feasible plan. Keeps the
        least violating state; stops as soon as the bounds hold."""
        inst = self.inst
        er, ec = inst.edge_from, inst.edge_to
        if len(er) == 0 or moves <= 0:
            return
        rng = self.rng
        picks = rng.integers(len(er), size=moves)
        rolls = rng.random(moves)
        decay = (t_end / t_start) ** (1.0 / moves)
        temp = t_start
        cur = st.total_violation()
        best, best_st = cur, st.clone()
        lab = st.labels
        for it in range(moves):
            temp *= decay
            if it % 256 == 0 and self.stop():
                break
            e = int(picks[it])
            i = int(er[e])
            a, b = int(lab[i]), int(lab[ec[e]])
            if a == b or inst.locked[i] or not inst.can_join(i, b):
                continue
            dv, _ = self.moves.pair_delta(st, i, a, b)
            if dv > 0 and rolls[it] >= np.exp(-dv / temp):
                continue
            if not self.moves.movable(st, i, a, b):
                continue
            st.move(i, b)
            lab = st.labels
            cur += dv
            if cur < best - NOISE:
                cur = st.total_violation()  # resync the running sum
                if cur < best - NOISE:
                    best, best_st = cur, st.clone()
                    if best <= NOISE:
                        break
        st.copy_from(best_st)
        st.recenter(range(inst.k))

    def compact(self, st: State, max_rounds: int = 30, terrs=None) -> None:
        """Cost-lowering boundary moves and swaps within bounds, re-centering in between.
        With `terrs`, only moves touching those territories (and then the ones touched)."""
        for _ in range(max_rounds):
            if self.stop():
                return
            touched: set[int] = set()
            active = None if terrs is None else set(terrs)
            for _s in range(100):
                n1, t1 = self.moves.sweep_compact(st, terrs=active)
                touched |= t1
                if n1 == 0:
                    n2, t2 = self.moves.sweep_swaps(st, terrs=active)
                    touched |= t2
                    if n2 == 0:
                        break
                    if active is not None:
                        active = active | t2
                elif active is not None:
                    active = active | t1
                if self.stop():
                    return
            if not touched:
                return
            if not st.recenter(sorted(touched)):
                return
            if terrs is not None:
                terrs = touched

    def ils(self, st: State, max_iter: int, patience: int) -> None:
        """Iterated local search: merge-and-split a random neighbouring pair, local search,
        accept when the cost stays within `ils_slack` of the best (record-to-record travel);
        stop after `patience` iterations without a new best."""
        p = self.params
        slack = p.ils_slack
        best = st.cost()
        best_st = st.clone()
        cur = best
        stale = 0
        for _ in range(max_iter):
            if stale >= patience or self.stop():
                break
            pairs = self.random_pairs(st, 1)
            if not pairs:
                break
            a, b = pairs[0]
            m = int(st.count[a] + st.count[b])
            n_trees = int(np.clip(p.ils_tree_units // max(m, 1), p.ils_trees_min, p.ils_trees_max))
            res = self._recom(st, a, b, n_trees, p.ils_recom_noise)
            stale += 1
            if res is None or res[2] > NOISE:
                continue
            snap = st.clone()
            M, new, _, _ = res
            st.set_labels(M, new)
            self.compact(st, max_rounds=10, terrs={a, b})
            c = st.cost()
            if (
                st.total_violation() > NOISE
                or st.moved_excess() > 0
                or c > best * (1 + slack) + NOISE
                or (c >= cur and self.rng.random() < 0.5)
            ):
                st.copy_from(snap)
                continue
            cur = c
            if c < best - IMPROVEMENT_REL * (1 + abs(best)):
                best = c
                best_st = st.clone()
                stale = 0
                self.record(st)
        st.copy_from(best_st)

    def jumps(self) -> None:
        """Center jumps from the best plan, while a jump still fits in the time left: one
        territory's center closes and a center opens at a unit drawn by its share of the
        plan's cost (k-means++'s rule), then `jump_rounds` of location-allocation from those
        centers, contiguity repair and the local search; the best plan is kept (record)."""
        from engine.evaluate import best_centers

        inst, clock = self.inst, self.clock
        n, k = inst.n, inst.k
        took = 0.0  # the longest jump so far
        while not self.stop() and self.best_feasible is not None:
            if clock.remaining() <= took:  # the next jump would not fit: the clock stopped it
                self.timed_out = True
                break
            t0 = clock.elapsed()
            lab = self.best_feasible[1]
            centers = best_centers(self.problem, lab)
            share = np.maximum(inst.assign_cost(np.arange(n), lab, centers), 0.0) + NOISE
            opened = int(self.rng.choice(n, p=share / share.sum()))
            others = np.flatnonzero(np.arange(k) != lab[opened])
            centers[int(others[self.rng.integers(len(others))])] = opened
            labels = capacitated_lloyd(
                inst, centers, self.params, stop=self.stop, at_scale=True, rounds=self.params.jump_rounds, wide_rounds=0
            )
            plan = repaired(inst, labels)
            if plan is not None and not self.stop():
                st = State(inst, plan)
                self.improve(st)
                self.record(st)
            took = max(took, clock.elapsed() - t0)

    def lns(self, st: State, max_solves: int, sizes=(2, 3, 4)) -> None:
        """Exact-subproblem LNS (lns.py): re-optimize the split of 2, 3, then 4 neighbouring
        territories with the sub-MIP, going back to pairs after every improvement, until every
        group has been solved as it stands (remembered across calls by the members of its
        territories) or `max_solves` sub-MIPs have run."""
        from solvers.heuristic.lns import reoptimize

        while not self.stop():
            improved = False
            member_hash: dict[int, int] = {}
            for size in sizes:
                for g in self.groups(st, size, self.params.lns_max_units):
                    if self.lns_solves >= max_solves or self.stop():
                        return
                    if not member_hash:  # one O(n log n) pass per scan, not O(n) per group
                        mem = st.members_by_territory(range(self.inst.k))
                        member_hash = {t: hash(v.tobytes()) for t, v in mem.items()}
                    key = (g, tuple(member_hash[t] for t in g))
                    if key in self.lns_done:
                        continue
                    res, _ = reoptimize(st, list(g), self.clock, self.seed, self.params)
                    self.lns_solves += 1
                    if res is None:
                        self.lns_done.add(key)
                        continue
                    st.set_labels(res[0], res[1])
                    self.compact(st, max_rounds=5, terrs=set(g))
                    self.record(st)
                    improved = True
                    break
                if improved:
                    break
            if not improved:
                return
