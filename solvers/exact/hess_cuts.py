"""Contiguity cuts of the Hess model (solvers.exact.hess): the neighbour inequalities added up
front, and the separator inequalities that a disconnected integer plan or a fractional LP
point violates.

Every cut is x[i, j] <= sum_{c in C} x[c, j] with C a set of units separating unit i from
center j, pruned to units that may be served by j and can lie on a path from i to j light
enough for one territory (the length-U test of HessData.pair_ok).
"""

from __future__ import annotations

import numpy as np

from engine.contiguity import connected_pieces
from solvers.exact.hess_data import HessData
from solvers.exact.separators import separator_toward, vertex_separator

Cut = tuple[int, int, list[int]]  # (i, j, C): x[i, j] <= sum_{c in C} x[c, j]


def neighbor_cuts(prep: HessData) -> list[Cut]:
    """x[i, j] <= sum_{c in N(i)} x[c, j] for i not adjacent to j (N(i) separates i from j),
    restricted to neighbours c that can lie on a light i-j path. Fixes x[i, j] = 0 (in
    prep.allowed) when no neighbour qualifies, repeating until nothing changes."""
    allowed = prep.allowed
    changed = True
    while changed:
        changed = False
        cuts = []
        unit, center = np.nonzero(allowed)
        for i, j in zip(unit.tolist(), center.tolist()):
            if i == j:
                continue
            nb = prep.neighbours[i]
            if (nb == j).any():
                continue
            C = [int(c) for c in nb if allowed[c, j] and prep.pair_ok(i, c, j)]
            if not C:
                allowed[i, j] = False
                changed = True
                continue
            cuts.append((i, j, C))
    # units without any center left: infeasible, caught by the caller
    return cuts


def minimal_separator(prep: HessData, piece: np.ndarray, i: int, j: int, touch: list[int] | None = None) -> list[int]:
    """A minimal i-j vertex separator inside N(piece), restricted to units that can lie on a
    light i-j path and can be served by j. `piece` is a connected set containing i but not j
    (a component of a territory); `touch`, when given, is separator_toward(piece, j) already."""
    if touch is None:
        touch = separator_toward(prep.neighbours, prep.n, piece, j)
    return [c for c in touch if prep.allowed[c, j] and prep.pair_ok(i, c, j)]


def integer_cuts(prep: HessData, center_of: np.ndarray) -> list[Cut]:
    """For an integer assignment (center per unit), cuts x[i, j] <= sum_{c in C} x[c, j] that it
    violates: one per disconnected piece (i = the piece's unit nearest the center)."""
    cuts = []
    for j in np.unique(center_of):
        j = int(j)
        members = np.flatnonzero(center_of == j)
        for piece in connected_pieces(prep.neighbours, [j, *(int(m) for m in members if m != j)], prep.n)[1:]:
            # all units of the piece violate; cut for each (cheap, strengthens the LP): the
            # separator is the piece's, only its length-U filter depends on the unit
            touch = separator_toward(prep.neighbours, prep.n, piece, j)
            for i in piece:
                cuts.append((int(i), j, minimal_separator(prep, piece, int(i), j, touch)))
    return cuts


def fractional_cuts(
    prep: HessData, xval: dict, eps: float = 1e-6, min_viol: float = 0.05, use_flow: bool = True, max_cuts: int = 2000
) -> list[Cut]:
    """Separators violated by an LP point. xval[(i, j)] -> value. First the cheap test (the
    support of j does not reach i), then a min vertex cut when `use_flow`."""
    n = prep.n
    cuts = []
    by_center: dict[int, dict[int, float]] = {}
    for (i, j), v in xval.items():
        if v > eps:
            by_center.setdefault(j, {})[i] = v
    for j, row in by_center.items():
        if row.get(j, 0.0) <= eps:
            continue
        cap = np.zeros(n)
        for i, v in row.items():
            cap[i] = v
        # the support's pieces, j's first: a unit outside j's piece is cut off from j
        support = [j, *(u for u in np.flatnonzero(cap > eps).tolist() if u != j)]
        pieces = connected_pieces(prep.neighbours, support, n)
        piece_of = np.full(n, -1)
        for p, piece in enumerate(pieces):
            piece_of[piece] = p
        for i, v in row.items():
            if i == j or v < min_viol:
                continue
            if piece_of[i] != 0:
                cuts.append((i, j, minimal_separator(prep, pieces[piece_of[i]], i, j)))
            elif use_flow:
                sep, val = min_vertex_cut(prep, cap, i, j)
                if sep is not None and val < v - min_viol:
                    cuts.append((i, j, sep))
            if len(cuts) >= max_cuts:
                return cuts
    return cuts


def min_vertex_cut(prep: HessData, cap: np.ndarray, i: int, j: int, scale: float = 1e6):
    """Min-capacity i-j vertex separator with capacities cap (x[c, j] values), length-U pruned."""
    ok = np.array([prep.allowed[c, j] and prep.pair_ok(i, c, j) for c in range(prep.n)])
    return vertex_separator(prep.neighbours, ok, cap, i, j, scale)
