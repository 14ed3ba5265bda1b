"""Repairs of a start: contiguity (dissolve stray pieces of a territory into its neighbours)
and the territory rules (units out of territories they may not join). Both are best effort:
what is left stays a violation for the search and the evaluator."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from solvers.heuristic.instance import Instance


def repaired(inst: Instance, labels: np.ndarray) -> np.ndarray | None:
    """A start's labels with contiguity and the territory rules repaired; None when a
    territory ends up empty."""
    if inst.contiguity:
        labels = repair_contiguity(inst, labels)
    labels = repair_rules(inst, labels)
    return labels if np.bincount(labels, minlength=inst.k).min() > 0 else None


def repair_contiguity(inst: Instance, labels: np.ndarray) -> np.ndarray:
    """Keep each territory's main piece (most workload, then most locked units) and
    dissolve the other pieces into adjacent territories by flooding from assigned units.
    Pieces holding locked units of their own territory are kept."""
    n, k = inst.n, inst.k
    labels = labels.copy()
    for _round in range(6):
        same = labels[inst.edge_from] == labels[inst.edge_to]
        sub = sp.csr_matrix(
            (np.ones(int(same.sum()), dtype=np.int8), (inst.edge_from[same], inst.edge_to[same])), shape=(n, n)
        )
        ncomp, comp = connected_components(sub, directed=False)
        if ncomp == k:
            return labels
        comp_lab = np.zeros(ncomp, dtype=np.int64)
        comp_lab[comp] = labels
        # the main piece is the heaviest (dissolving it would move the most); pieces holding
        # locked units are joined to it along a path below, or kept
        score = np.bincount(comp, weights=inst.weights, minlength=ncomp) + 1.0
        locked = np.bincount(comp, weights=inst.locked.astype(float), minlength=ncomp)
        score = score / (score.max() + 1.0) + 1e-3 * locked
        score += np.bincount(comp, minlength=ncomp) * 1e-9
        main = np.full(k, -1, dtype=np.int64)
        best = np.full(k, -np.inf)
        for cc in range(ncomp):
            t = comp_lab[cc]
            if score[cc] > best[t]:
                best[t] = score[cc]
                main[t] = cc
        keep = np.zeros(ncomp, dtype=bool)
        keep[main[main >= 0]] = True
        has_lock = locked > 0
        # locked units of one territory in several pieces: join them along shortest paths
        joined = False
        for cc in np.flatnonzero(has_lock & ~keep).tolist():
            t = int(comp_lab[cc])
            if main[t] < 0:
                continue
            path = path_between(inst, comp, int(main[t]), cc, t)
            if path:
                labels[path] = t
                joined = True
        if joined:
            continue
        keep |= has_lock
        stray = ~keep[comp]
        if not stray.any():
            return labels
        labels[stray] = -1
        start_of, nbr = inst.nbr_start, inst.nbr
        frontier = [
            u for u in np.flatnonzero(stray).tolist() if any(labels[v] >= 0 for v in nbr[start_of[u] : start_of[u + 1]])
        ]
        while frontier:
            nxt = []
            for u in frontier:
                if labels[u] >= 0:
                    continue
                # join the adjacent territory with the nearest center-ish (first assigned nbr)
                for v in nbr[start_of[u] : start_of[u + 1]]:
                    if labels[v] >= 0:
                        labels[u] = labels[v]
                        break
                for v in nbr[start_of[u] : start_of[u + 1]]:
                    if labels[v] < 0:
                        nxt.append(v)
            frontier = nxt
        left = np.flatnonzero(labels < 0)
        if len(left):  # components with no territory at all: nearest assigned unit
            assigned = np.flatnonzero(labels >= 0)
            _, nn = cKDTree(inst.xy[assigned]).query(inst.xy[left])
            labels[left] = labels[assigned[nn]]
    return labels


def path_between(inst: Instance, comp: np.ndarray, src: int, dst: int, t: int) -> list[int]:
    """Fewest-hop path from piece `src` to piece `dst` through units not locked elsewhere;
    returns the inner units of the path (empty when none)."""
    start_of, nbr, locks = inst.nbr_start, inst.nbr, inst.locks
    starts = np.flatnonzero(comp == src).tolist()
    prev = {u: -1 for u in starts}
    frontier = starts
    while frontier:
        nxt = []
        for u in frontier:
            for v in nbr[start_of[u] : start_of[u + 1]]:
                if v in prev or (locks[v] >= 0 and locks[v] != t):
                    continue
                prev[v] = u
                if comp[v] == dst:
                    out = []
                    x = u
                    while prev[x] != -1:
                        out.append(x)
                        x = prev[x]
                    return out
                nxt.append(v)
        frontier = nxt
    return []


def repair_rules(inst: Instance, labels: np.ndarray, rounds: int = 4) -> np.ndarray:
    """Move units out of territories they may not join (hard skills, frozen territories): each
    such unit joins the nearest (fewest hops) territory it may join, together with the units on
    the path there, when they may join it too and are not locked; contiguity is then repaired.
    Best effort: what is left stays a violation for the search and the evaluator."""
    if not (inst.hard_skills or inst.frozen.any()):
        return labels
    labels = labels.copy()
    start_of, nbr, locks = inst.nbr_start, inst.nbr, inst.locks
    for _ in range(rounds):
        bad = np.flatnonzero(~inst.can_join(np.arange(inst.n), labels))
        if len(bad) == 0:
            return labels
        for i in bad.tolist():
            if inst.can_join(i, labels[i]) or locks[i] >= 0:
                continue
            prev = {i: -1}
            frontier = [i]
            done = False
            while frontier and not done:
                nxt = []
                for u in frontier:
                    for v in nbr[start_of[u] : start_of[u + 1]]:
                        if v in prev:
                            continue
                        prev[v] = u
                        t = int(labels[v])
                        if inst.can_join(i, t) and inst.can_join(v, t):
                            path = []
                            x = u
                            while x != -1:
                                path.append(x)
                                x = prev[x]
                            arr = np.array(path, dtype=np.int64)
                            if (
                                inst.can_join(arr, np.full(len(arr), t)).all()
                                and not ((locks[arr] >= 0) & (locks[arr] != t)).any()
                            ):
                                labels[arr] = t
                                done = True
                                break
                        if locks[v] < 0:
                            nxt.append(v)
                    if done:
                        break
                frontier = nxt
        if inst.contiguity:
            labels = repair_contiguity(inst, labels)
    return labels
