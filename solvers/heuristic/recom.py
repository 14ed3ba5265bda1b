"""Merge-and-split (ReCom) of two neighbouring territories along a spanning tree.

The union of territories a and b is connected, so every spanning tree of it splits into two
connected parts at any tree edge. For each of several random (distance-weighted) spanning
trees all cuts are scored at once from subtree sums: bound violation of both parts on every
balanced measure, lock consistency, and the cost of each part around its best candidate
center. Work per tree is O(|a|+|b|) times the number of candidate centers (<= 256).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import depth_first_order, minimum_spanning_tree

from solvers.heuristic.state import State

_NCAND = 256


def recom_pair(st: State, a: int, b: int, rng: np.random.Generator, n_trees: int, noise: float = 1.0):
    """Best split of territories a and b over `n_trees` spanning trees.

    Returns (members, new_labels, violation, est_cost) or None."""
    ctx = st.ctx
    if ctx.frozen[a] or ctx.frozen[b]:
        return None
    M = np.flatnonzero((st.labels == a) | (st.labels == b))
    m = len(M)
    if m < 2:
        return None
    sub = ctx.problem.adj[M][:, M].tocoo()
    keep = sub.row < sub.col
    r = sub.row[keep].astype(np.int64)
    c = sub.col[keep].astype(np.int64)
    if len(r) < m - 1:
        return None
    elen = ctx.dist(M[r], M[c]) + 1e-6
    elen = elen / elen.mean()
    if ctx.fixed:
        return _recom_fixed(st, a, b, rng, n_trees, noise, M, r, c, elen)
    if m <= _NCAND:
        cand = np.arange(m)
    else:
        cand = np.sort(rng.choice(m, _NCAND, replace=False))
    pw = ctx.p
    D = ctx.euclid_block(M, M[cand])
    Cm = ctx.w[M][:, None] * (D if pw == 1 else D * D)
    nb = ctx.nb
    lk = ctx.locks[M]
    olda = (st.labels[M] == a).astype(float)
    base = np.hstack(
        [
            ctx.A[M],
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
    T = sp.csr_matrix((np.arange(1, len(r) + 1, dtype=float), (r, c)), shape=(m, m))
    perm = T.data.astype(np.int64) - 1
    for tr in range(n_trees):
        wts = elen * np.exp(noise * rng.standard_normal(len(r)))
        T.data = wts[perm]
        mst = minimum_spanning_tree(T)
        root = int(rng.integers(m))
        order, pred = depth_first_order(mst, root, directed=False, return_predecessors=True)
        if len(order) < m:
            return None  # union not connected (should not happen)
        ol = order.tolist()
        pl = pred.tolist()
        sz = [1] * m
        for v in reversed(ol[1:]):
            sz[pl[v]] += sz[v]
        tin = np.empty(m, dtype=np.int64)
        tin[order] = np.arange(m)
        size_a = np.asarray(sz, dtype=np.int64)
        # subtree sums from prefix sums over the preorder (subtrees are contiguous there)
        cs = np.vstack([np.zeros((1, base.shape[1])), np.cumsum(base[order], axis=0)])
        vals = cs[tin + size_a] - cs[tin]
        vs = order[1:]
        V = vals[vs]
        S = V[:, :nb]
        viol = ctx.viol(S, a) + ctx.viol(Tot[:nb] - S, b)  # same bounds for a and b without reps
        la, lb, oa, size = V[:, nb], V[:, nb + 1], V[:, nb + 2], V[:, nb + 3]
        ok_a = (lb == 0) & (la == LA)  # subtree side can be territory a
        ok_b = (la == 0) & (lb == LB)
        valid = ok_a | ok_b
        if not valid.any():
            continue
        vmin = viol[valid].min()
        if best is not None and vmin > best[2] + 1e-12:
            continue
        sel = np.flatnonzero(valid & (viol <= vmin + 1e-12))
        if len(sel) > 512:
            sel = sel[np.argsort(viol[sel], kind="stable")[:512]]
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
        if best is None or key[0] < best[2] - 1e-12 or (key[0] <= best[2] + 1e-12 and key[1] < best[3]):
            s = sel[j]
            v = int(vs[s])
            lo_i, hi_i = tin[v], tin[v] + int(size[s])
            in_sub = (tin >= lo_i) & (tin < hi_i)
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


def _spanning_trees(m, r, c, elen, rng, n_trees, noise):
    """Random distance-weighted spanning trees of the union: (order, tin, size) per tree."""
    T = sp.csr_matrix((np.arange(1, len(r) + 1, dtype=float), (r, c)), shape=(m, m))
    perm = T.data.astype(np.int64) - 1
    for _ in range(n_trees):
        T.data = (elen * np.exp(noise * rng.standard_normal(len(r))))[perm]
        mst = minimum_spanning_tree(T)
        order, pred = depth_first_order(mst, int(rng.integers(m)), directed=False, return_predecessors=True)
        if len(order) < m:
            return
        ol, pl = order.tolist(), pred.tolist()
        sz = [1] * m
        for v in reversed(ol[1:]):
            sz[pl[v]] += sz[v]
        tin = np.empty(m, dtype=np.int64)
        tin[order] = np.arange(m)
        yield order, tin, np.asarray(sz, dtype=np.int64)


def _recom_fixed(st: State, a: int, b: int, rng, n_trees: int, noise: float, M, r, c, elen):
    """Rep-centric merge-and-split: a and b keep their reps' homes, so each cut has two
    orientations (subtree = a or subtree = b), scored exactly from subtree sums: per-territory
    bounds (balance and capacity), locks, hard skills, and the cost from each home."""
    ctx = st.ctx
    m = len(M)
    nb = ctx.nb
    lk = ctx.locks[M]
    ta, tb = np.full(m, a), np.full(m, b)
    base = np.hstack([
        ctx.A[M],
        np.column_stack([
            (lk == a) | ~ctx.can_join(M, ta),  # units that cannot be in b
            (lk == b) | ~ctx.can_join(M, tb),  # units that cannot be in a
            st.labels[M] == a,
            ctx.assign_cost(M, ta, st.centers),
            ctx.assign_cost(M, tb, st.centers),
        ]).astype(float),
    ])
    Tot = base.sum(axis=0)
    not_b, not_a = Tot[nb], Tot[nb + 1]
    best = None
    for order, tin, size in _spanning_trees(m, r, c, elen, rng, n_trees, noise):
        cs = np.vstack([np.zeros((1, base.shape[1])), np.cumsum(base[order], axis=0)])
        vs = order[1:]
        V = cs[tin[vs] + size[vs]] - cs[tin[vs]]
        S, R = V[:, :nb], Tot[:nb] - V[:, :nb]
        # orientation 0: subtree is a; 1: subtree is b
        viol = np.stack([ctx.viol(S, a) + ctx.viol(R, b), ctx.viol(S, b) + ctx.viol(R, a)])
        valid = np.stack([(V[:, nb + 1] == 0) & (V[:, nb] == not_b),
                          (V[:, nb] == 0) & (V[:, nb + 1] == not_a)])
        cost = np.stack([V[:, nb + 3] + (Tot[nb + 4] - V[:, nb + 4]), V[:, nb + 4] + (Tot[nb + 3] - V[:, nb + 3])])
        key_v = np.where(valid, viol, np.inf)
        if not np.isfinite(key_v).any():
            continue
        vmin = key_v.min()
        cand = np.where(key_v <= vmin + 1e-12, cost, np.inf)
        o, j = np.unravel_index(int(np.argmin(cand)), cand.shape)
        key = (float(vmin), float(cand[o, j]))
        if best is None or key[0] < best[2] - 1e-12 or (key[0] <= best[2] + 1e-12 and key[1] < best[3]):
            v = int(vs[j])
            in_sub = (tin >= tin[v]) & (tin < tin[v] + size[v])
            sub_t, rest_t = (a, b) if o == 0 else (b, a)
            best = (M, np.where(in_sub, sub_t, rest_t).astype(np.int64), key[0], key[1])
    return best
