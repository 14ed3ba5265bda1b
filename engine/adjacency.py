"""Adjacency graphs as CSR matrices: from given edges, or derived from boundaries or locations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

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
    then tied to each other and to every neighbour of their location, so none is cut off and
    territories may split an address's customers any way: up to `COLOCATED_HUBS` units at a
    location are all neighbours of each other; a larger group is tied to its first
    `COLOCATED_HUBS` units only, to keep the graph sparse.
    An edge is pruned when it is longer than `prune_factor` times the median edge length at
    both of its ends, unless the minimum spanning tree of the triangulation needs it. An edge
    that long at one end only is pruned too when another location lies inside the circle
    drawn on the edge as diameter (it is not a Gabriel edge): such edges are the
    triangulation's hull edges across a concave border (Santiago to Tierra del Fuego across
    Argentina) and the fans from a remote island to a whole coast, while the shorter path
    through that location remains. The minimum spanning tree has only Gabriel edges, so the
    graph stays connected and an island keeps its shortest links.
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
        ea, eb, simplices = _triangulate(uniq)
        ea, eb = _prune_long(uniq, ea, eb, simplices, prune_factor)
    # Expand location-level edges to units: units at one location are tied to each other and
    # every unit at a location links to the first unit (its representative) of each
    # neighbouring location, and representatives link to all.
    order = np.argsort(inverse, kind="stable")
    first = np.full(u, -1, dtype=np.int64)
    first[inverse[order[::-1]]] = order[::-1]
    members = inverse  # location of each unit
    rep_of_unit = first[members]
    tie_rows, tie_cols = _colocated_ties(inverse, order)
    rows, cols = [tie_rows], [tie_cols]
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
            cols.append(
                first[np.concatenate([loc_adj.indices[loc_adj.indptr[loc] : loc_adj.indptr[loc + 1]] for loc in locs])]
            )
    return from_edges(n, np.concatenate(rows), np.concatenate(cols))


COLOCATED_HUBS = 32


def _colocated_ties(location: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges tying units at one location: each unit to the group's first `COLOCATED_HUBS`
    units (a clique for groups up to that size). `order` sorts units by location, stably."""
    loc_sorted = location[order]
    starts = np.flatnonzero(np.r_[True, loc_sorted[1:] != loc_sorted[:-1]])
    size = np.diff(np.r_[starts, len(order)])
    group_start = np.repeat(starts, size)  # per sorted position
    group_size = np.repeat(size, size)
    rows, cols = [], []
    for r in range(min(COLOCATED_HUBS, int(size.max()))):
        has = group_size > r
        hub = order[group_start[has] + r]
        unit = order[has]
        rows.append(unit)
        cols.append(hub)
    return np.concatenate(rows), np.concatenate(cols)  # self-loops are dropped by from_edges


def _delaunay_edges(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ea, eb, _ = _triangulate(xy)
    return ea, eb


def _triangulate(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Delaunay edges (a < b, sorted) and triangles; collinear points give a path, no triangles."""
    try:
        tri = Delaunay(xy)
    except Exception:  # collinear points: connect along the line
        order = np.lexsort((xy[:, 1], xy[:, 0]))
        return order[:-1], order[1:], None
    s = tri.simplices
    a = np.concatenate([s[:, 0], s[:, 1], s[:, 2]])
    b = np.concatenate([s[:, 1], s[:, 2], s[:, 0]])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pairs = np.unique(np.column_stack([lo, hi]), axis=0)
    return pairs[:, 0], pairs[:, 1], s


def _not_gabriel(xy: np.ndarray, ea: np.ndarray, eb: np.ndarray, simplices: np.ndarray | None) -> np.ndarray:
    """(edges,) bool: a location lies strictly inside the circle on the edge as diameter.

    For a Delaunay edge only the vertices opposite it in its one or two triangles can, and
    one does exactly when its angle over the edge is obtuse.
    """
    out = np.zeros(len(ea), dtype=bool)
    if simplices is None or not len(ea):
        return out
    u = len(xy)
    key = ea.astype(np.int64) * u + eb
    for i, j, o in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        p, q, r = simplices[:, i], simplices[:, j], simplices[:, o]
        dp, dq = xy[p] - xy[r], xy[q] - xy[r]
        dot = (dp * dq).sum(axis=1)
        obtuse = dot < -1e-9 * np.hypot(*dp.T) * np.hypot(*dq.T)
        hit = np.minimum(p, q).astype(np.int64) * u + np.maximum(p, q)
        out[np.searchsorted(key, hit[obtuse])] = True
    return out


def _prune_long(xy, ea, eb, simplices, factor):
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
    long_a, long_b = length > factor * med[ea], length > factor * med[eb]
    # long at one end only: pruned when a location lies between its ends
    long_edge = (long_a & long_b) | ((long_a ^ long_b) & _not_gabriel(xy, ea, eb, simplices))
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


@dataclass(frozen=True)
class DerivedAdjacency:
    """A derived adjacency graph and how it was made, in words a planner can check."""

    adj: sp.csr_matrix
    source: str  # "locations", "polygons" or "polygons+locations"
    notes: tuple[str, ...] = ()
    # unit index pairs joined although they do not touch (islands, gaps wider than the tolerance)
    links: tuple[tuple[int, int], ...] = ()


def derive_from_units(
    ids: Sequence[str],
    lat: np.ndarray,
    lon: np.ndarray,
    geometries: Sequence[dict | None],
    *,
    rule: Literal["rook", "queen"] = "rook",
    tolerance_m: float = 10.0,
    min_border_m: float | None = None,
) -> DerivedAdjacency:
    """Adjacency from unit boundaries where units have them, else from locations; connected.

    Units with a boundary (GeoJSON mapping, lon/lat) neighbour the units whose boundaries
    they touch (engine.adjacency_polygons: rook by default, queen on request, within
    `tolerance_m`). Units without one keep their edges of the location triangulation
    (`derive`), to any unit. Groups that still touch nothing (an island, a unit across a
    bay, a gap wider than the tolerance) are joined to the nearest group by unit location,
    like a minimum spanning tree over the groups, and every such link is named in `notes`.
    """
    n = len(ids)
    has = np.array([g is not None for g in geometries], dtype=bool)
    if not has.any():
        return DerivedAdjacency(derive(lat, lon), "locations")
    from engine.adjacency_polygons import project_polygons, touching_pairs

    polys = project_polygons(geometries, lat, lon)
    with_shape = np.flatnonzero(has)
    a, b = touching_pairs(polys[with_shape], rule=rule, tolerance_m=tolerance_m, min_border_m=min_border_m)
    ea, eb = [with_shape[a]], [with_shape[b]]
    notes = [
        f"adjacency from unit boundaries ({rule}, tolerance {tolerance_m:g} m): "
        f"{len(a)} shared borders among {len(with_shape)} units"
    ]
    source = "polygons"
    if not has.all():
        source = "polygons+locations"
        points = derive(lat, lon).tocoo()
        upper = points.row < points.col
        pa, pb = points.row[upper], points.col[upper]
        by_location = ~has[pa] | ~has[pb]
        ea.append(pa[by_location])
        eb.append(pb[by_location])
        missing = np.flatnonzero(~has)
        notes.append(
            f"{_count(len(missing), 'unit has', 'units have')} no boundary ({_names(ids, missing)}): "
            "their neighbours come "
            f"from the triangulation of locations ({int(by_location.sum())} edges)"
        )
    adj = from_edges(n, np.concatenate(ea), np.concatenate(eb))
    adj, links = connect_components(adj, project_km(lat, lon))
    if links:
        xy = project_km(lat, lon)
        shown = [f"'{ids[i]}'-'{ids[j]}' ({np.hypot(*(xy[i] - xy[j])):.1f} km)" for i, j in links[:_SHOWN]]
        more = f" and {len(links) - _SHOWN} more" if len(links) > _SHOWN else ""
        notes.append(
            f"{_count(len(links), 'neighbour link', 'neighbour links')} added between units that do not touch, "
            "joining groups "
            f"whose boundaries touch no other group (islands, gaps wider than the tolerance) to the "
            f"nearest unit by location: {', '.join(shown)}{more}"
        )
    return DerivedAdjacency(adj, source, tuple(notes), tuple(links))


_SHOWN = 5


def _count(k: int, one: str, many: str) -> str:
    return f"{k} {one if k == 1 else many}"


def _names(ids: Sequence[str], idx: np.ndarray) -> str:
    shown = ", ".join(f"'{ids[i]}'" for i in idx[:_SHOWN])
    return shown + (f" and {len(idx) - _SHOWN} more" if len(idx) > _SHOWN else "")


def connect_components(adj: sp.csr_matrix, xy: np.ndarray) -> tuple[sp.csr_matrix, list[tuple[int, int]]]:
    """Join the graph's components by their shortest links between unit locations (km).

    The links are a minimum spanning tree over the components, with the distance between two
    components being that of their closest pair of units. The closest pair across any split
    of the points is an edge of the Delaunay triangulation, so only its edges (plus ties
    between units at one location) are candidates. Returns the graph and the links, (i, j) i < j.
    """
    count, label = components(adj)
    if count == 1:
        return adj, []
    n = len(xy)
    uniq, inverse = np.unique(np.round(xy, 6), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    first = np.full(len(uniq), -1, dtype=np.int64)
    first[inverse[::-1]] = np.arange(n)[::-1]
    cand_a, cand_b = [np.arange(n)], [first[inverse]]  # units at one location, length 0
    if len(uniq) == 2:
        cand_a.append(first[[0]])
        cand_b.append(first[[1]])
    elif len(uniq) > 2:
        da, db = _delaunay_edges(uniq)
        cand_a.append(first[da])
        cand_b.append(first[db])
    ca, cb = np.concatenate(cand_a), np.concatenate(cand_b)
    cross = label[ca] != label[cb]
    ca, cb = ca[cross], cb[cross]
    length = np.hypot(*(xy[ca] - xy[cb]).T)
    order = np.argsort(length, kind="stable")
    ca, cb, length = ca[order], cb[order], length[order]
    la, lb = np.minimum(label[ca], label[cb]), np.maximum(label[ca], label[cb])
    _, shortest = np.unique(la * count + lb, return_index=True)  # first = shortest per pair
    ca, cb, la, lb, length = ca[shortest], cb[shortest], la[shortest], lb[shortest], length[shortest]
    groups = sp.coo_matrix((length + 1e-9, (la, lb)), shape=(count, count)).tocsr()
    tree = minimum_spanning_tree(groups).tocoo()
    chosen = {(int(r), int(c)) for r, c in zip(np.minimum(tree.row, tree.col), np.maximum(tree.row, tree.col))}
    pick = np.array([(int(x), int(y)) in chosen for x, y in zip(la, lb)], dtype=bool)
    links = sorted((int(min(i, j)), int(max(i, j))) for i, j in zip(ca[pick], cb[pick]))
    coo = adj.tocoo()
    added = np.array(links, dtype=np.int64).reshape(-1, 2)
    joined = from_edges(n, np.concatenate([coo.row, added[:, 0]]), np.concatenate([coo.col, added[:, 1]]))
    return joined, links
