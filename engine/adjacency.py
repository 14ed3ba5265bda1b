"""Adjacency graphs as CSR matrices: from given edges, or derived from locations."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import Delaunay

from engine.geo import project_km


def from_edges(n: int, a: np.ndarray, b: np.ndarray) -> sp.csr_matrix:
    """Symmetric 0/1 CSR adjacency from edge endpoint index arrays (duplicates merged)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    keep = a != b
    a, b = a[keep], b[keep]
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    m = sp.coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n)).tocsr()
    m.data[:] = 1
    m.sort_indices()
    return m


def components(adj: sp.csr_matrix) -> tuple[int, np.ndarray]:
    return connected_components(adj, directed=False)


def derive(lat: np.ndarray, lon: np.ndarray, prune_factor: float = 3.0) -> sp.csr_matrix:
    """Delaunay adjacency of unit locations, long edges pruned, always connected.

    Units sharing one location (several customers at one address) are triangulated once and
    then tied to each other and to every neighbour of their location, so none is cut off.
    An edge is pruned when it is longer than `prune_factor` times the median edge length at
    both of its ends, unless the minimum spanning tree of the triangulation needs it.
    """
    n = len(lat)
    if n == 1:
        return sp.csr_matrix((1, 1), dtype=np.int8)
    xy = project_km(lat, lon)
    uniq, inverse = np.unique(np.round(xy, 6), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    u = len(uniq)
    if u == 1:
        ea, eb = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    elif u == 2:
        ea, eb = np.array([0]), np.array([1])
    else:
        ea, eb = _delaunay_edges(uniq)
        ea, eb = _prune_long(uniq, ea, eb, prune_factor)
    # Expand location-level edges to units: every unit at a location links to the first unit
    # (its representative) of each neighbouring location, and representatives link to all.
    order = np.argsort(inverse, kind="stable")
    first = np.full(u, -1, dtype=np.int64)
    first[inverse[order[::-1]]] = order[::-1]
    members = inverse  # location of each unit
    rep_of_unit = first[members]
    rows = [rep_of_unit[rep_of_unit != np.arange(n)]]
    cols = [np.arange(n)[rep_of_unit != np.arange(n)]]
    if len(ea):
        rows += [first[ea]]
        cols += [first[eb]]
        # non-representative units also connect to the neighbouring representatives
        loc_adj = from_edges(u, ea, eb)
        nonrep = np.flatnonzero(rep_of_unit != np.arange(n))
        if len(nonrep):
            locs = members[nonrep]
            counts = np.diff(loc_adj.indptr)[locs]
            rows.append(np.repeat(nonrep, counts))
            cols.append(first[np.concatenate([loc_adj.indices[loc_adj.indptr[l]:loc_adj.indptr[l + 1]] for l in locs])])
    return from_edges(n, np.concatenate(rows), np.concatenate(cols))


def _delaunay_edges(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        tri = Delaunay(xy)
    except Exception:  # collinear points: connect along the line
        order = np.lexsort((xy[:, 1], xy[:, 0]))
        return order[:-1], order[1:]
    s = tri.simplices
    a = np.concatenate([s[:, 0], s[:, 1], s[:, 2]])
    b = np.concatenate([s[:, 1], s[:, 2], s[:, 0]])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pairs = np.unique(np.column_stack([lo, hi]), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _prune_long(xy, ea, eb, factor):
    u = len(xy)
    length = np.hypot(*(xy[ea] - xy[eb]).T)
    # median incident edge length per location
    inc = np.concatenate([ea, eb])
    inc_len = np.concatenate([length, length])
    order = np.lexsort((inc_len, inc))
    inc, inc_len = inc[order], inc_len[order]
    starts = np.searchsorted(inc, np.arange(u))
    ends = np.searchsorted(inc, np.arange(u), side="right")
    med = inc_len[np.minimum((starts + ends - 1) // 2, len(inc_len) - 1)]
    long_edge = (length > factor * med[ea]) & (length > factor * med[eb])
    # the MST of the triangulation keeps the graph connected
    w = sp.coo_matrix((length + 1e-9, (ea, eb)), shape=(u, u)).tocsr()
    mst = minimum_spanning_tree(w).tocoo()
    in_mst = set(zip(np.minimum(mst.row, mst.col).tolist(), np.maximum(mst.row, mst.col).tolist()))
    keep = ~long_edge
    if long_edge.any():
        for e in np.flatnonzero(long_edge):
            if (int(ea[e]), int(eb[e])) in in_mst:
                keep[e] = True
    return ea[keep], eb[keep]
