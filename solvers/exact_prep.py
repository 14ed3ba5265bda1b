"""Preprocessing shared by the exact backends: costs, variable fixing, locks, warm starts,
contiguity separators and turning a center assignment back into a plan.

The model (DESIGN.md section 3, Hess with centers among the units): x[i, j] = 1 when unit i
is served by center j. `Prepared.allowed[i, j]` says which x[i, j] survive fixing:

- U-fixing: with contiguity, x[i, j] = 0 when every i-j path weighs more than the upper
  bound of some balanced measure (vertex weights, both ends counted); without contiguity
  when a_i + a_j alone exceed it. A unit heavier than the upper bound alone makes the
  problem infeasible.
- locks: units locked to the same territory share their center; units locked to
  different territories never do.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra, maximum_flow

from engine.problem import Problem

_FIX_TOL = 1e-9  # relative slack when comparing with bounds, so fixing never cuts a plan the evaluator accepts


@dataclass(eq=False)
class Prepared:
    n: int
    k: int
    cost: np.ndarray  # (n, n) c[i, j] = w_i d(i, j)^p
    integral: bool  # all costs are integers (exact proofs with zero gap)
    allowed: np.ndarray  # (n, n) bool, x[i, j] exists
    nbrs: list[np.ndarray]  # adjacency lists
    bal_rows: list[int]  # balanced measures
    path_w: list[np.ndarray] = field(default_factory=list)  # per measure with finite upper: (n, n) min vertex-weighted path, both ends
    path_u: list[float] = field(default_factory=list)  # the matching upper bounds (with slack)
    path_a: list[np.ndarray] = field(default_factory=list)  # the matching unit weights
    lock_groups: list[np.ndarray] = field(default_factory=list)  # units locked to the same territory, per territory
    lock_terr: list[int] = field(default_factory=list)
    infeasible: str | None = None  # a rule proved infeasible before solving
    notes: list[str] = field(default_factory=list)

    @property
    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        return np.nonzero(self.allowed)

    def pair_ok(self, i: int, c: int, j: int) -> bool:
        """Can unit c lie on a path from i to center j inside one feasible territory (length-U test)?"""
        for d, u, a in zip(self.path_w, self.path_u, self.path_a):
            if d[i, c] + d[c, j] - a[c] > u:
                return False
        return True


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


def prepare(problem: Problem) -> Prepared:
    n, k = problem.n, problem.k
    cost = problem.cost_matrix().astype(float)
    integral = bool(np.all(np.abs(cost - np.round(cost)) <= 1e-9 * np.maximum(1.0, np.abs(cost))))
    if integral:
        cost = np.round(cost)
    adj = problem.adj.tocsr()
    nbrs = [adj.indices[adj.indptr[i] : adj.indptr[i + 1]] for i in range(n)]
    bal_rows = [int(r) for r in np.flatnonzero(problem.balanced)]
    prep = Prepared(n=n, k=k, cost=cost, integral=integral, allowed=np.ones((n, n), dtype=bool), nbrs=nbrs, bal_rows=bal_rows)

    # ---- overt infeasibility ---------------------------------------------------------
    for r in bal_rows:
        a = problem.measures[r]
        name = problem.measure_names[r]
        lo, hi = float(problem.lower[r]), float(problem.upper[r])
        total = float(a.sum())
        if np.isfinite(hi):
            hi_s = hi + _FIX_TOL * max(abs(hi), 1.0)
            heavy = np.flatnonzero(a > hi_s)
            if len(heavy):
                i = int(heavy[0])
                prep.infeasible = (
                    f"balance: unit {problem.ids[i]} alone has {name} {a[i]:,.6g}, above the territory maximum {hi:,.6g}"
                )
                return prep
            if k * hi_s < total:
                prep.infeasible = f"balance: total {name} {total:,.6g} exceeds {k} territories x maximum {hi:,.6g}"
                return prep
        if k * (lo - _FIX_TOL * max(abs(lo), 1.0)) > total:
            prep.infeasible = f"balance: total {name} {total:,.6g} is below {k} territories x minimum {lo:,.6g}"
            return prep

    # ---- U-fixing ----------------------------------------------------------------------
    allowed = prep.allowed
    for r in bal_rows:
        hi = float(problem.upper[r])
        if not np.isfinite(hi):
            continue
        a = problem.measures[r].astype(float)
        hi_s = hi + _FIX_TOL * max(abs(hi), 1.0)
        if problem.contiguity:
            d = vertex_weighted_paths(adj, a)
            allowed &= (d <= hi_s).T  # allowed[i, j]: path j..i light enough (symmetric anyway)
            prep.path_w.append(d)
            prep.path_u.append(hi_s)
            prep.path_a.append(a)
        else:
            pair = a[:, None] + a[None, :]
            np.fill_diagonal(pair, a)
            allowed &= pair <= hi_s

    # ---- locks -------------------------------------------------------------------------
    locks = problem.locks if problem.locks is not None else np.full(n, -1)
    terrs = sorted(int(t) for t in np.unique(locks[locks >= 0]))
    for t in terrs:
        g = np.flatnonzero(locks == t)
        prep.lock_groups.append(g)
        prep.lock_terr.append(t)
        common = allowed[g].all(axis=0)
        allowed[g] = common[None, :]
    for gi, g in enumerate(prep.lock_groups):
        others = np.concatenate([h for hi_, h in enumerate(prep.lock_groups) if hi_ != gi]) if len(prep.lock_groups) > 1 else np.zeros(0, dtype=int)
        # a center inside group g serves no unit locked elsewhere
        for j in g:
            allowed[others, j] = False
    # every unit needs a center; a center must serve itself
    diag = np.diag(allowed).copy()
    allowed &= diag[None, :]
    if not allowed.any(axis=1).all():
        i = int(np.flatnonzero(~allowed.any(axis=1))[0])
        prep.infeasible = f"balance/contiguity: unit {problem.ids[i]} cannot join any territory within the bounds"
        if len(prep.lock_groups):
            prep.infeasible = f"locks/balance: unit {problem.ids[i]} cannot join any territory within the bounds and locks"
        return prep
    if problem.contiguity:
        ncomp, _ = connected_components(adj, directed=False)
        if ncomp > k:
            prep.infeasible = f"contiguity: the adjacency graph has {ncomp} components, more than {k} territories"
            return prep
    return prep


# ---- contiguity separators -----------------------------------------------------------
def territory_pieces(prep: Prepared, members: np.ndarray, j: int) -> list[np.ndarray]:
    """Pieces of the territory `members` (unit indices, containing j) not connected to j."""
    inside = np.zeros(prep.n, dtype=bool)
    inside[members] = True
    seen = np.zeros(prep.n, dtype=bool)
    out = []
    for s in [j] + [int(m) for m in members if m != j]:
        if seen[s]:
            continue
        comp = []
        q = deque([s])
        seen[s] = True
        while q:
            u = q.popleft()
            comp.append(u)
            for v in prep.nbrs[u]:
                if inside[v] and not seen[v]:
                    seen[v] = True
                    q.append(v)
        if s != j:
            out.append(np.array(comp))
    return out


def separator_toward(nbrs, n: int, piece, j: int) -> list[int]:
    """The neighbours of `piece` adjacent to the component of j once they are removed: a
    minimal piece-j vertex separator (sorted). `piece` is connected and does not hold j."""
    in_piece = np.zeros(n, dtype=bool)
    in_piece[piece] = True
    boundary = set()
    for u in np.asarray(piece).tolist():
        for v in nbrs[u]:
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
        for v in nbrs[u]:
            v = int(v)
            if v in boundary:
                touch.add(v)
            elif not blocked[v] and not seen[v]:
                seen[v] = True
                q.append(v)
    return sorted(touch)


def minimal_separator(prep: Prepared, piece: np.ndarray, i: int, j: int, touch: list[int] | None = None) -> list[int]:
    """A minimal i-j vertex separator inside N(piece), restricted to units that can lie on a
    light i-j path and can be served by j. `piece` is a connected set containing i but not j
    (a component of a territory); `touch`, when given, is separator_toward(piece, j) already."""
    if touch is None:
        touch = separator_toward(prep.nbrs, prep.n, piece, j)
    return [c for c in touch if prep.allowed[c, j] and prep.pair_ok(i, c, j)]


def integer_cuts(prep: Prepared, center_of: np.ndarray) -> list[tuple[int, int, list[int]]]:
    """For an integer assignment (center per unit), cuts x[i, j] <= sum_{c in C} x[c, j] that it
    violates: one per disconnected piece (i = the piece's unit nearest the center)."""
    cuts = []
    for j in np.unique(center_of):
        j = int(j)
        members = np.flatnonzero(center_of == j)
        for piece in territory_pieces(prep, members, j):
            # all units of the piece violate; cut for each (cheap, strengthens the LP): the
            # separator is the piece's, only its length-U filter depends on the unit
            touch = separator_toward(prep.nbrs, prep.n, piece, j)
            for i in piece:
                cuts.append((int(i), j, minimal_separator(prep, piece, int(i), j, touch)))
    return cuts


def fractional_cuts(prep: Prepared, xval: dict, centers_val: np.ndarray, eps: float = 1e-6,
                    min_viol: float = 0.05, use_flow: bool = True, max_cuts: int = 2000) -> list[tuple[int, int, list[int]]]:
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
        # support component of j
        seen = np.zeros(n, dtype=bool)
        seen[j] = True
        q = deque([j])
        while q:
            u = q.popleft()
            for v in prep.nbrs[u]:
                if cap[v] > eps and not seen[v]:
                    seen[v] = True
                    q.append(v)
        for i, v in row.items():
            if i == j or v < min_viol:
                continue
            if not seen[i]:
                # piece of i in the support
                comp = [i]
                s2 = {i}
                q = deque([i])
                while q:
                    u = q.popleft()
                    for w in prep.nbrs[u]:
                        if cap[w] > eps and w not in s2:
                            s2.add(int(w))
                            comp.append(int(w))
                            q.append(w)
                cuts.append((i, j, minimal_separator(prep, np.array(comp), i, j)))
            elif use_flow:
                sep, val = min_vertex_cut(prep, cap, i, j)
                if sep is not None and val < v - min_viol:
                    cuts.append((i, j, sep))
            if len(cuts) >= max_cuts:
                return cuts
    return cuts


def min_vertex_cut(prep: Prepared, cap: np.ndarray, i: int, j: int, scale: float = 1e6):
    """Min-capacity i-j vertex separator with capacities cap (x[c, j] values), length-U pruned."""
    ok = np.array([prep.allowed[c, j] and prep.pair_ok(i, c, j) for c in range(prep.n)])
    return vertex_separator(prep.nbrs, ok, cap, i, j, scale)


def vertex_separator(nbrs, ok: np.ndarray, cap: np.ndarray, i: int, j: int, scale: float = 1e6):
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
        for v in nbrs[u]:
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
        for v, c in zip(resid.indices[resid.indptr[u]:resid.indptr[u + 1]], resid.data[resid.indptr[u]:resid.indptr[u + 1]]):
            if c > 0 and not reach[v]:
                reach[v] = True
                q.append(int(v))
    sep = [u for u in np.flatnonzero(ok).tolist() if reach[u] and not reach[u + n] and u not in (i, j)]
    return sep, res.flow_value / scale


# ---- warm start and result -----------------------------------------------------------
def warm_start_centers(problem: Problem, prep: Prepared, labels) -> np.ndarray | None:
    """center_of[i] for a feasible warm start (labels), or None when unusable."""
    from engine.evaluate import best_centers, evaluate

    try:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (problem.n,):
            return None
        ev = evaluate(problem, labels)
    except Exception:
        return None
    if ev.violations:
        return None
    centers = best_centers(problem, labels)
    center_of = centers[labels]
    if not prep.allowed[np.arange(problem.n), center_of].all():
        return None
    return center_of


def plan_from_centers(problem: Problem, prep: Prepared, center_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """labels (territory index per unit) and centers (unit per territory) from center_of,
    numbering territories so locked units land in their territory and, when current
    territories are given, as few units as possible move (an assignment problem)."""
    from scipy.optimize import linear_sum_assignment

    k = problem.k
    cs = np.unique(center_of)
    if len(cs) != k:
        raise RuntimeError(f"solution has {len(cs)} centers, expected {k}")
    pos = {int(c): t for t, c in enumerate(cs)}
    local = np.array([pos[int(c)] for c in center_of])
    # score[a, t]: units of group a that keep their current territory t (minus penalty for lock breaks)
    score = np.zeros((k, k))
    cur = problem.current if problem.current is not None else np.full(problem.n, -1)
    ok = cur >= 0
    np.add.at(score, (local[ok], cur[ok]), 1.0)
    locks = problem.locks if problem.locks is not None else np.full(problem.n, -1)
    lk = locks >= 0
    np.add.at(score, (local[lk], locks[lk]), 1e6)
    rows, cols = linear_sum_assignment(-score)
    perm = np.empty(k, dtype=np.int64)
    perm[rows] = cols
    labels = perm[local]
    centers = np.empty(k, dtype=np.int64)
    centers[perm] = cs
    return labels, centers
