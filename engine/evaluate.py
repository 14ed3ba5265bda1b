"""The one evaluator: KPIs, feasibility and objective of any plan.

Solvers, the CLI, the API and tests all call `evaluate`, so an exact and a heuristic plan
are comparable by construction. It recomputes everything from the assignment alone; it
never trusts a solver's own bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.contiguity import territory_components
from engine.geo import haversine_km
from engine.problem import Problem
from engine.tolerance import exceeds, falls_short

# Centers are chosen among at most this many members nearest the territory's weighted
# centroid; territories this large have a flat cost around their median.
CENTER_CANDIDATES = 400
_BLOCK = 2048
# From this many member-candidate pairs the costs are summed by a compiled loop
# (engine.center_costs); below it NumPy's blocks are as quick and spare a process numba's import.
COMPILED_PAIRS = 100_000


@dataclass(frozen=True, eq=False)
class Evaluation:
    labels: np.ndarray  # (n,) territory index per unit
    centers: np.ndarray  # (k,) unit index of each territory's center (-1 when empty)
    totals: np.ndarray  # (k, m)
    deviation: np.ndarray  # (k, m) (total - mean) / mean; 0 where mean is 0
    pieces: np.ndarray  # (k,) connected pieces per territory
    unit_cost: np.ndarray  # (n,) w_i * d(i, center)^p (d from the rep's home when rep-centric)
    unit_distance: np.ndarray  # (n,) d(i, center), or d(i, home of the territory's rep)
    compactness: float
    moved: np.ndarray  # (n,) bool: unit left its current territory
    objective: float
    violations: list[str]
    rep_of_territory: np.ndarray | None = None  # (k,) rep index per territory (rep-centric problems)
    unserved: np.ndarray | None = None  # (n,) bitmask of needed skills the unit's rep lacks
    skill_penalty: float = 0.0  # soft skills: penalty x unserved skills (part of the objective)

    def unserved_skills(self, problem: Problem) -> list[tuple[str, str, str, str]]:
        """(unit id, skill, territory id, rep id) for every skill a unit needs that its rep lacks."""
        if self.unserved is None or self.rep_of_territory is None:
            return []
        out = []
        for i in np.flatnonzero(self.unserved):
            t = int(self.labels[i])
            rep = problem.rep_ids[int(self.rep_of_territory[t])]
            for b, skill in enumerate(problem.skill_names):
                if self.unserved[i] >> b & 1:
                    out.append((problem.ids[i], skill, problem.territory_ids[t], rep))
        return out

    @property
    def feasible(self) -> bool:
        return not self.violations

    @property
    def breaks_only_the_cap(self) -> bool:
        """Every rule holds but the cap on moved units (max_moved_share)."""
        return bool(self.violations) and all(v.startswith(_CAP_RULE) for v in self.violations)

    @property
    def contiguous(self) -> np.ndarray:
        return self.pieces == 1


_CAP_RULE = "disruption:"  # how a broken cap on moved units is named


def best_center(problem: Problem, members: np.ndarray, compiled: bool | None = None) -> int:
    """The member minimizing sum_i w_i d(i, j)^p over the members (the model's center).
    `compiled`: sum the costs in the compiled loop (engine.center_costs) or with NumPy; by
    default the compiled loop from COMPILED_PAIRS member-candidate pairs up."""
    w = problem.weights
    cands = members
    if len(members) > CENTER_CANDIDATES:
        wm = w[members] + 1e-12
        clat = np.average(problem.lat[members], weights=wm)
        clon = np.average(problem.lon[members], weights=wm)
        near = np.argsort(haversine_km(clat, clon, problem.lat[members], problem.lon[members]))
        cands = members[near[:CENTER_CANDIDATES]]
    if compiled is None:
        compiled = len(members) * len(cands) >= COMPILED_PAIRS
    if problem.explicit_distances is None and compiled:
        from engine.center_costs import center_costs

        cost = center_costs(problem.unit_xyz, w, members, cands, problem.distance_power)
        return int(cands[int(np.argmin(cost))])
    cost = np.zeros(len(cands))
    for s in range(0, len(members), _BLOCK):
        rows = members[s : s + _BLOCK]
        cost += (w[rows][:, None] * problem.dist_block(rows, cands) ** problem.distance_power).sum(axis=0)
    return int(cands[int(np.argmin(cost))])


def best_centers(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """For each territory its best center (see `best_center`); -1 for an empty territory."""
    k = problem.k
    centers = np.full(k, -1, dtype=np.int64)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    for t in range(k):
        members = order[bounds[t] : bounds[t + 1]]
        if len(members):
            centers[t] = best_center(problem, members)
    return centers


def evaluate(problem: Problem, labels, centers=None, rep_of_territory=None) -> Evaluation:
    """Evaluate the plan `labels` (territory index per unit).

    Without reps, travel is measured from each territory's center: `centers` (unit index per
    territory) when given (fixed centers), otherwise each territory's best center, as the
    model would choose it.

    With reps (a rep-centric problem), territory t is served by rep `rep_of_territory[t]`
    (default: `problem.rep_of_territories()`, the mapping every solver uses); travel is
    measured from that rep's home (great-circle km), the rep's skills and capacities are
    checked, and `centers` is only the territory's median unit, shown on maps. Skills a unit
    needs that its rep lacks break the plan (hard skills) or add the scenario's penalty per
    skill to the objective (soft skills).
    """
    labels = np.asarray(labels, dtype=np.int64)
    n, k = problem.n, problem.k
    violations: list[str] = []
    if labels.shape != (n,):
        raise ValueError(f"assignment has {labels.shape} entries, expected {n}")
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= k:
        raise ValueError("assignment refers to a territory outside 0..k-1")
    centers = best_centers(problem, labels) if centers is None else np.asarray(centers, dtype=np.int64)

    totals = np.zeros((k, len(problem.measure_names)))
    for r in range(len(problem.measure_names)):
        totals[:, r] = np.bincount(labels, weights=problem.measures[r], minlength=k)
    mean = problem.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = np.where(mean > 0, (totals - mean) / np.where(mean > 0, mean, 1), 0.0)

    counts = np.bincount(labels, minlength=k)
    for t in np.flatnonzero(counts == 0).tolist():
        violations.append(f"territory {problem.territory_ids[t]}: empty")

    pieces = territory_components(problem.adj, labels, k)
    if problem.contiguity:
        for t in np.flatnonzero(pieces > 1).tolist():
            violations.append(f"contiguity: territory {problem.territory_ids[t]} is in {pieces[t]} pieces")

    for r in np.flatnonzero(problem.balanced).tolist():
        name = problem.measure_names[r]
        lo, hi = problem.lower[r], problem.upper[r]
        for t in range(k):
            v = totals[t, r]
            if falls_short(v, lo) or exceeds(v, hi):
                violations.append(
                    f"balance: territory {problem.territory_ids[t]} has {name} {v:,.6g}, outside [{lo:,.6g}, {hi:,.6g}]"
                )

    locked = problem.locks >= 0
    bad_locks = np.flatnonzero(locked & (labels != problem.locks))
    for i in bad_locks[:20]:
        violations.append(
            f"lock: unit {problem.ids[i]} is locked to {problem.territory_ids[problem.locks[i]]} "
            f"but assigned to {problem.territory_ids[labels[i]]}"
        )

    if problem.frozen is not None and problem.frozen.any():
        for t in np.flatnonzero(problem.frozen).tolist():
            left = int(((problem.current == t) & (labels != t)).sum())
            joined = int(((problem.current != t) & (labels == t)).sum())
            if left or joined:
                violations.append(
                    f"frozen: territory {problem.territory_ids[t]} changed ({left} unit(s) left, {joined} joined)"
                )

    if rep_of_territory is None and problem.rep_centric:
        rep_of_territory = problem.rep_of_territories()
    unserved = None
    skill_penalty = 0.0
    if rep_of_territory is not None:
        rep_of_territory = np.asarray(rep_of_territory, dtype=np.int64)
        unserved = problem.unserved_skills(labels, rep_of_territory)
        violations += _rep_violations(problem, labels, totals, rep_of_territory, unserved)
        if problem.skill_penalty is not None:  # soft skills
            skill_penalty = problem.skill_penalty * float(problem.skill_count(unserved).sum())

    has_current = problem.current >= 0
    moved = has_current & (labels != problem.current)
    cap = problem.moved_cap
    if cap is not None and moved.sum() > cap:
        share = moved.sum() / has_current.sum()
        violations.append(
            f"{_CAP_RULE} {share:.1%} of units move, more than max_moved_share {problem.max_moved_share:.1%}"
        )

    if rep_of_territory is not None and problem.rep_centric:
        home = rep_of_territory[labels]
        unit_distance = haversine_km(problem.lat, problem.lon, problem.rep_lat[home], problem.rep_lon[home])
    else:
        valid = centers >= 0
        center_of_unit = np.where(valid[labels], centers[labels], 0)
        unit_distance = problem.distances(np.arange(n), center_of_unit)
        unit_distance[~valid[labels]] = 0.0
    unit_cost = problem.weights * unit_distance**problem.distance_power
    compactness = float(unit_cost.sum())
    if problem.minimize == "moved":
        # realignment: fewest moved units (compactness and the skill penalty are tie-break KPIs)
        objective = float(moved.sum())
    else:
        objective = compactness + problem.disruption_weight * float(moved.sum()) + skill_penalty

    return Evaluation(
        labels=labels,
        centers=centers,
        totals=totals,
        deviation=deviation,
        pieces=pieces,
        unit_cost=unit_cost,
        unit_distance=unit_distance,
        compactness=compactness,
        moved=moved,
        objective=objective,
        violations=violations,
        rep_of_territory=rep_of_territory,
        unserved=unserved,
        skill_penalty=skill_penalty,
    )


def _rep_violations(
    problem: Problem, labels: np.ndarray, totals: np.ndarray, rep_of_territory: np.ndarray, unserved: np.ndarray
) -> list[str]:
    out = []
    lacking = np.flatnonzero(unserved) if not problem.soft_skills else np.zeros(0, dtype=np.int64)
    for i in lacking[:20]:
        t = labels[i]
        missing = [s for b, s in enumerate(problem.skill_names) if unserved[i] >> b & 1]
        out.append(
            f"skills: unit {problem.ids[i]} needs {', '.join(missing)} but rep {problem.rep_ids[rep_of_territory[t]]} "
            f"of territory {problem.territory_ids[t]} lacks it"
        )
    cap = problem.rep_capacity[rep_of_territory]  # (k, m)
    over = np.argwhere(exceeds(totals, cap))
    for t, r in over[:20]:
        out.append(
            f"capacity: rep {problem.rep_ids[rep_of_territory[t]]} of territory {problem.territory_ids[t]} has "
            f"{problem.measure_names[r]} {totals[t, r]:,.6g}, above capacity {cap[t, r]:,.6g}"
        )
    return out
