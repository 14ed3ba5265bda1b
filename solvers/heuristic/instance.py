"""The problem as the heuristic reads it: arrays per unit and per territory, the territory
rules (locks, frozen territories, skills, capacities) and the cost of a unit in a territory.

Rep-centric problems (reps with homes, `Problem.rep_centric`): territory t is served by rep
`problem.rep_of_territories()[t]`; a unit's cost in t is measured from that rep's home (fixed
centers, no re-centering) plus the soft-skill penalty, the rep's capacities are per-territory
upper bounds next to the balance bounds, and (hard skills) a unit never joins a territory
whose rep lacks one of its skills. Frozen territories: their units are locked and no other
unit may join them (any mode).
"""

from __future__ import annotations

import math

import numpy as np

from engine.evaluate import best_center
from engine.geo import EARTH_RADIUS_KM, haversine_km, project_km
from engine.problem import Problem


class Instance:
    """Static, per-problem arrays."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.n = n = problem.n
        self.k = problem.k
        adj = problem.adj.tocsr()
        self.indptr = adj.indptr.astype(np.int64)
        self.indices = adj.indices.astype(np.int64)
        self.ip = self.indptr.tolist()
        self.ix = self.indices.tolist()
        deg = np.diff(self.indptr)
        self.erow = np.repeat(np.arange(n, dtype=np.int64), deg)
        self.ecol = self.indices
        self.rep_of = problem.rep_of_territories()  # (k,) or None
        self.fixed = self.rep_of is not None
        k = problem.k
        cap = problem.rep_capacity[self.rep_of] if self.fixed else np.full((k, len(problem.measure_names)), np.inf)
        # tracked measures: balanced ones, and those a rep's capacity limits
        tracked = problem.balanced | np.isfinite(cap).any(axis=0)
        self.bal = np.flatnonzero(tracked)
        self.nb = len(self.bal)
        self.A = np.ascontiguousarray(problem.measures[self.bal].T, dtype=float)  # (n, nb)
        balanced = problem.balanced[self.bal]
        self.lo = np.where(balanced, problem.lower[self.bal], 0.0).astype(float)
        self.hi = np.where(balanced, problem.upper[self.bal], np.inf).astype(float)
        self.hi_t = np.minimum(self.hi[None, :], cap[:, self.bal])  # (k, nb) with the reps' capacities
        self.per_territory = bool((self.hi_t != self.hi[None, :]).any())
        self.dev_w = balanced.astype(float)  # only balanced measures pull towards the target
        mean = problem.mean()[self.bal]
        self.mean = mean
        self.target = np.clip(mean, self.lo, self.hi)
        self.target_t = np.clip(mean[None, :], self.lo[None, :], self.hi_t)
        sc = np.where(self.target > 0, self.target, np.where(mean > 0, mean, 1.0))
        self.scale = sc
        self.w = problem.weights.astype(float)
        self.p = int(problem.distance_power)
        self.locks = np.asarray(problem.locks, dtype=np.int64).copy()
        self.frozen = np.zeros(k, dtype=bool) if problem.frozen is None else np.asarray(problem.frozen, dtype=bool)
        in_frozen = (problem.current >= 0) & self.frozen[np.maximum(problem.current, 0)]
        self.locks[in_frozen] = problem.current[in_frozen]  # a frozen territory keeps its units
        self.locked = self.locks >= 0
        self.hard_skills = self.fixed and not problem.soft_skills and bool(problem.unit_skills.any())
        self.unit_skills = problem.unit_skills
        self.terr_skills = problem.rep_skills[self.rep_of] if self.fixed else None
        self.skill_penalty = float(problem.skill_penalty or 0.0) if self.fixed else 0.0
        if self.fixed:
            self.home_lat = problem.rep_lat[self.rep_of]
            self.home_lon = problem.rep_lon[self.rep_of]
        self.explicit = problem.explicit_distances
        self.lat = problem.lat
        self.lon = problem.lon
        self.xy = project_km(problem.lat, problem.lon)
        self.contiguity = bool(problem.contiguity)
        self.lam = float(problem.disruption_weight or 0.0)
        self.current = np.asarray(problem.current, dtype=np.int64)
        self._rlat = np.radians(problem.lat).tolist()
        self._rlon = np.radians(problem.lon).tolist()
        self._coslat = np.cos(np.radians(problem.lat)).tolist()
        self._wl = self.w.tolist()
        self._curl = self.current.tolist()
        # disruption cap: at most this many units with a current territory may move
        has_cur = int((self.current >= 0).sum())
        share = problem.max_moved_share
        self.move_cap = None if share is None or has_cur == 0 else int(np.floor(share * has_cur + 1e-9))

    # ---- territory rules
    def can_join(self, i, t) -> np.ndarray:
        """May unit(s) i be in territory(ies) t: frozen territories take no one new; with hard
        skills, t's rep must hold every skill of i. (Locks are checked where moves are built.)"""
        i = np.asarray(i)
        t = np.asarray(t)
        ok = ~self.frozen[t] | (self.current[i] == t)
        if self.hard_skills:
            ok &= (self.unit_skills[i] & ~self.terr_skills[t]) == 0
        return ok

    def home_cost(self, i, t) -> np.ndarray:
        """Rep-centric cost of unit(s) i in territory(ies) t: w d(i, home of t's rep)^p plus
        the soft-skill penalty (the evaluator's objective terms)."""
        d = haversine_km(self.lat[i], self.lon[i], self.home_lat[t], self.home_lon[t])
        c = self.w[i] * (d if self.p == 1 else d * d)
        if self.skill_penalty:
            c = c + self.skill_penalty * self.problem.skill_count(self.unit_skills[i] & ~self.terr_skills[t])
        return c

    def assign_cost(self, i, t, centers: np.ndarray) -> np.ndarray:
        """Cost of unit(s) i in territory(ies) t: travel from t's center (rep home when fixed),
        soft-skill penalty and disruption."""
        if self.fixed:
            base = self.home_cost(i, t)
        else:
            base = self.unit_cost(i, centers[t])
        return base + self.disruption(i, t)

    def assign_cost1(self, i: int, t: int, centers: np.ndarray) -> float:
        if self.fixed:
            return float(self.home_cost(np.array([i]), np.array([t]))[0]) + self.disruption1(i, t)
        return self.unit_cost1(i, int(centers[t])) + self.disruption1(i, t)

    # distances between unit pairs (vectorized)
    def dist(self, i, j) -> np.ndarray:
        if self.explicit is not None:
            return np.asarray(self.explicit[i, j], dtype=float)
        return haversine_km(self.lat[i], self.lon[i], self.lat[j], self.lon[j])

    def unit_cost1(self, i: int, c: int) -> float:
        """Scalar unit cost w_i d(i, c)^p without numpy overhead."""
        if self.explicit is not None:
            d = float(self.explicit[i, c])
        else:
            la1, lo1, la2, lo2 = self._rlat[i], self._rlon[i], self._rlat[c], self._rlon[c]
            a = math.sin((la2 - la1) / 2) ** 2 + self._coslat[i] * self._coslat[c] * math.sin((lo2 - lo1) / 2) ** 2
            d = 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))
        return self._wl[i] * (d if self.p == 1 else d * d)

    def disruption1(self, i: int, t: int) -> float:
        if self.lam == 0.0:
            return 0.0
        cur = self._curl[i]
        return self.lam if (cur >= 0 and cur != t) else 0.0

    def euclid_block(self, rows, cols) -> np.ndarray:
        """Approximate distances (projected km) for estimates; exact when explicit."""
        if self.explicit is not None:
            return self.explicit[np.ix_(rows, cols)]
        a, b = self.xy[rows], self.xy[cols]
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return np.sqrt(np.maximum(d2, 0.0))

    def unit_cost(self, i, c) -> np.ndarray:
        d = self.dist(i, c)
        return self.w[i] * (d if self.p == 1 else d * d)

    def disruption(self, i, t) -> np.ndarray:
        if self.lam == 0.0:
            return 0.0
        cur = self.current[i]
        return self.lam * ((cur >= 0) & (cur != t))

    # balance penalty: relative violation of the bounds, summed over measures
    def viol(self, tot: np.ndarray, terr) -> np.ndarray:
        """tot (..., nb) of territories `terr` (broadcast to tot's leading shape) -> (...)
        summed relative bound violation (balance bounds and the rep's capacity)."""
        if self.nb == 0:
            return np.zeros(np.shape(tot)[:-1])
        hi = self.hi_t[terr] if self.per_territory else self.hi
        v = np.maximum(0.0, tot - hi) + np.maximum(0.0, self.lo - tot)
        return (v / self.scale).sum(axis=-1)

    def dev2(self, tot: np.ndarray, terr) -> np.ndarray:
        if self.nb == 0:
            return np.zeros(np.shape(tot)[:-1])
        target = self.target_t[terr] if self.per_territory else self.target
        d = (tot - target) / self.scale
        return (d * d * self.dev_w).sum(axis=-1)

    def best_center(self, members: np.ndarray) -> int:
        """The member minimizing sum w d^p: the evaluator's own rule."""
        return best_center(self.problem, members)
