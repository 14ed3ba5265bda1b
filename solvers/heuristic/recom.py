"""Merge-and-split (ReCom) of two neighbouring territories along a spanning tree.

The union of territories a and b is connected, so every spanning tree of it splits into two
connected parts at any tree edge. For each of several random (distance-weighted) spanning
trees all cuts are scored at once from subtree sums (trees.py): bound violation of both parts
on every balanced measure, lock consistency, and the cost of each part around its best
candidate center. Work per tree is O(|a|+|b|) times the number of candidate centers.
"""

from __future__ import annotations

import numpy as np

from engine.tolerance import NOISE
from solvers.heuristic.params import DEFAULTS
from solvers.heuristic.state import State
from solvers.heuristic.trees import in_subtree, random_spanning_trees, subtree_sums

# a tree's cuts scored for cost at most (the least violating ones)
_MAX_SCORED_CUTS = 512


def recom_pair(
    st: State,
    a: int,
    b: int,
    rng: np.random.Generator,
    n_trees: int,
    noise: float = 1.0,
    n_candidates: int = DEFAULTS.recom_candidates,
):
    """Best split of territories a and b over `n_trees` spanning trees (edge lengths times
    log-normal noise of sigma `noise`): least violation, then least cost, each part's cost
    taken around its best center among `n_candidates` sampled units (the reps' homes when
    rep-centric).

    Returns (members, new_labels, violation, est_cost) or None."""
    inst = st.inst
    if inst.frozen[a] or inst.frozen[b]:
        return None
    M = np.flatnonzero((st.labels == a) | (st.labels == b))
    m = len(M)
    if m < 2:
        return None
    sub = inst.problem.adj[M][:, M].tocoo()
    keep = sub.row < sub.col
    r = sub.row[keep].astype(np.int64)
    c = sub.col[keep].astype(np.int64)
    if len(r) < m - 1:
        return None
    elen = inst.problem.distances(M[r], M[c]) + 1e-6
    elen = elen / elen.mean()
    if inst.rep_centric:
        return _recom_fixed(st, a, b, rng, n_trees, noise, M, r, c, elen)
    if m <= n_candidates:
        cand = np.arange(m)
    else:
        cand = np.sort(rng.choice(m, n_candidates, replace=False))
    D = inst.approx_distances(M, M[cand])
    Cm = inst.weights[M][:, None] * (D if inst.power == 1 else D * D)
    nb = inst.n_tracked
    lk = inst.locks[M]
    olda = (st.labels[M] == a).astype(float)
    # columns: loads, locked to a, locked to b, now in a, 1 (count), cost from each candidate
    base = np.hstack(
        [
            inst.loads[M],
            (lk == a).astype(float)[:, None],
            (lk == b).astype(float)[:, None],
            olda[:, None],
            np.ones((m, 1)),
            Cm,
        ]
    )
    off = nb + 4
    Tot = base.sum(axis=0)
    LA, LB, OA = Tot[nb], Tot[nb + 1], Tot[nb + 2]
    best = None
    for order, tin, sub_size in random_spanning_trees(m, r, c, elen, rng, n_trees, noise):
        vs = order[1:]
        V = subtree_sums(base, order, tin, sub_size, vs)
        S = V[:, :nb]
        viol = inst.violation(S, a) + inst.violation(Tot[:nb] - S, b)  # same bounds for a and b without reps
        la, lb, oa, size = V[:, nb], V[:, nb + 1], V[:, nb + 2], V[:, nb + 3]
        ok_a = (lb == 0) & (la == LA)  # subtree side can be territory a
        ok_b = (la == 0) & (lb == LB)
        valid = ok_a | ok_b
        if not valid.any():
            continue
        vmin = viol[valid].min()
        if best is not None and vmin > best[2] + NOISE:
            continue
        sel = np.flatnonzero(valid & (viol <= vmin + NOISE))
        if len(sel) > _MAX_SCORED_CUTS:
            sel = sel[np.argsort(viol[sel], kind="stable")[:_MAX_SCORED_CUTS]]
        vv = vs[sel]
        lo_t = tin[vv][:, None]
        hi_t = lo_t + size[sel].astype(np.int64)[:, None]
        ct = tin[cand][None, :]
        inside = (ct >= lo_t) & (ct < hi_t)
        sc = V[sel][:, off:]
        c1 = np.where(inside, sc, np.inf).min(axis=1)
        c2 = np.where(~inside, Tot[off:][None, :] - sc, np.inf).min(axis=1)
        cost = c1 + c2
        j = int(np.argmin(cost))
        if not np.isfinite(cost[j]):
            continue
        key = (float(viol[sel[j]]), float(cost[j]))
        if _better(key, best):
            s = sel[j]
            in_sub = in_subtree(tin, sub_size, int(vs[s]))
            # orientation: locks decide, else keep most units where they were
            if ok_a[s] and ok_b[s]:
                keep_a = oa[s] + ((m - size[s]) - (OA - oa[s]))
                keep_b = (size[s] - oa[s]) + (OA - oa[s])
                sub_is_a = keep_a >= keep_b
            else:
                sub_is_a = bool(ok_a[s])
            new = np.where(in_sub, a if sub_is_a else b, b if sub_is_a else a).astype(np.int64)
            best = (M, new, key[0], key[1])
    return best


def _better(key: tuple[float, float], best) -> bool:
    """A cut's (violation, cost) beats the best split so far: less violation beyond noise, or
    as little and a lower cost."""
    return best is None or key[0] < best[2] - NOISE or (key[0] <= best[2] + NOISE and key[1] < best[3])


def _recom_fixed(st: State, a: int, b: int, rng, n_trees: int, noise: float, M, r, c, elen):
    """Rep-centric merge-and-split: a and b keep their reps' homes, so each cut has two
    orientations (subtree = a or subtree = b), scored exactly from subtree sums: per-territory
    bounds (balance and capacity), locks, hard skills, and the cost from each home."""
    inst = st.inst
    m = len(M)
    nb = inst.n_tracked
    lk = inst.locks[M]
    ta, tb = np.full(m, a), np.full(m, b)
    base = np.hstack(
        [
            inst.loads[M],
            np.column_stack(
                [
                    (lk == a) | ~inst.can_join(M, tb),  # units that cannot be in b
                    (lk == b) | ~inst.can_join(M, ta),  # units that cannot be in a
                    st.labels[M] == a,
                    inst.assign_cost(M, ta, st.centers),
                    inst.assign_cost(M, tb, st.centers),
                ]
            ).astype(float),
        ]
    )
    Tot = base.sum(axis=0)
    not_b, not_a = Tot[nb], Tot[nb + 1]
    best = None
    for order, tin, size in random_spanning_trees(m, r, c, elen, rng, n_trees, noise):
        vs = order[1:]
        V = subtree_sums(base, order, tin, size, vs)
        S, R = V[:, :nb], Tot[:nb] - V[:, :nb]
        # orientation 0: subtree is a; 1: subtree is b
        viol = np.stack([inst.violation(S, a) + inst.violation(R, b), inst.violation(S, b) + inst.violation(R, a)])
        valid = np.stack([(V[:, nb + 1] == 0) & (V[:, nb] == not_b), (V[:, nb] == 0) & (V[:, nb + 1] == not_a)])
        cost = np.stack([V[:, nb + 3] + (Tot[nb + 4] - V[:, nb + 4]), V[:, nb + 4] + (Tot[nb + 3] - V[:, nb + 3])])
        key_v = np.where(valid, viol, np.inf)
        if not np.isfinite(key_v).any():
            continue
        vmin = key_v.min()
        cand = np.where(key_v <= vmin + NOISE, cost, np.inf)
        o, j = np.unravel_index(int(np.argmin(cand)), cand.shape)
        key = (float(vmin), float(cand[o, j]))
        if _better(key, best):
            in_sub = in_subtree(tin, size, int(vs[j]))
            sub_t, rest_t = (a, b) if o == 0 else (b, a)
            best = (M, np.where(in_sub, sub_t, rest_t).astype(np.int64), key[0], key[1])
    return best
