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
from scipy.sparse.csgraph import connected_components

from engine.tolerance import NOISE
from solvers.clock import Clock
from solvers.heuristic.instance import Instance
from solvers.heuristic.params import DEFAULTS, HeuristicParams
from solvers.heuristic.trees import in_subtree, random_spanning_trees, subtree_sums

# a cut's violation outweighs any difference in (normalized) inertia
_VIOLATION_FIRST = 1e12


def recursive_split(
    inst: Instance, rng: np.random.Generator, clock: Clock, params: HeuristicParams = DEFAULTS
) -> np.ndarray | None:
    """Labels 0..k-1 (every part connected), or None when the graph is disconnected or the
    clock stops."""
    n, k = inst.n, inst.k
    adj = inst.problem.adj.tocsr()
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
        side = _split(inst, adj, members, k1, kk - k1, rng, params)
        stack.append((members[side], k1, first))
        stack.append((members[~side], kk - k1, first + k1))
    return labels


def _split(
    inst: Instance, adj: sp.csr_matrix, M: np.ndarray, k1: int, k2: int, rng, params: HeuristicParams
) -> np.ndarray:
    """The side of the best cut of the connected set M: True for the units of the part that
    holds k1 territories."""
    m = len(M)
    sub = adj[M][:, M].tocoo()
    keep = sub.row < sub.col
    r, c = sub.row[keep], sub.col[keep]
    elen = np.hypot(*(inst.xy[M[r]] - inst.xy[M[c]]).T) + 1e-6
    xy = inst.xy[M]
    w = inst.weights[M] + NOISE
    A = inst.loads[M] if inst.n_tracked else np.zeros((m, 0))
    base = np.column_stack([A, w, w * xy[:, 0], w * xy[:, 1], w * (xy**2).sum(1)])
    nb = A.shape[1]
    tot = base.sum(axis=0)

    # a side that will be split again gets half the slack, so errors do not pile up
    def bounds(kk):
        f = 1.0 if kk == 1 else 0.5
        return (
            kk * (inst.target - f * (inst.target - inst.lower)),
            kk * (inst.target + f * (inst.upper - inst.target)),
        )

    (lo1, hi1), (lo2, hi2) = bounds(k1), bounds(k2)
    n_trees = int(np.clip(params.split_tree_units // max(m, 1), params.split_trees, params.split_trees_max))
    best_key, best_side = None, None
    trees = random_spanning_trees(m, r, c, elen, rng, n_trees, 1.0, skip_disconnected=True)
    for order, tin, size in trees:
        vs = order[1:]
        S = subtree_sums(base, order, tin, size, vs)  # one row per cut
        R = tot - S
        # subtree side holds k1 (or, swapped, k2) territories
        v_a = _viol(S[:, :nb], lo1, hi1, inst.scale * k1) + _viol(R[:, :nb], lo2, hi2, inst.scale * k2)
        v_b = _viol(S[:, :nb], lo2, hi2, inst.scale * k2) + _viol(R[:, :nb], lo1, hi1, inst.scale * k1)
        swap = v_b < v_a
        viol = np.minimum(v_a, v_b)
        inertia = _inertia(S, nb) + _inertia(R, nb)
        key = viol * _VIOLATION_FIRST + inertia / max(inertia.max(), NOISE)
        j = int(np.argmin(key))
        kj = (float(viol[j]), float(inertia[j] / max(inertia.max(), NOISE)))
        if best_key is None or kj < best_key:
            best_key = kj
            in_sub = in_subtree(tin, size, vs[j])
            best_side = in_sub if not swap[j] else ~in_sub
    if best_side is None:  # no spanning tree (disconnected set): split by x coordinate
        best_side = np.argsort(np.argsort(xy[:, 0])) < m * k1 / (k1 + k2)
    return best_side


def _viol(S, lo, hi, scale):
    """Relative bound violation of each row of totals S against bounds [lo, hi]."""
    if S.shape[1] == 0:
        return np.zeros(len(S))
    return ((np.maximum(0.0, S - hi) + np.maximum(0.0, lo - S)) / scale).sum(axis=1)


def _inertia(S, nb):
    """Moment of inertia of each part from its sums of w, w x, w y and w (x^2 + y^2)."""
    w, sx, sy, sq = S[:, nb], S[:, nb + 1], S[:, nb + 2], S[:, nb + 3]
    return sq - (sx * sx + sy * sy) / np.maximum(w, NOISE)
