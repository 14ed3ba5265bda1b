"""Construction for the heuristic: spread seeds and balanced multi-source region growing over
the adjacency graph (the repairs of a start's contiguity and territory rules: repair.py)."""

from __future__ import annotations

import heapq

import numpy as np
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from engine.geo import haversine_km
from engine.tolerance import NOISE
from solvers.heuristic.instance import Instance
from solvers.heuristic.params import DEFAULTS
from solvers.heuristic.repair import repair_contiguity


def _allocate_seeds(inst: Instance, comp: np.ndarray, ncomp: int) -> np.ndarray:
    """Number of territories per connected component of the graph (largest remainder on
    workload share, at least one per component while k allows)."""
    k = inst.k
    if ncomp == 1:
        return np.array([k])
    share = np.bincount(comp, weights=inst.weights + 1e-9, minlength=ncomp)
    if inst.n_tracked:
        # the most demanding balanced measure decides
        shares = [np.bincount(comp, weights=inst.loads[:, b], minlength=ncomp) for b in range(inst.n_tracked)]
        share = np.max([s / max(s.sum(), NOISE) for s in shares], axis=0)
    share = share / share.sum()
    raw = share * k
    alloc = np.floor(raw).astype(int)
    alloc = np.maximum(alloc, 0)
    size = np.bincount(comp, minlength=ncomp)
    alloc = np.minimum(alloc, size)
    while alloc.sum() < k:
        room = (raw - alloc) + (alloc == 0) * 1.0
        room[alloc >= size] = -np.inf
        alloc[int(np.argmax(room))] += 1
    while alloc.sum() > k:
        alloc[int(np.argmax(alloc))] -= 1
    return alloc


def seeds(inst: Instance, rng: np.random.Generator, lloyd: int = DEFAULTS.seed_lloyd_steps) -> np.ndarray:
    """k seed units: locked units first (one per territory with locks), the rest by weighted
    k-means++ and `lloyd` Lloyd steps on projected coordinates. Returns seed unit per territory."""
    n, k = inst.n, inst.k
    if inst.rep_centric:
        return home_seeds(inst)
    ncomp, comp = connected_components(inst.problem.adj, directed=False)
    alloc = _allocate_seeds(inst, comp, ncomp)
    seed = np.full(k, -1, dtype=np.int64)
    # territories with locked units: seed at the locked unit nearest their locked centroid
    for t in np.unique(inst.locks[inst.locked]).tolist():
        lk = np.flatnonzero(inst.locks == t)
        cxy = inst.xy[lk].mean(axis=0)
        seed[t] = lk[int(np.argmin(((inst.xy[lk] - cxy) ** 2).sum(1)))]
    w = inst.weights + 1e-9 * (inst.weights.max() + 1.0)
    free_t = [t for t in range(k) if seed[t] < 0]
    # per component, how many seeds remain to place
    have = np.bincount(comp[seed[seed >= 0]], minlength=ncomp) if (seed >= 0).any() else np.zeros(ncomp, int)
    need = np.maximum(alloc - have, 0)
    # fix totals so exactly len(free_t) seeds are placed
    while need.sum() > len(free_t):
        need[int(np.argmax(need))] -= 1
    while need.sum() < len(free_t):
        need[int(np.argmax(np.bincount(comp, minlength=ncomp) - have - need))] += 1
    ft = iter(free_t)
    taken = np.zeros(n, dtype=bool)
    taken[seed[seed >= 0]] = True
    for cc in range(ncomp):
        cnt = int(need[cc])
        if cnt == 0:
            continue
        members = np.flatnonzero(comp == cc)
        xy = inst.xy[members]
        wm = w[members]
        fixed = [int(np.searchsorted(members, s)) for s in seed[seed >= 0] if comp[s] == cc]
        chosen = list(fixed)
        if chosen:
            d2 = np.min([((xy - xy[c]) ** 2).sum(1) for c in chosen], axis=0)
        else:
            first = int(rng.choice(len(members), p=wm / wm.sum()))
            chosen.append(first)
            d2 = ((xy - xy[first]) ** 2).sum(1)
        while len(chosen) < len(fixed) + cnt:
            pr = wm * d2
            pr[taken[members]] = 0.0
            pr[chosen] = 0.0
            s = pr.sum()
            if s <= 0:
                cand = np.flatnonzero(~taken[members])
                cand = np.setdiff1d(cand, chosen)
                nxt = int(cand[0])
            else:
                nxt = int(rng.choice(len(members), p=pr / s))
            chosen.append(nxt)
            d2 = np.minimum(d2, ((xy - xy[nxt]) ** 2).sum(1))
        # Lloyd steps for the free seeds (fixed ones stay put)
        allc = np.array(chosen, dtype=np.int64)
        nfix = len(fixed)
        if len(members) > len(allc):
            tree_pts = cKDTree(xy)
            for _ in range(lloyd):
                _, lab = cKDTree(xy[allc]).query(xy)
                new = allc.copy()
                used = set(allc[:nfix].tolist())
                for s in range(nfix, len(allc)):
                    m = lab == s
                    if not m.any():
                        continue
                    cxy = np.average(xy[m], axis=0, weights=wm[m])
                    _, cand = tree_pts.query(cxy, k=min(8, len(members)))
                    for c in np.atleast_1d(cand).tolist():
                        if c not in used:
                            new[s] = c
                            used.add(c)
                            break
                if np.array_equal(new, allc):
                    break
                allc = new
        for s in allc[nfix:].tolist():
            t = next(ft)
            seed[t] = members[s]
            taken[members[s]] = True
    return seed


def home_seeds(inst: Instance) -> np.ndarray:
    """Rep-centric seeds: per territory the unit nearest its rep's home that may join it (its
    locked unit nearest the home when it has locked units); territories with locks first."""
    k = inst.k
    seed = np.full(k, -1, dtype=np.int64)
    taken = np.zeros(inst.n, dtype=bool)
    has_lock = np.zeros(k, dtype=bool)
    has_lock[np.unique(inst.locks[inst.locked])] = True
    for t in sorted(range(k), key=lambda t: (not has_lock[t], t)):
        if has_lock[t]:
            cand = np.flatnonzero(inst.locks == t)
        else:
            cand = np.flatnonzero(~taken & ~inst.locked & inst.can_join(np.arange(inst.n), np.full(inst.n, t)))
            if len(cand) == 0:
                cand = np.flatnonzero(~taken & ~inst.locked)
        d = haversine_km(inst.lat[cand], inst.lon[cand], inst.home_lat[t], inst.home_lon[t])
        seed[t] = cand[int(np.argmin(d))]
        taken[seed[t]] = True
    return seed


def grow(inst: Instance, seed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Balanced multi-source region growing: repeatedly the territory with the most room
    (largest remaining share of its targets) takes its frontier unit nearest its seed."""
    n, k = inst.n, inst.k
    start_of, nbr = inst.nbr_start, inst.nbr
    labels = np.full(n, -1, dtype=np.int64)
    tot = np.zeros((k, max(inst.n_tracked, 1)))
    A = inst.loads if inst.n_tracked else inst.weights[:, None]
    target = inst.target_by_territory if inst.n_tracked else np.full((k, 1), max(inst.weights.sum() / k, NOISE))
    target = np.where(target > 0, target, 1.0)
    cnt_target = n / k
    count = np.zeros(k)
    locks = inst.locks
    heaps: list[list] = [[] for _ in range(k)]
    tie = rng.random(n) * 1e-9

    def push_nbrs(t: int, u: int) -> None:
        nb = nbr[start_of[u] : start_of[u + 1]]
        nb = [v for v in nb if labels[v] < 0 and (locks[v] < 0 or locks[v] == t)]
        if not nb:
            return
        arr = np.array(nb, dtype=np.int64)
        tt = np.full(len(arr), t)
        if inst.rep_centric or inst.frozen.any():
            keep = inst.can_join(arr, tt)
            arr, tt = arr[keep], tt[keep]
            nb = arr.tolist()
        if inst.rep_centric:  # grow outwards from the rep's home
            d = inst.home_cost(arr, tt) / np.maximum(inst.weights[arr], NOISE) + tie[arr]
        else:
            d = inst.problem.distances(arr, np.full(len(arr), seed[t])) + tie[arr]
        for v, dv in zip(nb, d.tolist(), strict=True):
            heapq.heappush(heaps[t], (dv, v))

    def fill(t: int) -> float:
        return float(np.max(tot[t] / target[t])) + 1e-3 * count[t] / cnt_target

    for t in range(k):
        u = int(seed[t])
        labels[u] = t
        tot[t] += A[u]
        count[t] += 1
    for t in range(k):
        push_nbrs(t, int(seed[t]))
    pq = [(fill(t), t) for t in range(k)]
    heapq.heapify(pq)
    while pq:
        f, t = heapq.heappop(pq)
        h = heaps[t]
        while h and labels[h[0][1]] >= 0:
            heapq.heappop(h)
        if not h:
            continue  # frontier exhausted: this territory is done
        _, u = heapq.heappop(h)
        labels[u] = t
        tot[t] += A[u]
        count[t] += 1
        push_nbrs(t, u)
        heapq.heappush(pq, (fill(t), t))
    # units never reached (graph components without a seed, or locked units walled off)
    left = np.flatnonzero(labels < 0)
    if len(left):
        for u in left.tolist():
            if locks[u] >= 0:
                labels[u] = locks[u]
        left = np.flatnonzero(labels < 0)
        if len(left):
            assigned = np.flatnonzero(labels >= 0)
            _, nn = cKDTree(inst.xy[assigned]).query(inst.xy[left])
            labels[left] = labels[assigned[nn]]
        labels = repair_contiguity(inst, labels)
    return labels
