"""Boundary moves of a plan state and the local-search sweeps that apply them.

A boundary move takes unit i from its territory a to a neighbouring territory b. The moves
allowed by locks, centers, non-emptiness and the territory rules are built all at once with
numpy from the instance's edge list (`boundary_moves`), scored all at once (`deltas`: change
in cost, bound violation and squared deviation), then applied best first by a Python loop
that re-scores each against the tallies as they stand (`pair_delta`) and checks that it
still applies (`movable`: still on the boundary, territory a stays connected, the cap on
moved units holds). Each sweep is linear in n; the loop costs O(degree) per applied move
apart from the connectivity check (State.stays_connected).

Three sweeps: balance repair (lower violation_weight * violation + squared deviation + a
small cost term), compaction (lower the cost, never raise a violation) and pairwise swaps
(i: a -> b with j: b -> a, where tight bounds block every single move).
"""

from __future__ import annotations

import numpy as np

from engine.tolerance import IMPROVEMENT_REL, NOISE
from solvers.heuristic.params import DEFAULTS, HeuristicParams
from solvers.heuristic.state import State


class Moves:
    """The moves and sweeps, with the parameters that shape them."""

    def __init__(self, params: HeuristicParams = DEFAULTS) -> None:
        self.params = params

    # ---------------------------------------------------------------- candidates
    def boundary_moves(self, st: State, terrs=None):
        """All (unit, from, to) boundary moves allowed by locks, centers, non-emptiness and the
        territory rules; only moves touching the territories `terrs` when given."""
        inst = st.inst
        lab = st.labels
        lr, lc = lab[inst.edge_from], lab[inst.edge_to]
        diff = lr != lc
        if terrs is not None:
            mark = np.zeros(inst.k, dtype=bool)
            mark[list(terrs)] = True
            diff &= mark[lr] | mark[lc]
        key = np.unique(inst.edge_from[diff] * inst.k + lc[diff])
        i = key // inst.k
        b = key % inst.k
        a = lab[i]
        ok = (~inst.locked[i]) & (st.centers[a] != i) & (st.count[a] > 1) & (a != b) & inst.can_join(i, b)
        return i[ok], a[ok], b[ok]

    def deltas(self, st: State, i, a, b):
        """(cost, violation, squared deviation) changes of the moves i: a -> b (arrays)."""
        inst = st.inst
        dcost = inst.assign_cost(i, b, st.centers) - st.ucost[i]
        load = inst.loads[i]
        ta, tb = st.tot[a], st.tot[b]
        na, nb = ta - load, tb + load
        dviol = inst.violation(na, a) + inst.violation(nb, b) - inst.violation(ta, a) - inst.violation(tb, b)
        if inst.hard_skills or inst.frozen.any():
            # leaving a territory the unit may not be in repairs a rule (moves into one are never built)
            dviol = dviol - (~inst.can_join(i, a)).astype(float)
        ddev = (
            inst.squared_deviation(na, a)
            + inst.squared_deviation(nb, b)
            - inst.squared_deviation(ta, a)
            - inst.squared_deviation(tb, b)
        )
        return dcost, dviol, ddev

    def pair_delta(self, st: State, i: int, a: int, b: int) -> tuple[float, float]:
        """(violation, squared deviation) change of one move i: a -> b from the tallies as they stand."""
        inst = st.inst
        load = inst.loads[i]
        ta, tb = st.tot[a], st.tot[b]
        na, nb = ta - load, tb + load
        terr = np.array([a, b, a, b])
        v = inst.violation(np.stack([na, nb, ta, tb]), terr)
        d = inst.squared_deviation(np.stack([na, nb, ta, tb]), terr)
        out = v[0] + v[1] - v[2] - v[3]
        if inst.hard_skills or inst.frozen.any():
            out -= float(not inst.can_join(i, a))
        return out, d[0] + d[1] - d[2] - d[3]

    def movable(self, st: State, i: int, a: int, b: int) -> bool:
        """May unit i move from a to b now: still in a, not a's center or last unit, adjacent
        to b, a stays connected (with contiguity) and the cap on moved units holds."""
        if st.labels[i] != a or st.count[a] <= 1 or st.centers[a] == i:
            return False
        inst = st.inst
        cap = inst.move_cap
        if cap is not None:
            cur = inst.current_list[i]
            if cur >= 0 and cur == a and st.moved >= cap:
                return False  # the unit would leave its current territory past the cap
        if not st.adjacent_to(i, b):
            return False
        if inst.contiguity and not st.stays_connected(i, a, self.params.bfs_cap):
            return False
        return True

    # ---------------------------------------------------------------- sweeps
    def sweep_repair(self, st: State, cost_weight: float) -> int:
        """One pass of balance-repair moves: minimize violation_weight * violation + squared
        deviation + cost_weight * cost. Returns the number of moves applied."""
        i, a, b = self.boundary_moves(st)
        if len(i) == 0:
            return 0
        big = self.params.violation_weight
        dcost, dviol, ddev = self.deltas(st, i, a, b)
        score = big * dviol + ddev + cost_weight * dcost
        sel = np.flatnonzero(score < -NOISE)
        if len(sel) == 0:
            return 0
        sel = sel[np.argsort(score[sel], kind="stable")]
        applied = 0
        dcl = dcost.tolist()
        for s in sel.tolist():
            ii, aa, bb = int(i[s]), int(a[s]), int(b[s])
            dv, dd = self.pair_delta(st, ii, aa, bb)
            if big * dv + dd + cost_weight * dcl[s] >= -NOISE:
                continue
            if not self.movable(st, ii, aa, bb):
                continue
            st.move(ii, bb)
            applied += 1
        return applied

    def sweep_compact(self, st: State, terrs=None) -> tuple[int, set]:
        """One pass of cost-improving moves that do not increase any bound violation; only
        moves touching `terrs` when given. Returns (moves applied, territories touched)."""
        i, a, b = self.boundary_moves(st, terrs)
        if len(i) == 0:
            return 0, set()
        dcost, dviol, _ = self.deltas(st, i, a, b)
        sel = np.flatnonzero((dcost < -IMPROVEMENT_REL * (1.0 + np.abs(st.ucost[i]))) & (dviol <= NOISE))
        applied = 0
        touched: set[int] = set()
        if len(sel):
            sel = sel[np.argsort(dcost[sel], kind="stable")]
            for s in sel.tolist():
                ii, aa, bb = int(i[s]), int(a[s]), int(b[s])
                dv, _ = self.pair_delta(st, ii, aa, bb)
                if dv > NOISE:
                    continue
                if not self.movable(st, ii, aa, bb):
                    continue
                st.move(ii, bb)
                applied += 1
                touched.add(aa)
                touched.add(bb)
        return applied, touched

    def sweep_swaps(self, st: State, terrs=None, repair_cw: float | None = None) -> tuple[int, set]:
        """Pairwise exchanges i: A->B, j: B->A whose joint cost falls and whose joint balance
        stays within bounds (single moves are often blocked by tight bounds), among the
        swap_top cheapest moves of each pair of territories. With `repair_cw`, exchanges that
        lower violation_weight * violation + squared deviation + repair_cw * cost (among the
        swap_top_repair cheapest). Returns (exchanges applied, territories touched)."""
        p = self.params
        inst = st.inst
        i, a, b = self.boundary_moves(st, terrs=terrs)
        if len(i) == 0:
            return 0, set()
        dcost, _, _ = self.deltas(st, i, a, b)
        k = inst.k
        pair = a * k + b
        top = p.swap_top if repair_cw is None else max(p.swap_top, p.swap_top_repair)
        order = np.lexsort((dcost, pair))
        pair_s = pair[order]
        ukeys, starts = np.unique(pair_s, return_index=True)
        ends = np.append(starts[1:], len(pair_s))
        groups = {}
        for key, s0, e0 in zip(ukeys.tolist(), starts.tolist(), ends.tolist(), strict=True):
            groups[key] = order[s0 : min(e0, s0 + top)]
        applied = 0
        touched: set[int] = set()
        tol = IMPROVEMENT_REL * (1.0 + float(np.abs(st.ucost).max(initial=0.0)))
        for key, gi in groups.items():
            aa, bb = divmod(key, k)
            if aa > bb:
                continue
            gj = groups.get(bb * k + aa)
            if gj is None:
                continue
            dc = dcost[gi][:, None] + dcost[gj][None, :]
            if repair_cw is not None:
                delta = inst.loads[i[gj]][None, :, :] - inst.loads[i[gi]][:, None, :]
                ta, tb = st.tot[aa], st.tot[bb]
                ab = np.array([aa, bb])
                base = inst.violation(np.stack([ta, tb]), ab).sum()
                based = inst.squared_deviation(np.stack([ta, tb]), ab).sum()
                dv = inst.violation(ta + delta, aa) + inst.violation(tb - delta, bb) - base
                dd = inst.squared_deviation(ta + delta, aa) + inst.squared_deviation(tb - delta, bb) - based
                score = p.violation_weight * dv + dd + repair_cw * dc
                okm = score < -NOISE
                dc = score
            elif not (dc < -tol).any():
                continue
            elif inst.n_tracked:
                delta = inst.loads[i[gj]][None, :, :] - inst.loads[i[gi]][:, None, :]  # (L, L, n_tracked)
                ta, tb = st.tot[aa], st.tot[bb]
                base = inst.violation(np.stack([ta, tb]), np.array([aa, bb])).sum()
                dv = inst.violation(ta + delta, aa) + inst.violation(tb - delta, bb) - base
                okm = (dc < -tol) & (dv <= NOISE)
            else:
                okm = dc < -tol
            cand = np.argwhere(okm)
            if len(cand) == 0:
                continue
            cand = cand[np.argsort(dc[cand[:, 0], cand[:, 1]], kind="stable")]
            for x, y in cand.tolist()[: p.swap_tries]:
                ii, jj = int(i[gi[x]]), int(i[gj[y]])
                if st.labels[ii] != aa or st.labels[jj] != bb:
                    continue
                if not self.movable(st, ii, aa, bb):
                    continue
                st.move(ii, bb)
                if not self.movable(st, jj, bb, aa):
                    st.move(ii, aa)
                    continue
                st.move(jj, aa)
                applied += 1
                touched.update((aa, bb))
                break  # groups are stale for this pair now
        return applied, touched
