"""Preprocessing for the territory-indexed exact model (solvers.exact.labelled): which x[i, t]
exist, the fixed center of each territory and its costs, the model's objective and rules
for a plan, and warm starts (its cuts: solvers.exact.labelled_cuts).

`LabelledData.allowed[i, t]` is False when unit i can never be in territory t:

- locks: a locked unit has one territory;
- frozen territories: their current units stay, no other unit joins;
- skills: the rep of t lacks a skill unit i needs;
- length-U: with contiguity, a territory holding a fixed unit r (locked or frozen) cannot
  hold i when every r-i path weighs more than the territory's upper bound (the balance
  maximum, or the rep's capacity when lower) in some measure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.contiguity import territory_components
from engine.problem import Problem
from engine.tolerance import exceeds, falls_short, slack
from solvers.exact.separators import vertex_weighted_paths

_FORBIDDEN = 1e18

RULES = ("locks", "frozen", "skills", "capacity", "moved cap")


@dataclass(eq=False)
class LabelledData:
    n: int
    k: int
    allowed: np.ndarray  # (n, k) bool
    cost: np.ndarray  # (n, k) w_i d(i, center of t)^p
    rep_of_territory: np.ndarray | None  # (k,) rep index, None without reps
    upper: np.ndarray  # (k, m) per-territory upper bound (balance max and rep capacity)
    lower: np.ndarray  # (m,)
    root: np.ndarray  # (k,) a unit fixed into t, or -1
    neighbours: list[np.ndarray]
    has_current: np.ndarray  # (n,) bool
    max_moved: int | None  # cap on moved units
    path_weights: list[np.ndarray] = field(default_factory=list)  # per measure with a finite upper bound: (n, n)
    path_measures: list[int] = field(default_factory=list)  # the matching measure rows
    rules: tuple[str, ...] = RULES  # the rules this preparation enforces (diagnosis drops some)
    infeasible: str | None = None

    def pair_ok(self, i: int, c: int, j: int, t: int) -> bool:
        """Can unit c lie on a path from i to j inside territory t (length-U test)?"""
        for d, r in zip(self.path_weights, self.path_measures):
            if exceeds(d[i, c] + d[c, j] - d[c, c], self.upper[t, r]):
                return False
        return True


def skill_costs(problem: Problem, rep_of: np.ndarray | None) -> np.ndarray:
    """(n, k) soft-skill penalty of unit i in territory t: penalty x the skills i needs that
    t's rep lacks (zeros with hard skills or without reps)."""
    if rep_of is None or not problem.soft_skills:
        return np.zeros((problem.n, problem.k))
    lacking = problem.unit_skills[:, None] & ~problem.rep_skills[rep_of][None, :]
    return problem.skill_penalty * problem.skill_count(lacking).astype(float)


def fixed_center_costs(problem: Problem, rep_of: np.ndarray | None) -> np.ndarray:
    """cost[i, t] = w_i d(i, c_t)^p with c_t the home of t's rep (as the evaluator measures
    it), or without reps the best center of t's current units (0 for a territory without
    current units)."""
    n, k = problem.n, problem.k
    p = problem.distance_power
    w = problem.weights
    if rep_of is not None:
        return w[:, None] * problem.home_distances(rep_of) ** p
    from engine.evaluate import best_centers

    cost = np.zeros((n, k))
    has = problem.current >= 0
    if not has.any():
        return cost
    labels = np.where(has, problem.current, 0)
    # best_centers over the current members only
    sub = np.flatnonzero(has)
    centers = best_centers(problem.subproblem(sub, k), labels[sub])
    for t in range(k):
        if centers[t] >= 0:
            cost[:, t] = w * problem.dist_from(int(sub[centers[t]])) ** p
    return cost


def prepare_labelled(problem: Problem, rules: tuple[str, ...] = RULES) -> LabelledData:
    n, k = problem.n, problem.k
    m = len(problem.measure_names)
    tids = problem.territory_ids
    rep_of = problem.rep_of_territories()
    # the model's objective per x[i, t]: travel from the center plus, with soft skills, the
    # penalty of each skill i needs that t's rep lacks (so the model's bound bounds the
    # evaluator's objective)
    cost = fixed_center_costs(problem, rep_of) + skill_costs(problem, rep_of)
    adj = problem.adj.tocsr()
    neighbours = problem.neighbour_lists
    upper = np.where(problem.balanced, problem.upper, np.inf)[None, :].repeat(k, axis=0)
    lower = np.where(problem.balanced, problem.lower, 0.0)
    if rep_of is not None and "capacity" in rules:
        upper = np.minimum(upper, problem.rep_capacity[rep_of])
    allowed = np.ones((n, k), dtype=bool)
    has_current = problem.current >= 0
    max_moved = problem.moved_cap if "moved cap" in rules else None
    prep = LabelledData(
        n,
        k,
        allowed,
        cost,
        rep_of,
        upper,
        lower,
        np.full(k, -1, dtype=np.int64),
        neighbours,
        has_current,
        max_moved,
        rules=tuple(rules),
    )

    def unit(i) -> str:
        return problem.ids[int(i)]

    if "skills" in rules and rep_of is not None and not problem.soft_skills:
        lacking = (problem.unit_skills[:, None] & ~problem.rep_skills[rep_of][None, :]) != 0
        allowed &= ~lacking
        for i in np.flatnonzero(~allowed.any(axis=1))[:1]:
            need = [s for b, s in enumerate(problem.skill_names) if problem.unit_skills[i] >> b & 1]
            prep.infeasible = f"skills: unit {unit(i)} needs {', '.join(need)} but no rep holds all of them"
            return prep
    if "frozen" in rules and problem.frozen is not None and problem.frozen.any():
        for t in np.flatnonzero(problem.frozen).tolist():
            inside = problem.current == t
            keep = allowed[inside, t].copy()
            for i in np.flatnonzero(inside)[~keep][:1]:
                rep = f" (rep {problem.rep_ids[rep_of[t]]})" if rep_of is not None else ""
                prep.infeasible = (
                    f"skills/frozen: unit {unit(i)} stays in frozen territory {tids[t]} but its rep{rep} "
                    "lacks a skill the unit needs"
                )
                return prep
            allowed[inside] = False
            allowed[inside, t] = True
            allowed[~inside, t] = False
    if "locks" in rules:
        for i in np.flatnonzero(problem.locks >= 0):
            t = int(problem.locks[i])
            if not allowed[i, t]:
                why = "frozen" if problem.frozen is not None and problem.frozen.any() else "skills"
                rep = f" (rep {problem.rep_ids[rep_of[t]]})" if rep_of is not None else ""
                prep.infeasible = (
                    f"lock/{why}: unit {unit(i)} is locked to territory {tids[t]}{rep}, "
                    f"which the {why} rule forbids for it"
                )
                return prep
            allowed[i] = False
            allowed[i, t] = True
    for i in np.flatnonzero(~allowed.any(axis=1))[:1]:
        prep.infeasible = f"rules: unit {unit(i)} can join no territory under the locks, frozen territories and skills"
        return prep

    # capacity and balance against what is fixed already
    forced = allowed.sum(axis=1) == 1
    forced_t = np.where(forced, allowed.argmax(axis=1), -1)
    for t in range(k):
        g = np.flatnonzero(forced_t == t)
        if len(g):
            prep.root[t] = int(g[np.argmax(problem.weights[g])]) if problem.weights[g].any() else int(g[0])
        for r in range(m):
            load = problem.measures[r][g].sum()
            if exceeds(load, upper[t, r]):
                kind = "capacity" if rep_of is not None and upper[t, r] < problem.upper[r] else "balance"
                who = f" (rep {problem.rep_ids[rep_of[t]]})" if rep_of is not None else ""
                prep.infeasible = (
                    f"{kind}/locks: the units fixed to territory {tids[t]}{who} "
                    f"(e.g. {', '.join(unit(i) for i in g[:5])}) "
                    f"already have {problem.measure_names[r]} {load:,.6g}, above its maximum {upper[t, r]:,.6g}"
                )
                return prep
            reach = problem.measures[r][allowed[:, t]].sum()
            if falls_short(reach, lower[r]):
                prep.infeasible = (
                    f"balance: territory {tids[t]} can reach at most {problem.measure_names[r]} {reach:,.6g} "
                    f"from the units allowed in it, below the minimum {lower[r]:,.6g}"
                )
                return prep

    if problem.contiguity:
        for r in range(m):
            if not np.isfinite(upper[:, r]).any():
                continue
            prep.path_weights.append(vertex_weighted_paths(adj, problem.measures[r].astype(float)))
            prep.path_measures.append(r)
        for t in range(k):
            if prep.root[t] < 0:
                continue
            for d, r in zip(prep.path_weights, prep.path_measures):
                allowed[:, t] &= d[prep.root[t]] <= upper[t, r] + slack(upper[t, r])
        for t in range(k):
            for i in np.flatnonzero(forced_t == t):
                if not allowed[i, t]:
                    prep.infeasible = (
                        f"contiguity/locks: units {unit(i)} and {unit(prep.root[t])} are both fixed to territory "
                        f"{tids[t]} but every path joining them exceeds the territory's maximum"
                    )
                    return prep
        for i in np.flatnonzero(~allowed.any(axis=1))[:1]:
            prep.infeasible = (
                f"contiguity: unit {unit(i)} cannot reach any territory it may join within the "
                "territory maximum from the units fixed there"
            )
            return prep
    return prep


# ---- objective of a plan -------------------------------------------------------------
def moved_count(problem: Problem, labels: np.ndarray) -> int:
    has = problem.current >= 0
    return int((has & (labels != problem.current)).sum())


def plan_compactness(prep: LabelledData, labels: np.ndarray) -> float:
    """Fixed-center travel of a plan, plus the soft-skill penalties when skills are soft."""
    return float(prep.cost[np.arange(prep.n), labels].sum())


def plan_objective(problem: Problem, prep: LabelledData, labels: np.ndarray, mode: str) -> float:
    """The model's objective of a plan: moved units ("moved") or fixed-center compactness plus
    disruption_weight per moved unit ("compactness")."""
    if mode == "moved":
        return float(moved_count(problem, labels))
    return plan_compactness(prep, labels) + problem.disruption_weight * moved_count(problem, labels)


def plan_violations(problem: Problem, prep: LabelledData, labels: np.ndarray) -> list[str]:
    """Rules of the model a plan breaks (empty when the model accepts it)."""
    out = []
    n, k = prep.n, prep.k
    if not prep.allowed[np.arange(n), labels].all():
        out.append("allowed")
    counts = np.bincount(labels, minlength=k)
    if (counts == 0).any():
        out.append("empty")
    for r in range(len(problem.measure_names)):
        tot = np.bincount(labels, weights=problem.measures[r], minlength=k)
        if exceeds(tot, prep.upper[:, r]).any() or falls_short(tot, prep.lower[r]).any():
            out.append(f"bounds {problem.measure_names[r]}")
    if prep.max_moved is not None and moved_count(problem, labels) > prep.max_moved:
        out.append("moved cap")
    if problem.contiguity and (territory_components(problem.adj, labels, k) > 1).any():
        out.append("contiguity")
    return out


def warm_labels(problem: Problem, prep: LabelledData, labels, mode: str) -> np.ndarray | None:
    """Renumber a plan's territories (any solver's numbering) to the model's: the numbering
    that is allowed and cheapest for the model, or None when no numbering is feasible."""
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except Exception:
        return None
    if labels.shape != (prep.n,) or labels.min(initial=0) < 0 or labels.max(initial=0) >= prep.k:
        return None
    k = prep.k
    onehot = np.zeros((prep.n, k))
    onehot[np.arange(prep.n), labels] = 1.0
    score = onehot.T @ (prep.cost if mode != "moved" else np.zeros_like(prep.cost))  # (a, t)
    cur = problem.current
    has = cur >= 0
    keep = np.zeros((k, k))
    np.add.at(keep, (labels[has], cur[has]), 1.0)
    lam = 1.0 if mode == "moved" else problem.disruption_weight
    big = 1.0 + float(np.abs(score).sum())
    cost = score - (lam * big if mode == "moved" else lam) * keep
    bad = (onehot.T @ (~prep.allowed).astype(float)) > 0
    for r in range(len(problem.measure_names)):
        tot = np.bincount(labels, weights=problem.measures[r], minlength=k)
        bad |= exceeds(tot[:, None], prep.upper[None, :, r])
    cost = np.where(bad, _FORBIDDEN, cost)
    rows, cols = linear_sum_assignment(cost)
    if (cost[rows, cols] >= _FORBIDDEN).any():
        return None
    perm = np.empty(k, dtype=np.int64)
    perm[rows] = cols
    out = perm[labels]
    return None if plan_violations(problem, prep, out) else out
