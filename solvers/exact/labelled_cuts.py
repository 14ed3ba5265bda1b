"""Contiguity cuts of the territory-indexed model (solvers.exact.labelled).

Territory t holding a fixed unit r (its root: a locked or frozen unit) is connected when every
unit i in it reaches r inside it: x[i, t] <= sum_{c in C} x[c, t] for every C separating i from
r. Without a root, any two units i, j of t must be linked: x[i, t] + x[j, t] - 1 <=
sum_{c in C} x[c, t]. C is pruned to units allowed in t that can lie on a path light enough for
the territory (the length-U test of LabelledData.pair_ok).
"""

from __future__ import annotations

import numpy as np

from engine.contiguity import connected_pieces
from solvers.exact.labelled_data import LabelledData
from solvers.exact.separators import separator_toward, vertex_separator

Cut = tuple[int, int, int, tuple[int, ...]]  # (t, i, j or -1 for a rooted cut, C)


def integer_cuts(prep: LabelledData, labels: np.ndarray, reps_per_piece: int = 2) -> list[Cut]:
    """Separator inequalities a disconnected integer plan violates. Rooted territory t (root r):
    x[i,t] <= sum_C x[c,t]; otherwise x[i,t] + x[j,t] - 1 <= sum_C x[c,t] with j in the
    largest piece. C is pruned to units allowed in t that can lie on a light i-j path."""
    cuts: list[Cut] = []
    for t in range(prep.k):
        members = np.flatnonzero(labels == t)
        if len(members) < 2:
            continue
        comps = connected_pieces(prep.neighbours, members, prep.n)
        if len(comps) < 2:
            continue
        r = int(prep.root[t])
        if r >= 0:
            main = next(ci for ci, c in enumerate(comps) if (c == r).any())
            anchors = [r]
        else:
            main = int(np.argmax([len(c) for c in comps]))
            anchors = comps[main][:reps_per_piece].tolist()
        for ci, piece in enumerate(comps):
            if ci == main:
                continue
            for j in anchors:
                sep = separator_toward(prep.neighbours, prep.n, piece, j)
                for i in piece.tolist():
                    C = tuple(c for c in sep if prep.allowed[c, t] and prep.pair_ok(i, c, j, t))
                    cuts.append((t, i, -1 if r >= 0 else j, C))
    return cuts


def min_vertex_cut(prep: LabelledData, cap: np.ndarray, i: int, j: int, t: int, scale: float = 1e6):
    """Least-capacity i-j vertex separator (capacities cap[c] = x[c, t] of an LP point) among
    units allowed in t that can lie on a light i-j path; (separator, value) or (None, inf)."""
    ok = np.array([bool(prep.allowed[c, t]) and prep.pair_ok(i, c, j, t) for c in range(prep.n)])
    return vertex_separator(prep.neighbours, ok, cap, i, j, scale)


def fractional_cuts(prep: LabelledData, xval: np.ndarray, min_viol: float = 0.05, max_cuts: int = 500) -> list[Cut]:
    """Separator inequalities violated by an LP point xval (n, k): per territory, against its
    root or, without one, against the unit with the largest value."""
    cuts: list[Cut] = []
    for t in range(prep.k):
        y = xval[:, t]
        r = int(prep.root[t])
        j = r if r >= 0 else int(np.argmax(y))
        yj = 1.0 if r >= 0 else y[j]
        for i in np.argsort(-y).tolist():
            if i == j or (y[i] + yj - 1.0 if r < 0 else y[i]) < min_viol:
                continue
            if (prep.neighbours[i] == j).any():
                continue
            sep, val = min_vertex_cut(prep, y, i, j, t)
            lhs = y[i] if r >= 0 else y[i] + yj - 1.0
            if sep is not None and val < lhs - min_viol:
                cuts.append((t, i, -1 if r >= 0 else j, tuple(sorted(sep))))
                if len(cuts) >= max_cuts:
                    return cuts
    return cuts
