"""The problem as the heuristic reads it: arrays per unit and per territory, the territory
rules (locks, frozen territories, skills, capacities) and the cost of a unit in a territory.

Rep-centric problems (reps with homes, `Problem.rep_centric`): territory t is served by rep
`problem.rep_of_territories()[t]`; a unit's cost in t is measured from that rep's home (fixed
centers, no re-centering) plus the soft-skill penalty, the rep's capacities are per-territory
upper bounds next to the balance bounds, and (hard skills) a unit never joins a territory
whose rep lacks one of its skills. Frozen territories: their units are locked and no other
unit may join them (any mode).

Tracked measures: the balanced ones and those a rep's capacity limits. Their loads, bounds and
targets are the columns of `loads`, `lower`, `upper`, `target` (one per tracked measure); the
balance penalty is their relative bound violation, the pull towards the target their squared
relative deviation (balanced measures only).
"""

from __future__ import annotations

import numpy as np

from engine.evaluate import best_center
from engine.geo import haversine_km, project_km
from engine.problem import Problem


class Instance:
    """Static, per-problem arrays."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.n = n = problem.n
        self.k = k = problem.k
        adj = problem.adj.tocsr()
        indptr = adj.indptr.astype(np.int64)
        # unit i's neighbours are nbr[nbr_start[i] : nbr_start[i + 1]]; Python lists, read per move
        self.nbr_start = indptr.tolist()
        self.nbr = adj.indices.astype(np.int64).tolist()
        # the directed edges (both directions), for building candidate moves with numpy
        self.edge_from = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        self.edge_to = adj.indices.astype(np.int64)
        self.rep_of_territory = problem.rep_of_territories()  # (k,) or None
        self.rep_centric = self.rep_of_territory is not None
        cap = (
            problem.rep_capacity[self.rep_of_territory]
            if self.rep_centric
            else np.full((k, len(problem.measure_names)), np.inf)
        )
        tracked = problem.balanced | np.isfinite(cap).any(axis=0)
        self.tracked = np.flatnonzero(tracked)  # the problem's measure of each tracked column
        self.n_tracked = len(self.tracked)
        self.loads = np.ascontiguousarray(problem.measures[self.tracked].T, dtype=float)  # (n, n_tracked)
        balanced = problem.balanced[self.tracked]
        self.lower = np.where(balanced, problem.lower[self.tracked], 0.0).astype(float)
        self.upper = np.where(balanced, problem.upper[self.tracked], np.inf).astype(float)
        # (k, n_tracked): the upper bounds with the reps' capacities
        self.upper_by_territory = np.minimum(self.upper[None, :], cap[:, self.tracked])
        self.per_territory_upper = bool((self.upper_by_territory != self.upper[None, :]).any())
        self.deviation_weight = balanced.astype(float)  # only balanced measures pull towards the target
        mean = problem.mean()[self.tracked]
        self.mean = mean
        self.target = np.clip(mean, self.lower, self.upper)
        self.target_by_territory = np.clip(mean[None, :], self.lower[None, :], self.upper_by_territory)
        # what a violation or deviation is relative to: the target (the mean, or 1, when it is 0)
        self.scale = np.where(self.target > 0, self.target, np.where(mean > 0, mean, 1.0))
        self.weights = problem.weights.astype(float)
        self.power = int(problem.distance_power)
        self.locks = np.asarray(problem.locks, dtype=np.int64).copy()
        self.frozen = np.zeros(k, dtype=bool) if problem.frozen is None else np.asarray(problem.frozen, dtype=bool)
        in_frozen = (problem.current >= 0) & self.frozen[np.maximum(problem.current, 0)]
        self.locks[in_frozen] = problem.current[in_frozen]  # a frozen territory keeps its units
        self.locked = self.locks >= 0
        self.hard_skills = self.rep_centric and not problem.soft_skills and bool(problem.unit_skills.any())
        self.unit_skills = problem.unit_skills
        # each territory's rep's skills (none without reps: skills then bind no territory)
        self.territory_skills = (
            problem.rep_skills[self.rep_of_territory]
            if self.rep_of_territory is not None
            else np.zeros(k, dtype=np.int64)
        )
        self.skill_penalty = float(problem.skill_penalty or 0.0) if self.rep_centric else 0.0
        if self.rep_centric:
            self.home_lat = problem.rep_lat[self.rep_of_territory]
            self.home_lon = problem.rep_lon[self.rep_of_territory]
        self.explicit_distances = problem.explicit_distances
        self.lat = problem.lat
        self.lon = problem.lon
        self.xy = project_km(problem.lat, problem.lon)
        self.contiguity = bool(problem.contiguity)
        self.disruption_weight = float(problem.disruption_weight or 0.0)
        self.current = np.asarray(problem.current, dtype=np.int64)
        self.weights_list = self.weights.tolist()  # per-move reads
        self.current_list = self.current.tolist()
        self.move_cap = problem.moved_cap  # at most this many units with a current territory may move

    # ---- territory rules
    def can_join(self, i, t) -> np.ndarray:
        """May unit(s) i be in territory(ies) t: frozen territories take no one new; with hard
        skills, t's rep must hold every skill of i. (Locks are checked where moves are built.)"""
        i = np.asarray(i)
        t = np.asarray(t)
        ok = ~self.frozen[t] | (self.current[i] == t)
        if self.hard_skills:
            ok &= (self.unit_skills[i] & ~self.territory_skills[t]) == 0
        return ok

    # ---- costs
    def home_cost(self, i, t) -> np.ndarray:
        """Rep-centric cost of unit(s) i in territory(ies) t: w d(i, home of t's rep)^p plus
        the soft-skill penalty (the evaluator's objective terms)."""
        d = haversine_km(self.lat[i], self.lon[i], self.home_lat[t], self.home_lon[t])
        c = self.weights[i] * (d if self.power == 1 else d * d)
        if self.skill_penalty:
            c = c + self.skill_penalty * self.problem.skill_count(self.unit_skills[i] & ~self.territory_skills[t])
        return c

    def assign_cost(self, i, t, centers: np.ndarray) -> np.ndarray:
        """Cost of unit(s) i in territory(ies) t: travel from t's center (rep home when
        rep-centric), soft-skill penalty and disruption."""
        if self.rep_centric:
            base = self.home_cost(i, t)
        else:
            base = self.unit_cost(i, centers[t])
        return base + self.disruption(i, t)

    def assign_cost_scalar(self, i: int, t: int, centers: np.ndarray) -> float:
        """`assign_cost` of one unit in one territory, as a Python float (per move)."""
        if self.rep_centric:
            return float(self.home_cost(np.array([i]), np.array([t]))[0]) + self.disruption_scalar(i, t)
        return self.unit_cost_scalar(i, int(centers[t])) + self.disruption_scalar(i, t)

    def unit_cost(self, i, c) -> np.ndarray:
        """w_i d(i, c)^p for unit(s) i served from unit(s) c."""
        d = self.problem.distances(i, c)
        return self.weights[i] * (d if self.power == 1 else d * d)

    def unit_cost_scalar(self, i: int, c: int) -> float:
        """`unit_cost` of one unit from one center without numpy overhead."""
        d = self.problem.distance(i, c)
        return self.weights_list[i] * (d if self.power == 1 else d * d)

    def disruption(self, i, t) -> np.ndarray | float:
        """The disruption weight for each unit i that has a current territory other than t."""
        if self.disruption_weight == 0.0:
            return 0.0
        cur = self.current[i]
        return self.disruption_weight * ((cur >= 0) & (cur != t))

    def disruption_scalar(self, i: int, t: int) -> float:
        if self.disruption_weight == 0.0:
            return 0.0
        cur = self.current_list[i]
        return self.disruption_weight if (cur >= 0 and cur != t) else 0.0

    def approx_distances(self, rows, cols) -> np.ndarray:
        """(len(rows), len(cols)) approximate distances (projected km) for estimates; exact
        when the distances are explicit."""
        if self.explicit_distances is not None:
            return self.explicit_distances[np.ix_(rows, cols)]
        a, b = self.xy[rows], self.xy[cols]
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return np.sqrt(np.maximum(d2, 0.0))

    def best_center(self, members: np.ndarray) -> int:
        """The member minimizing sum w d^p: the evaluator's own rule."""
        return best_center(self.problem, members)

    # ---- balance: relative violation of the bounds and squared deviation from the target
    def violation(self, tot: np.ndarray, terr) -> np.ndarray:
        """tot (..., n_tracked) of territories `terr` (broadcast to tot's leading shape) -> (...)
        summed relative bound violation (balance bounds and the rep's capacity)."""
        if self.n_tracked == 0:
            return np.zeros(np.shape(tot)[:-1])
        upper = self.upper_by_territory[terr] if self.per_territory_upper else self.upper
        v = np.maximum(0.0, tot - upper) + np.maximum(0.0, self.lower - tot)
        return (v / self.scale).sum(axis=-1)

    def squared_deviation(self, tot: np.ndarray, terr) -> np.ndarray:
        """tot (..., n_tracked) of territories `terr` -> (...) summed squared relative deviation
        of the balanced measures from their targets."""
        if self.n_tracked == 0:
            return np.zeros(np.shape(tot)[:-1])
        target = self.target_by_territory[terr] if self.per_territory_upper else self.target
        d = (tot - target) / self.scale
        return (d * d * self.deviation_weight).sum(axis=-1)
