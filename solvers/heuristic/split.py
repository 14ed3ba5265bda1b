"""Construction at scale: recursive bisection along random spanning trees.

A connected set holding k territories is cut along one edge of a random (distance-weighted)
spanning tree into two connected parts holding k1 = k // 2 and k2 = k - k1 territories,
each within k_i times the territory bounds on every balanced measure; among the valid cuts
the one with the least moment of inertia (sum w * squared distance to the part's centroid,
from subtree sums) wins. Depth log2(k); each level is O(n log n) in total, so 100,000 units
and 500 territories construct in seconds. Parts are connected by construction.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, depth_first_order, minimum_spanning_tree

from solvers.clock import Clock
from solvers.heuristic.instance import Instance


def recursive_split(ctx: Instance, rng: np.random.Generator, clock: Clock, n_trees: int = 6) -> np.ndarray | None:
    """Labels 0..k-1 (every part connected), or None when the graph is disconnected or the
    clock stops."""
    n, k = ctx.n, ctx.k
    adj = ctx.problem.adj.tocsr()
    if connected_components(adj, directed=False)[0] != 1:
        return None
    labels = np.zeros(n, dtype=np.int64)
    stack = [(np.arange(n), k, 0)]
    while stack:
        if clock.should_stop():
            return None
        members, kk, first = stack.pop()
        if kk == 1:
            labels[members] = first
            continue
        k1 = kk // 2
        side = _split(ctx, adj, members, k1, kk - k1, rng, n_trees)
        stack.append((members[side], k1, first))
        stack.append((members[~side], kk - k1, first + k1))
    return labels


def _split(ctx: Instance, adj: sp.csr_matrix, M: np.ndarray, k1: int, k2: int, rng, n_trees: int) -> np.ndarray:
    m = len(M)
    sub = adj[M][:, M].tocoo()
    keep = sub.row < sub.col
    r, c = sub.row[keep], sub.col[keep]
    elen = np.hypot(*(ctx.xy[M[r]] - ctx.xy[M[c]]).T) + 1e-6
    xy = ctx.xy[M]
    w = ctx.w[M] + 1e-12
    A = ctx.A[M] if ctx.nb else np.zeros((m, 0))
    base = np.column_stack([A, w, w * xy[:, 0], w * xy[:, 1], w * (xy**2).sum(1)])
    nb = A.shape[1]
    tot = base.sum(axis=0)
    # a side that will be split again gets half the slack, so errors do not pile up
    def bounds(kk):
        f = 1.0 if kk == 1 else 0.5
        return kk * (ctx.target - f * (ctx.target - ctx.lo)), kk * (ctx.target + f * (ctx.hi - ctx.target))

    (lo1, hi1), (lo2, hi2) = bounds(k1), bounds(k2)
    n_trees = int(np.clip(40_000 // max(m, 1), n_trees, 40))
    best_key, best_side = None, None
    for _ in range(n_trees):
        wts = elen * np.exp(rng.standard_normal(len(r)))
        T = sp.coo_matrix((wts, (r, c)), shape=(m, m)).tocsr()
        mst = minimum_spanning_tree(T)
        root = int(rng.integers(m))
        order, pred = depth_first_order(mst, root, directed=False, return_predecessors=True)
        if len(order) < m:
            continue
        tin = np.empty(m, dtype=np.int64)
        tin[order] = np.arange(m)
        size = np.ones(m, dtype=np.int64)
        # subtree sizes: children before parents in reversed preorder
        po = pred[order[::-1]]
        for v, pv in zip(order[::-1].tolist(), po.tolist()):
            if pv >= 0:
                size[pv] += size[v]
        cs = np.vstack([np.zeros((1, base.shape[1])), np.cumsum(base[order], axis=0)])
        vs = order[1:]
        S = cs[tin[vs] + size[vs]] - cs[tin[vs]]  # subtree sums, one row per cut
        R = tot - S
        # subtree side holds k1 (or, swapped, k2) territories
        v_a = _viol(S[:, :nb], lo1, hi1, ctx.scale * k1) + _viol(R[:, :nb], lo2, hi2, ctx.scale * k2)
        v_b = _viol(S[:, :nb], lo2, hi2, ctx.scale * k2) + _viol(R[:, :nb], lo1, hi1, ctx.scale * k1)
        swap = v_b < v_a
        viol = np.minimum(v_a, v_b)
        inertia = _inertia(S, nb) + _inertia(R, nb)
        key = viol * 1e12 + inertia / max(inertia.max(), 1e-12)
        j = int(np.argmin(key))
        kj = (float(viol[j]), float(inertia[j] / max(inertia.max(), 1e-12)))
        if best_key is None or kj < best_key:
            best_key = kj
            v = vs[j]
            in_sub = (tin >= tin[v]) & (tin < tin[v] + size[v])
            best_side = in_sub if not swap[j] else ~in_sub
    if best_side is None:  # no spanning tree (disconnected set): split by x coordinate
        best_side = np.argsort(np.argsort(xy[:, 0])) < m * k1 / (k1 + k2)
    return best_side


def _viol(S, lo, hi, scale):
    if S.shape[1] == 0:
        return np.zeros(len(S))
    return ((np.maximum(0.0, S - hi) + np.maximum(0.0, lo - S)) / scale).sum(axis=1)


def _inertia(S, nb):
    w, sx, sy, sq = S[:, nb], S[:, nb + 1], S[:, nb + 2], S[:, nb + 3]
    return sq - (sx * sx + sy * sy) / np.maximum(w, 1e-12)
