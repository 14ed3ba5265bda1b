"""A valid lower bound for rep-centric problems: each unit at its cheapest allowed rep.

With reps, the evaluator's objective is a sum of per-unit terms that depend only on the
unit's territory t (the home of t's rep is fixed):

    cost(i, t) = w_i d(i, home of t's rep)^p + penalty x (skills i needs that t's rep lacks)
                 + disruption_weight x [i moves]          (mode "compactness")
    cost(i, t) = [i moves]                                (mode "moved")

Dropping balance, capacity, contiguity and the moved cap leaves min_t cost(i, t) per unit over
the territories i may join (its lock, frozen territories, hard skills): a valid bound on any
plan the evaluator accepts. It is weak when balance binds; it is cheap (O(n k)).
"""

from __future__ import annotations

import numpy as np

from engine.problem import Problem

SOURCE = "per-unit cheapest allowed rep (balance, capacity and contiguity dropped)"
_BLOCK = 2048
_SAFETY = 1e-9


def home_assignment_bound(problem: Problem) -> float | None:
    rep_of = problem.rep_of_territories()
    if rep_of is None:
        return None
    n, k = problem.n, problem.k
    t_all = np.arange(k)
    frozen = problem.frozen if problem.frozen is not None else np.zeros(k, dtype=bool)
    moved_mode = problem.minimize == "moved"
    total = 0.0
    for s in range(0, n, _BLOCK):
        idx = np.arange(s, min(s + _BLOCK, n))
        cur = problem.current[idx]
        moves = (cur[:, None] >= 0) & (cur[:, None] != t_all[None, :])
        if moved_mode:
            cost = moves.astype(float)
        else:
            cost = problem.weights[idx][:, None] * problem.home_distances(rep_of, idx) ** problem.distance_power
            lacking = problem.unit_skills[idx][:, None] & ~problem.rep_skills[rep_of][None, :]
            if problem.soft_skills:
                cost += problem.skill_penalty * problem.skill_count(lacking)
            cost += problem.disruption_weight * moves
        allowed = np.ones((len(idx), k), dtype=bool)
        if not problem.soft_skills:
            allowed &= (problem.unit_skills[idx][:, None] & ~problem.rep_skills[rep_of][None, :]) == 0
        allowed &= ~frozen[None, :] | (cur[:, None] == t_all[None, :])
        pinned = np.where(problem.locks[idx] >= 0, problem.locks[idx], -1)
        in_frozen = (cur >= 0) & frozen[np.maximum(cur, 0)]
        pinned = np.where(in_frozen, cur, pinned)
        rows = np.flatnonzero(pinned >= 0)
        allowed[rows] &= t_all[None, :] == pinned[rows][:, None]
        if not allowed.any(axis=1).all():
            return None  # some unit can join no territory: the prechecks and the evaluator say why
        total += float(np.where(allowed, cost, np.inf).min(axis=1).sum())
    return total - _SAFETY * abs(total) if not moved_mode else float(np.ceil(total - 1e-9))
