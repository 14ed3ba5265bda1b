"""Random spanning trees of a connected set of units, and the sums over their subtrees: the
machinery of merge-and-split (recom.py) and of the recursive split (split.py).

Cutting one edge of a spanning tree splits a connected set into two connected parts: the
subtree below the edge and the rest. In a depth-first preorder every subtree is a contiguous
run, so prefix sums of any per-unit quantity give every cut's subtree sum at once.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import depth_first_order, minimum_spanning_tree


def random_spanning_trees(
    m: int,
    r: np.ndarray,
    c: np.ndarray,
    elen: np.ndarray,
    rng: np.random.Generator,
    n_trees: int,
    noise: float,
    skip_disconnected: bool = False,
):
    """Up to `n_trees` minimum spanning trees of the graph on m nodes with edges (r, c) of
    lengths `elen` times log-normal noise (sigma `noise`), each from a random root: yields
    (order, tin, size) per tree: the depth-first preorder, each node's position in it, and
    each node's subtree size. A disconnected graph ends the trees (each would miss nodes),
    or, with `skip_disconnected`, yields none of them but draws the same random numbers."""
    T = sp.csr_matrix((np.arange(1, len(r) + 1, dtype=float), (r, c)), shape=(m, m))
    perm = T.data.astype(np.int64) - 1  # edge of each stored entry
    for _ in range(n_trees):
        T.data = (elen * np.exp(noise * rng.standard_normal(len(r))))[perm]
        mst = minimum_spanning_tree(T)
        order, pred = depth_first_order(mst, int(rng.integers(m)), directed=False, return_predecessors=True)
        if len(order) < m:
            if skip_disconnected:
                continue
            return
        ol, pl = order.tolist(), pred.tolist()
        sz = [1] * m
        for v in reversed(ol[1:]):  # children before parents
            sz[pl[v]] += sz[v]
        tin = np.empty(m, dtype=np.int64)
        tin[order] = np.arange(m)
        yield order, tin, np.asarray(sz, dtype=np.int64)


def subtree_sums(
    base: np.ndarray, order: np.ndarray, tin: np.ndarray, size: np.ndarray, nodes: np.ndarray
) -> np.ndarray:
    """(len(nodes), base columns): the sums of `base` rows over the subtree of each of `nodes`."""
    cs = np.vstack([np.zeros((1, base.shape[1])), np.cumsum(base[order], axis=0)])
    return cs[tin[nodes] + size[nodes]] - cs[tin[nodes]]


def in_subtree(tin: np.ndarray, size: np.ndarray, v: int) -> np.ndarray:
    """(m,) bool: the nodes of v's subtree."""
    return (tin >= tin[v]) & (tin < tin[v] + size[v])
