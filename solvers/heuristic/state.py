"""Mutable plan state for the heuristic: labels, per-territory tallies, centers, unit costs,
and the connectivity-preserving boundary-move local search (the problem's arrays: instance.py).

Rep-centric problems (reps with homes, `Problem.rep_centric`): territory t is served by rep
`problem.rep_of_territories()[t]`; a unit's cost in t is measured from that rep's home (fixed
centers, no re-centering) plus the soft-skill penalty, the rep's capacities are per-territory
upper bounds next to the balance bounds, and (hard skills) a unit never joins a territory
whose rep lacks one of its skills. Frozen territories: their units are locked and no other
unit may join them (any mode).

Everything here is linear in n per sweep (candidate moves are built with numpy from the CSR
edge list); Python loops only run per applied move and cost O(degree), apart from the
connectivity check, which is a BFS inside one territory that stops as soon as the
neighbours of the leaving unit are found to be still linked.
"""

from __future__ import annotations

import numpy as np

from solvers.heuristic.instance import Instance

EPS = 1e-12
BFS_CAP = 150


class State:
    def __init__(self, ctx: Instance, labels: np.ndarray) -> None:
        self.ctx = ctx
        self.labels = np.asarray(labels, dtype=np.int64).copy()
        self.refresh()

    # ---------------------------------------------------------------- bookkeeping
    def refresh(self) -> None:
        c = self.ctx
        k = c.k
        self.count = np.bincount(self.labels, minlength=k)
        self.tot = np.zeros((k, c.nb))
        for b in range(c.nb):
            self.tot[:, b] = np.bincount(self.labels, weights=c.A[:, b], minlength=k)
        self.centers = np.full(k, -1, dtype=np.int64)
        self.moved = self._count_moved()
        self.version = [0] * k
        self._conn_cache = {}
        self.recenter(range(k))

    def _count_moved(self) -> int:
        cur = self.ctx.current
        return int(((cur >= 0) & (self.labels != cur)).sum())

    def moved_excess(self) -> int:
        cap = self.ctx.move_cap
        return 0 if cap is None else max(0, self.moved - cap)

    def copy_from(self, other: "State") -> None:
        self.moved = other.moved
        self.labels = other.labels.copy()
        self.count = other.count.copy()
        self.tot = other.tot.copy()
        self.centers = other.centers.copy()
        self.ucost = other.ucost.copy()
        self.version = list(other.version)
        self._conn_cache = {}

    def clone(self) -> "State":
        s = State.__new__(State)
        s.ctx = self.ctx
        s.copy_from(self)
        return s

    def members_by_territory(self, terrs) -> dict[int, np.ndarray]:
        terrs = list(terrs)
        if len(terrs) * 8 < self.ctx.k:
            return {t: np.flatnonzero(self.labels == t) for t in terrs}
        order = np.argsort(self.labels, kind="stable")
        bounds = np.searchsorted(self.labels[order], np.arange(self.ctx.k + 1))
        return {t: order[bounds[t] : bounds[t + 1]] for t in terrs}

    def recenter(self, terrs) -> bool:
        """Best center of each territory in `terrs`; updates unit costs. True if any center moved."""
        c = self.ctx
        changed = False
        mem = self.members_by_territory(terrs)
        if not hasattr(self, "ucost"):
            self.ucost = np.zeros(c.n)
        for t, members in mem.items():
            if len(members) == 0:
                self.centers[t] = -1
                continue
            if c.fixed:  # the rep's home is the center: only the unit costs need setting
                self.ucost[members] = c.assign_cost(members, np.full(len(members), t), self.centers)
                continue
            ctr = c.best_center(members)
            if ctr != self.centers[t]:
                changed = True
                self.centers[t] = ctr
            self.ucost[members] = c.unit_cost(members, np.full(len(members), ctr)) + c.disruption(members, t)
        return changed

    def cost(self) -> float:
        return float(self.ucost.sum())

    def total_viol(self) -> float:
        return float(self.ctx.viol(self.tot, np.arange(self.ctx.k)).sum())

    def disallowed(self) -> int:
        """Units in a territory they may not join (frozen or, with hard skills, a rep lacking a skill)."""
        return int((~self.ctx.can_join(np.arange(self.ctx.n), self.labels)).sum())

    def move(self, i: int, b: int) -> None:
        c = self.ctx
        a = self.labels[i]
        cur = c._curl[i]
        if cur >= 0:
            self.moved += int(b != cur) - int(a != cur)
        self.labels[i] = b
        self.version[a] += 1
        self.version[b] += 1
        self.count[a] -= 1
        self.count[b] += 1
        self.tot[a] -= c.A[i]
        self.tot[b] += c.A[i]
        self.ucost[i] = c.assign_cost1(i, b, self.centers)

    def set_labels(self, idx: np.ndarray, new: np.ndarray, recenter: bool = True) -> set[int]:
        """Bulk relabel; returns the touched territories (recentred when asked)."""
        c = self.ctx
        old = self.labels[idx]
        touched = set(np.unique(old).tolist()) | set(np.unique(new).tolist())
        self.labels[idx] = new
        cur = c.current[idx]
        self.moved += int(((cur >= 0) & (new != cur)).sum() - ((cur >= 0) & (old != cur)).sum())
        for t in touched:
            self.version[t] += 1
        np.subtract.at(self.count, old, 1)
        np.add.at(self.count, new, 1)
        if c.nb:
            np.subtract.at(self.tot, old, c.A[idx])
            np.add.at(self.tot, new, c.A[idx])
        if recenter:
            self.recenter(touched)
        return touched

    # ---------------------------------------------------------------- connectivity
    def stays_connected(self, i: int, a: int) -> bool:
        """Does territory `a` stay connected when unit i (a member) leaves it?

        Conservative: a search that would explore more than BFS_CAP units answers False
        (the move is skipped, never wrongly allowed). Answers are cached per territory
        version."""
        ver = self.version[a]
        hit = self._conn_cache.get((i, a))
        if hit is not None and hit[0] == ver:
            return hit[1]
        ok = self._stays_connected(i, a)
        self._conn_cache[(i, a)] = (ver, ok)
        return ok

    def _stays_connected(self, i: int, a: int) -> bool:
        ip, ix, lab = self.ctx.ip, self.ctx.ix, self.labels
        nbrs = [j for j in ix[ip[i] : ip[i + 1]] if lab[j] == a]
        if len(nbrs) <= 1:
            return True
        targets = set(nbrs)
        # ring test: neighbours linked through other neighbours of i
        start = nbrs[0]
        seen = {start}
        stack = [start]
        while stack:
            u = stack.pop()
            for v in ix[ip[u] : ip[u + 1]]:
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
            if len(seen) > BFS_CAP:
                return False
            nxt = []
            for u in frontier:
                for v in ix[ip[u] : ip[u + 1]]:
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
        ip, ix, lab = self.ctx.ip, self.ctx.ix, self.labels
        for j in ix[ip[i] : ip[i + 1]]:
            if lab[j] == b:
                return True
        return False

    # ---------------------------------------------------------------- candidates
    def boundary_moves(self, extra_targets: np.ndarray | None = None, terrs=None):
        """All (unit, from, to) boundary moves allowed by locks, centers and non-emptiness;
        only moves touching the territories `terrs` when given."""
        c = self.ctx
        lab = self.labels
        lr, lc = lab[c.erow], lab[c.ecol]
        diff = lr != lc
        if terrs is not None:
            mark = np.zeros(c.k, dtype=bool)
            mark[list(terrs)] = True
            diff &= mark[lr] | mark[lc]
        key = c.erow[diff] * c.k + lc[diff]
        if extra_targets is not None:
            key = np.concatenate([key, extra_targets])
        key = np.unique(key)
        i = key // c.k
        b = key % c.k
        a = lab[i]
        ok = (~c.locked[i]) & (self.centers[a] != i) & (self.count[a] > 1) & (a != b) & c.can_join(i, b)
        return i[ok], a[ok], b[ok]

    def move_deltas(self, i, a, b):
        c = self.ctx
        dcost = c.assign_cost(i, b, self.centers) - self.ucost[i]
        ai = c.A[i]
        ta, tb = self.tot[a], self.tot[b]
        na, nb_ = ta - ai, tb + ai
        dviol = c.viol(na, a) + c.viol(nb_, b) - c.viol(ta, a) - c.viol(tb, b)
        if c.hard_skills or c.frozen.any():
            # leaving a territory the unit may not be in repairs a rule (moves into one are never built)
            dviol = dviol - (~c.can_join(i, a)).astype(float)
        ddev = c.dev2(na, a) + c.dev2(nb_, b) - c.dev2(ta, a) - c.dev2(tb, b)
        return dcost, dviol, ddev

    def _pair_delta(self, i: int, a: int, b: int):
        c = self.ctx
        ai = c.A[i]
        ta, tb = self.tot[a], self.tot[b]
        na, nb_ = ta - ai, tb + ai
        terr = np.array([a, b, a, b])
        v = c.viol(np.stack([na, nb_, ta, tb]), terr)
        d = c.dev2(np.stack([na, nb_, ta, tb]), terr)
        out = v[0] + v[1] - v[2] - v[3]
        if c.hard_skills or c.frozen.any():
            out -= float(not c.can_join(i, a))
        return out, d[0] + d[1] - d[2] - d[3]

    def _movable(self, i: int, a: int, b: int) -> bool:
        if self.labels[i] != a or self.count[a] <= 1 or self.centers[a] == i:
            return False
        cap = self.ctx.move_cap
        if cap is not None:
            cur = self.ctx._curl[i]
            if cur >= 0 and cur == a and self.moved >= cap:
                return False  # the unit would leave its current territory past the cap
        if not self.adjacent_to(i, b):
            return False
        if self.ctx.contiguity and not self.stays_connected(i, a):
            return False
        return True

    # ---------------------------------------------------------------- local search
    def sweep_repair(self, cost_weight: float, extra=None) -> int:
        """One pass of balance-repair moves: minimize BIG*violation + squared deviation
        (+ a small cost term). Returns the number of moves applied."""
        i, a, b = self.boundary_moves(extra)
        if len(i) == 0:
            return 0
        dcost, dviol, ddev = self.move_deltas(i, a, b)
        cscale = cost_weight
        score = 1e3 * dviol + ddev + cscale * dcost
        sel = np.flatnonzero(score < -EPS)
        if len(sel) == 0:
            return 0
        sel = sel[np.argsort(score[sel], kind="stable")]
        applied = 0
        dcl = dcost.tolist()
        for s in sel.tolist():
            ii, aa, bb = int(i[s]), int(a[s]), int(b[s])
            dv, dd = self._pair_delta(ii, aa, bb)
            if 1e3 * dv + dd + cscale * dcl[s] >= -EPS:
                continue
            if not self._movable(ii, aa, bb):
                continue
            self.move(ii, bb)
            applied += 1
        return applied

    def sweep_compact(self, extra=None, terrs=None) -> tuple[int, set]:
        """One pass of cost-improving moves that do not increase any bound violation."""
        i, a, b = self.boundary_moves(extra, terrs)
        if len(i) == 0:
            return 0, set()
        dcost, dviol, _ = self.move_deltas(i, a, b)
        sel = np.flatnonzero((dcost < -1e-9 * (1.0 + np.abs(self.ucost[i]))) & (dviol <= EPS))
        applied = 0
        touched: set[int] = set()
        if len(sel):
            sel = sel[np.argsort(dcost[sel], kind="stable")]
            for s in sel.tolist():
                ii, aa, bb = int(i[s]), int(a[s]), int(b[s])
                dv, _ = self._pair_delta(ii, aa, bb)
                if dv > EPS:
                    continue
                if not self._movable(ii, aa, bb):
                    continue
                self.move(ii, bb)
                applied += 1
                touched.add(aa)
                touched.add(bb)
        return applied, touched

    def sweep_swaps(self, top: int = 8, terrs=None, repair_cw: float | None = None) -> tuple[int, set]:
        """Pairwise exchanges i: A->B, j: B->A whose joint cost falls and whose joint balance
        stays within bounds (single moves are often blocked by tight bounds). With
        `repair_cw`, exchanges that lower 1e3*violation + squared deviation + repair_cw*cost."""
        c = self.ctx
        i, a, b = self.boundary_moves(terrs=terrs)
        if len(i) == 0:
            return 0, set()
        dcost, _, _ = self.move_deltas(i, a, b)
        k = c.k
        pair = a * k + b
        if repair_cw is not None:
            top = max(top, 24)
        order = np.lexsort((dcost, pair))
        pair_s = pair[order]
        ukeys, starts = np.unique(pair_s, return_index=True)
        ends = np.append(starts[1:], len(pair_s))
        groups = {}
        for key, s0, e0 in zip(ukeys.tolist(), starts.tolist(), ends.tolist()):
            groups[key] = order[s0 : min(e0, s0 + top)]
        applied = 0
        touched: set[int] = set()
        tol = 1e-9 * (1.0 + float(np.abs(self.ucost).max(initial=0.0)))
        for key, gi in groups.items():
            aa, bb = divmod(key, k)
            if aa > bb:
                continue
            gj = groups.get(bb * k + aa)
            if gj is None:
                continue
            dc = dcost[gi][:, None] + dcost[gj][None, :]
            if repair_cw is not None:
                delta = c.A[i[gj]][None, :, :] - c.A[i[gi]][:, None, :]
                ta, tb = self.tot[aa], self.tot[bb]
                ab = np.array([aa, bb])
                base = c.viol(np.stack([ta, tb]), ab).sum()
                based = c.dev2(np.stack([ta, tb]), ab).sum()
                dv = c.viol(ta + delta, aa) + c.viol(tb - delta, bb) - base
                dd = c.dev2(ta + delta, aa) + c.dev2(tb - delta, bb) - based
                score = 1e3 * dv + dd + repair_cw * dc
                okm = score < -EPS
                dc = score
            elif not (dc < -tol).any():
                continue
            elif c.nb:
                delta = c.A[i[gj]][None, :, :] - c.A[i[gi]][:, None, :]  # (L, L, nb)
                ta, tb = self.tot[aa], self.tot[bb]
                base = c.viol(np.stack([ta, tb]), np.array([aa, bb])).sum()
                dv = c.viol(ta + delta, aa) + c.viol(tb - delta, bb) - base
                okm = (dc < -tol) & (dv <= EPS)
            else:
                okm = dc < -tol
            cand = np.argwhere(okm)
            if len(cand) == 0:
                continue
            cand = cand[np.argsort(dc[cand[:, 0], cand[:, 1]], kind="stable")]
            for x, y in cand.tolist()[:6]:
                ii, jj = int(i[gi[x]]), int(i[gj[y]])
                if self.labels[ii] != aa or self.labels[jj] != bb:
                    continue
                if not self._movable(ii, aa, bb):
                    continue
                self.move(ii, bb)
                if not self._movable(jj, bb, aa):
                    self.move(ii, aa)
                    continue
                self.move(jj, aa)
                applied += 1
                touched.update((aa, bb))
                break  # groups are stale for this pair now
        return applied, touched
