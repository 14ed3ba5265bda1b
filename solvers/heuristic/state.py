"""Mutable plan state for the heuristic: labels, per-territory tallies, centers, unit costs
and connectivity (the problem's arrays: instance.py; the moves and sweeps that change a
state: moves.py).

Tallies are kept incrementally: `move` and `set_labels` update counts, totals, the number of
moved units and each territory's version; unit costs are those from the current centers
(`recenter` moves the centers and refreshes them). Everything is linear in n per bulk
update; a single move costs O(degree), apart from the connectivity check, which is a BFS
inside one territory that stops as soon as the neighbours of the leaving unit are found to
be still linked.
"""

from __future__ import annotations

import numpy as np

from solvers.heuristic.instance import Instance
from solvers.heuristic.params import DEFAULTS


class State:
    def __init__(self, inst: Instance, labels: np.ndarray) -> None:
        self.inst = inst
        self.labels = np.asarray(labels, dtype=np.int64).copy()
        self.refresh()

    # ---------------------------------------------------------------- bookkeeping
    def refresh(self) -> None:
        """Every tally recounted from the labels, every territory recentred."""
        inst = self.inst
        k = inst.k
        self.count = np.bincount(self.labels, minlength=k)
        self.tot = np.zeros((k, inst.n_tracked))
        for b in range(inst.n_tracked):
            self.tot[:, b] = np.bincount(self.labels, weights=inst.loads[:, b], minlength=k)
        self.centers = np.full(k, -1, dtype=np.int64)
        self.moved = self.count_moved()
        self.version = [0] * k
        self._conn_cache: dict[tuple[int, int], tuple[int, int, bool]] = {}  # (i, a) -> (version, cap, answer)
        self.ucost = np.zeros(inst.n)  # every unit's cost is set by recenter: each is in a territory
        self.recenter(range(k))

    def count_moved(self) -> int:
        """Units with a current territory that are elsewhere, counted from the labels."""
        cur = self.inst.current
        return int(((cur >= 0) & (self.labels != cur)).sum())

    def moved_excess(self) -> int:
        cap = self.inst.move_cap
        return 0 if cap is None else max(0, self.moved - cap)

    def copy_from(self, other: State) -> None:
        self.moved = other.moved
        self.labels = other.labels.copy()
        self.count = other.count.copy()
        self.tot = other.tot.copy()
        self.centers = other.centers.copy()
        self.ucost = other.ucost.copy()
        self.version = list(other.version)
        self._conn_cache = {}

    def clone(self) -> State:
        s = State.__new__(State)
        s.inst = self.inst
        s.copy_from(self)
        return s

    def members_by_territory(self, terrs) -> dict[int, np.ndarray]:
        terrs = list(terrs)
        if len(terrs) * 8 < self.inst.k:
            return {t: np.flatnonzero(self.labels == t) for t in terrs}
        order = np.argsort(self.labels, kind="stable")
        bounds = np.searchsorted(self.labels[order], np.arange(self.inst.k + 1))
        return {t: order[bounds[t] : bounds[t + 1]] for t in terrs}

    def recenter(self, terrs) -> bool:
        """Best center of each territory in `terrs`; updates unit costs. True if any center moved."""
        inst = self.inst
        changed = False
        mem = self.members_by_territory(terrs)
        for t, members in mem.items():
            if len(members) == 0:
                self.centers[t] = -1
                continue
            if inst.rep_centric:  # the rep's home is the center: only the unit costs need setting
                self.ucost[members] = inst.assign_cost(members, np.full(len(members), t), self.centers)
                continue
            ctr = inst.best_center(members)
            if ctr != self.centers[t]:
                changed = True
                self.centers[t] = ctr
            self.ucost[members] = inst.unit_cost(members, np.full(len(members), ctr)) + inst.disruption(members, t)
        return changed

    def cost(self) -> float:
        return float(self.ucost.sum())

    def total_violation(self) -> float:
        return float(self.inst.violation(self.tot, np.arange(self.inst.k)).sum())

    def disallowed(self) -> int:
        """Units in a territory they may not join (frozen or, with hard skills, a rep lacking a skill)."""
        return int((~self.inst.can_join(np.arange(self.inst.n), self.labels)).sum())

    def move(self, i: int, b: int) -> None:
        """Unit i joins territory b (no check): tallies and i's cost from b's center updated."""
        inst = self.inst
        a = self.labels[i]
        cur = inst.current_list[i]
        if cur >= 0:
            self.moved += int(b != cur) - int(a != cur)
        self.labels[i] = b
        self.version[a] += 1
        self.version[b] += 1
        self.count[a] -= 1
        self.count[b] += 1
        self.tot[a] -= inst.loads[i]
        self.tot[b] += inst.loads[i]
        self.ucost[i] = inst.assign_cost_scalar(i, b, self.centers)

    def set_labels(self, idx: np.ndarray, new: np.ndarray, recenter: bool = True) -> set[int]:
        """Bulk relabel; returns the touched territories (recentred when asked)."""
        inst = self.inst
        old = self.labels[idx]
        touched = set(np.unique(old).tolist()) | set(np.unique(new).tolist())
        self.labels[idx] = new
        cur = inst.current[idx]
        self.moved += int(((cur >= 0) & (new != cur)).sum() - ((cur >= 0) & (old != cur)).sum())
        for t in touched:
            self.version[t] += 1
        np.subtract.at(self.count, old, 1)
        np.add.at(self.count, new, 1)
        if inst.n_tracked:
            np.subtract.at(self.tot, old, inst.loads[idx])
            np.add.at(self.tot, new, inst.loads[idx])
        if recenter:
            self.recenter(touched)
        return touched

    # ---------------------------------------------------------------- connectivity
    def stays_connected(self, i: int, a: int, cap: int = DEFAULTS.bfs_cap) -> bool:
        """Does territory `a` stay connected when unit i (a member) leaves it?

        Conservative: a search that would explore more than `cap` units answers False
        (the move is skipped, never wrongly allowed). Answers are cached per territory
        version."""
        ver = self.version[a]
        hit = self._conn_cache.get((i, a))
        if hit is not None and hit[0] == ver and hit[1] == cap:
            return hit[2]
        ok = self._stays_connected(i, a, cap)
        self._conn_cache[(i, a)] = (ver, cap, ok)
        return ok

    def _stays_connected(self, i: int, a: int, cap: int) -> bool:
        start_of, nbr, lab = self.inst.nbr_start, self.inst.nbr, self.labels
        nbrs = [j for j in nbr[start_of[i] : start_of[i + 1]] if lab[j] == a]
        if len(nbrs) <= 1:
            return True
        targets = set(nbrs)
        # ring test: neighbours linked through other neighbours of i
        start = nbrs[0]
        seen = {start}
        stack = [start]
        while stack:
            u = stack.pop()
            for v in nbr[start_of[u] : start_of[u + 1]]:
                if v in targets and v not in seen:
                    seen.add(v)
                    stack.append(v)
        if len(seen) == len(targets):
            return True
        # full BFS inside a without i, stop once every neighbour is reached
        remaining = len(targets) - 1
        seen = {start, i}
        frontier = [start]
        while frontier:
            if len(seen) > cap:
                return False
            nxt = []
            for u in frontier:
                for v in nbr[start_of[u] : start_of[u + 1]]:
                    if v not in seen and lab[v] == a:
                        seen.add(v)
                        if v in targets:
                            remaining -= 1
                            if remaining == 0:
                                return True
                        nxt.append(v)
            frontier = nxt
        return False

    def adjacent_to(self, i: int, b: int) -> bool:
        """Has unit i a neighbour in territory b?"""
        start_of, nbr, lab = self.inst.nbr_start, self.inst.nbr, self.labels
        for j in nbr[start_of[i] : start_of[i + 1]]:
            if lab[j] == b:
                return True
        return False
