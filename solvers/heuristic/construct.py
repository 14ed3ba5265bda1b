"""Construction for the heuristic: spread seeds, balanced multi-source region growing over
the adjacency graph, and a contiguity repair that dissolves stray pieces into neighbours."""

from __future__ import annotations

import heapq

import numpy as np
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from engine.geo import haversine_km
from solvers.heuristic.instance import Instance


def _allocate_seeds(ctx: Instance, comp: np.ndarray, ncomp: int) -> np.ndarray:
    """Number of territories per connected component of the graph (largest remainder on
    workload share, at least one per component while k allows)."""
    k = ctx.k
    if ncomp == 1:
        return np.array([k])
    share = np.bincount(comp, weights=ctx.w + 1e-9, minlength=ncomp)
    if ctx.nb:
        # the most demanding balanced measure decides
        shares = [np.bincount(comp, weights=ctx.A[:, b], minlength=ncomp) for b in range(ctx.nb)]
        share = np.max([s / max(s.sum(), 1e-12) for s in shares], axis=0)
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


def seeds(ctx: Instance, rng: np.random.Generator, lloyd: int = 3) -> np.ndarray:
    """k seed units: locked units first (one per territory with locks), the rest by weighted
    k-means++ and a few Lloyd steps on projected coordinates. Returns seed unit per territory."""
    n, k = ctx.n, ctx.k
    if ctx.fixed:
        return home_seeds(ctx)
    ncomp, comp = connected_components(ctx.problem.adj, directed=False)
    alloc = _allocate_seeds(ctx, comp, ncomp)
    seed = np.full(k, -1, dtype=np.int64)
    # territories with locked units: seed at the locked unit nearest their locked centroid
    for t in np.unique(ctx.locks[ctx.locked]).tolist():
        lk = np.flatnonzero(ctx.locks == t)
        cxy = ctx.xy[lk].mean(axis=0)
        seed[t] = lk[int(np.argmin(((ctx.xy[lk] - cxy) ** 2).sum(1)))]
    w = ctx.w + 1e-9 * (ctx.w.max() + 1.0)
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
        xy = ctx.xy[members]
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


def home_seeds(ctx: Instance) -> np.ndarray:
    """Rep-centric seeds: per territory the unit nearest its rep's home that may join it (its
    locked unit nearest the home when it has locked units); territories with locks first."""
    k = ctx.k
    seed = np.full(k, -1, dtype=np.int64)
    taken = np.zeros(ctx.n, dtype=bool)
    has_lock = np.zeros(k, dtype=bool)
    has_lock[np.unique(ctx.locks[ctx.locked])] = True
    for t in sorted(range(k), key=lambda t: (not has_lock[t], t)):
        if has_lock[t]:
            cand = np.flatnonzero(ctx.locks == t)
        else:
            cand = np.flatnonzero(~taken & ~ctx.locked & ctx.can_join(np.arange(ctx.n), np.full(ctx.n, t)))
            if len(cand) == 0:
                cand = np.flatnonzero(~taken & ~ctx.locked)
        d = haversine_km(ctx.lat[cand], ctx.lon[cand], ctx.home_lat[t], ctx.home_lon[t])
        seed[t] = cand[int(np.argmin(d))]
        taken[seed[t]] = True
    return seed


def grow(ctx: Instance, seed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Balanced multi-source region growing: repeatedly the territory with the most room
    (largest remaining share of its targets) takes its frontier unit nearest its seed."""
    n, k = ctx.n, ctx.k
    ip, ix = ctx.ip, ctx.ix
    labels = np.full(n, -1, dtype=np.int64)
    tot = np.zeros((k, max(ctx.nb, 1)))
    A = ctx.A if ctx.nb else ctx.w[:, None]
    target = ctx.target_t if ctx.nb else np.full((k, 1), max(ctx.w.sum() / k, 1e-12))
    target = np.where(target > 0, target, 1.0)
    cnt_target = n / k
    count = np.zeros(k)
    locks = ctx.locks
    heaps: list[list] = [[] for _ in range(k)]
    tie = rng.random(n) * 1e-9

    def push_nbrs(t: int, u: int) -> None:
        nb = ix[ip[u] : ip[u + 1]]
        nb = [v for v in nb if labels[v] < 0 and (locks[v] < 0 or locks[v] == t)]
        if not nb:
            return
        arr = np.array(nb, dtype=np.int64)
        tt = np.full(len(arr), t)
        if ctx.fixed or ctx.frozen.any():
            keep = ctx.can_join(arr, tt)
            arr, tt = arr[keep], tt[keep]
            nb = arr.tolist()
        if ctx.fixed:  # rep-centric: grow outwards from the rep's home
            d = ctx.home_cost(arr, tt) / np.maximum(ctx.w[arr], 1e-12) + tie[arr]
        else:
            d = ctx.dist(arr, np.full(len(arr), seed[t])) + tie[arr]
        for v, dv in zip(nb, d.tolist()):
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
            _, nn = cKDTree(ctx.xy[assigned]).query(ctx.xy[left])
            labels[left] = labels[assigned[nn]]
        labels = repair_contiguity(ctx, labels)
    return labels


def repair_contiguity(ctx: Instance, labels: np.ndarray) -> np.ndarray:
    """Keep each territory's main piece (most workload, then most locked units) and
    dissolve the other pieces into adjacent territories by flooding from assigned units.
    Pieces holding locked units of their own territory are kept."""
    import scipy.sparse as sp

    n, k = ctx.n, ctx.k
    labels = labels.copy()
    for _round in range(6):
        same = labels[ctx.erow] == labels[ctx.ecol]
        sub = sp.csr_matrix(
            (np.ones(int(same.sum()), dtype=np.int8), (ctx.erow[same], ctx.ecol[same])), shape=(n, n)
        )
        ncomp, comp = connected_components(sub, directed=False)
        if ncomp == k:
            return labels
        comp_lab = np.zeros(ncomp, dtype=np.int64)
        comp_lab[comp] = labels
        # the main piece is the heaviest (dissolving it would move the most); pieces holding
        # locked units are joined to it along a path below, or kept
        score = np.bincount(comp, weights=ctx.w, minlength=ncomp) + 1.0
        score = score / (score.max() + 1.0) + 1e-3 * np.bincount(comp, weights=ctx.locked.astype(float), minlength=ncomp)
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
        has_lock = np.bincount(comp, weights=ctx.locked.astype(float), minlength=ncomp) > 0
        # locked units of one territory in several pieces: join them along shortest paths
        joined = False
        for cc in np.flatnonzero(has_lock & ~keep).tolist():
            t = int(comp_lab[cc])
            if main[t] < 0:
                continue
            path = _path_between(ctx, labels, comp, int(main[t]), cc, t)
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
        ip, ix = ctx.ip, ctx.ix
        frontier = [u for u in np.flatnonzero(stray).tolist() if any(labels[v] >= 0 for v in ix[ip[u] : ip[u + 1]])]
        while frontier:
            nxt = []
            for u in frontier:
                if labels[u] >= 0:
                    continue
                # join the adjacent territory with the nearest center-ish (first assigned nbr)
                for v in ix[ip[u] : ip[u + 1]]:
                    if labels[v] >= 0:
                        labels[u] = labels[v]
                        break
                for v in ix[ip[u] : ip[u + 1]]:
                    if labels[v] < 0:
                        nxt.append(v)
            frontier = nxt
        left = np.flatnonzero(labels < 0)
        if len(left):  # components with no territory at all: nearest assigned unit
            assigned = np.flatnonzero(labels >= 0)
            _, nn = cKDTree(ctx.xy[assigned]).query(ctx.xy[left])
            labels[left] = labels[assigned[nn]]
    return labels


def _path_between(ctx: Instance, labels: np.ndarray, comp: np.ndarray, src: int, dst: int, t: int) -> list[int]:
    """Fewest-hop path from piece `src` to piece `dst` through units not locked elsewhere;
    returns the inner units of the path (empty when none)."""
    ip, ix, locks = ctx.ip, ctx.ix, ctx.locks
    starts = np.flatnonzero(comp == src).tolist()
    prev = {u: -1 for u in starts}
    frontier = starts
    while frontier:
        nxt = []
        for u in frontier:
            for v in ix[ip[u] : ip[u + 1]]:
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


def repair_rules(ctx: Instance, labels: np.ndarray, rounds: int = 4) -> np.ndarray:
    """Move units out of territories they may not join (hard skills, frozen territories): each
    such unit joins the nearest (fewest hops) territory it may join, together with the units on
    the path there, when they may join it too and are not locked; contiguity is then repaired.
    Best effort: what is left stays a violation for the search and the evaluator."""
    if not (ctx.hard_skills or ctx.frozen.any()):
        return labels
    labels = labels.copy()
    ip, ix, locks = ctx.ip, ctx.ix, ctx.locks
    for _ in range(rounds):
        bad = np.flatnonzero(~ctx.can_join(np.arange(ctx.n), labels))
        if len(bad) == 0:
            return labels
        for i in bad.tolist():
            if ctx.can_join(i, labels[i]) or locks[i] >= 0:
                continue
            prev = {i: -1}
            frontier = [i]
            done = False
            while frontier and not done:
                nxt = []
                for u in frontier:
                    for v in ix[ip[u] : ip[u + 1]]:
                        if v in prev:
                            continue
                        prev[v] = u
                        t = int(labels[v])
                        if ctx.can_join(i, t) and ctx.can_join(v, t):
                            path = []
                            x = u
                            while x != -1:
                                path.append(x)
                                x = prev[x]
                            arr = np.array(path, dtype=np.int64)
                            if ctx.can_join(arr, np.full(len(arr), t)).all() and not (
                                (locks[arr] >= 0) & (locks[arr] != t)
                            ).any():
                                labels[arr] = t
                                done = True
                                break
                        if locks[v] < 0:
                            nxt.append(v)
                    if done:
                        break
                frontier = nxt
        if ctx.contiguity:
            labels = repair_contiguity(ctx, labels)
    return labels
