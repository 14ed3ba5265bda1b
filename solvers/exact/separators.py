"""Vertex separators of the contiguity graph, shared by both exact models' cuts.

A territory is connected when every unit i in it reaches the territory's center (or another
unit j of it) inside the territory; if C separates i from j in the graph, some unit of C must
then be in the territory too: x[i] <= sum_{c in C} x[c] (the a,b-separator inequalities of
Validi, Buchanan & Lykhovyd 2022; Oehrlein & Haunert 2017).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra, maximum_flow


def vertex_weighted_paths(adj: sp.csr_matrix, a: np.ndarray) -> np.ndarray:
    """D[s, t] = least total weight of the vertices of an s-t path, both ends included."""
    coo = adj.tocoo()
    # arc u->v costs a_v; explicit zeros are kept as edges by csgraph for sparse input
    g = sp.csr_matrix((a[coo.col].astype(float), (coo.row, coo.col)), shape=adj.shape)
    if (a[coo.col] == 0).any():
        # csgraph drops explicit zeros in some versions; shift zero weights by a tiny amount
        eps = 1e-12 * max(1.0, float(a.max()))
        g = sp.csr_matrix((a[coo.col].astype(float) + eps, (coo.row, coo.col)), shape=adj.shape)
    d = dijkstra(g, directed=True)
    return d + a[:, None]


def separator_toward(neighbours, n: int, piece, j: int) -> list[int]:
    """The neighbours of `piece` adjacent to the component of j once they are removed: a
    minimal piece-j vertex separator (sorted). `piece` is connected and does not hold j."""
    in_piece = np.zeros(n, dtype=bool)
    in_piece[piece] = True
    boundary = set()
    for u in np.asarray(piece).tolist():
        for v in neighbours[u]:
            if not in_piece[v]:
                boundary.add(int(v))
    blocked = in_piece.copy()
    blocked[list(boundary)] = True
    seen = np.zeros(n, dtype=bool)
    seen[j] = True
    q = deque([j])
    touch = set()
    while q:
        u = q.popleft()
        for v in neighbours[u]:
            v = int(v)
            if v in boundary:
                touch.add(v)
            elif not blocked[v] and not seen[v]:
                seen[v] = True
                q.append(v)
    return sorted(touch)


def vertex_separator(neighbours, ok: np.ndarray, cap: np.ndarray, i: int, j: int, scale: float = 1e6):
    """Least-capacity set of units separating i from j among units `ok` (capacities cap[c], an
    LP point); (separator, value), or (None, inf) when i and j are adjacent.

    Units at value 0 stay in the graph (at capacity 0): leaving them out would let paths
    through them bypass the separator, and the cut would remove feasible plans.
    """
    n = len(ok)
    ok = ok.copy()
    ok[i] = ok[j] = True
    big = int(scale * n + 1)
    rows, cols, vals = [], [], []
    for u in np.flatnonzero(ok).tolist():
        rows.append(u)
        cols.append(u + n)
        vals.append(big if u in (i, j) else max(0, int(round(cap[u] * scale))))
        for v in neighbours[u]:
            if ok[v]:
                rows.append(u + n)
                cols.append(int(v))
                vals.append(big)
    g = sp.csr_matrix((np.array(vals, dtype=np.int32), (rows, cols)), shape=(2 * n, 2 * n))
    res = maximum_flow(g, i + n, j)
    if res.flow_value >= big:
        return None, np.inf
    flow = res.flow.tocsr()
    resid = (g - flow).tocsr()  # flow is antisymmetric: back arcs of positive flow come out positive
    reach = np.zeros(2 * n, dtype=bool)
    reach[i + n] = True
    q = deque([i + n])
    while q:
        u = q.popleft()
        for v, c in zip(
            resid.indices[resid.indptr[u] : resid.indptr[u + 1]], resid.data[resid.indptr[u] : resid.indptr[u + 1]]
        ):
            if c > 0 and not reach[v]:
                reach[v] = True
                q.append(int(v))
    sep = [u for u in np.flatnonzero(ok).tolist() if reach[u] and not reach[u + n] and u not in (i, j)]
    return sep, res.flow_value / scale
