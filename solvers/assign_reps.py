"""Assigning reps to designed territories: a bipartite assignment solved exactly.

Used where territories are designed without the reps (the hierarchy's regions). A rep may
serve a designed territory when the territory's totals are within the rep's capacity, its
locked (and frozen) units belong to that rep's territory and, with hard skills, the rep
holds every skill its units need. Among feasible assignments, keep as many of each rep's
current accounts as possible first, then the least objective: travel from the rep's home
(as the evaluator measures it), soft-skill penalties and priced moves. Lexicographic through
one cost matrix: -kept accounts + objective scaled below 1.

After the assignment the plan is renumbered so that territory t is served by
`problem.rep_of_territories()[t]`, the mapping the evaluator and every solver share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.evaluate import Evaluation
from engine.geo import haversine_km
from engine.problem import Problem
from engine.tolerance import exceeds

_FORBIDDEN = 1e18
_BLOCK = 4096


@dataclass(frozen=True)
class RepAssignment:
    rep_of_territory: np.ndarray | None  # (k,) rep index per designed territory
    kept_accounts: int
    message: str | None = None


def territory_needs(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """(k,) bitmask of the skills each territory's units need."""
    need = np.zeros(problem.k, dtype=np.int64)
    np.bitwise_or.at(need, labels, problem.unit_skills)
    return need


def territory_of_reps(problem: Problem) -> np.ndarray:
    """(r,) the territory each rep serves in the shared mapping."""
    rep_of = problem.rep_of_territories()
    if rep_of is None:
        raise ValueError("the problem has no reps")
    out = np.empty(len(rep_of), dtype=np.int64)
    out[rep_of] = np.arange(len(rep_of))
    return out


def eligibility(problem: Problem, ev: Evaluation) -> np.ndarray:
    """(r, k) True where rep r may serve designed territory d (skills when hard, capacity, locks)."""
    need = territory_needs(problem, ev.labels)
    ok = ~exceeds(ev.totals[None, :, :], problem.rep_capacity[:, None, :]).any(axis=2)
    if not problem.soft_skills:
        ok &= (need[None, :] & ~problem.rep_skills[:, None]) == 0
    pinned = np.where(problem.locks >= 0, problem.locks, -1)
    if problem.frozen is not None and problem.frozen.any():
        in_frozen = (problem.current >= 0) & problem.frozen[np.maximum(problem.current, 0)]
        pinned = np.where(in_frozen, problem.current, pinned)
    terr_of_rep = territory_of_reps(problem)
    for i in np.flatnonzero(pinned >= 0):
        ok[:, ev.labels[i]] &= terr_of_rep == pinned[i]
    return ok


def objective_matrix(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """(r, k) the evaluator's objective terms of designed territory d if rep r serves it:
    travel from r's home, soft-skill penalties, disruption_weight per moved unit."""
    n_reps, k = len(problem.rep_ids), problem.k
    w = problem.weights
    out = np.zeros((n_reps, k))
    for s in range(0, problem.n, _BLOCK):
        sl = slice(s, s + _BLOCK)
        d = haversine_km(
            problem.lat[sl][:, None], problem.lon[sl][:, None], problem.rep_lat[None, :], problem.rep_lon[None, :]
        )
        c = w[sl][:, None] * d**problem.distance_power
        if problem.soft_skills:
            lacking = problem.unit_skills[sl][:, None] & ~problem.rep_skills[None, :]
            c = c + problem.skill_penalty * problem.skill_count(lacking)
        for r in range(n_reps):
            out[r] += np.bincount(labels[sl], weights=c[:, r], minlength=k)
    if problem.disruption_weight and problem.minimize != "moved":
        out += problem.disruption_weight * _moved_matrix(problem, labels)
    return out


def _kept_matrix(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """(r, k) units of designed territory d whose current territory is the one rep r serves."""
    terr_of_rep = territory_of_reps(problem)
    has = problem.current >= 0
    overlap = np.zeros((problem.k, problem.k))  # (current territory, designed territory)
    np.add.at(overlap, (problem.current[has], labels[has]), 1.0)
    return overlap[terr_of_rep]


def _moved_matrix(problem: Problem, labels: np.ndarray) -> np.ndarray:
    has = problem.current >= 0
    with_current = np.bincount(labels[has], minlength=problem.k).astype(float)
    return with_current[None, :] - _kept_matrix(problem, labels)


def assign_reps(problem: Problem, ev: Evaluation) -> RepAssignment:
    """Reps for the territories of the designed plan `ev` (numbered as designed)."""
    ok = eligibility(problem, ev)
    kept = _kept_matrix(problem, ev.labels)
    obj = objective_matrix(problem, ev.labels)
    scale = float(np.abs(obj).max(axis=0).sum()) + 1.0  # total objective / scale < 1: kept accounts come first
    cost = np.where(ok, obj / scale - kept, _FORBIDDEN)
    rows, cols = linear_sum_assignment(cost)
    if (~ok[rows, cols]).any():
        return RepAssignment(None, 0, _why_no_assignment(problem, ev, ok))
    rep_of_territory = np.empty(problem.k, dtype=np.int64)
    rep_of_territory[cols] = rows
    return RepAssignment(rep_of_territory, int(kept[rows, cols].sum()))


def labels_for_reps(problem: Problem, labels: np.ndarray, rep_of_designed: np.ndarray) -> np.ndarray:
    """Renumber a designed plan so that each territory carries the id of the rep serving it."""
    return territory_of_reps(problem)[np.asarray(rep_of_designed)[labels]]


def _why_no_assignment(problem: Problem, ev: Evaluation, ok: np.ndarray) -> str:
    tids = problem.territory_ids
    lonely = np.flatnonzero(~ok.any(axis=0))
    if len(lonely):
        t = lonely[0]
        need = territory_needs(problem, ev.labels)[t]
        skills = [s for b, s in enumerate(problem.skill_names) if need >> b & 1]
        what = f"needs skills {', '.join(skills) or 'none'}, " if not problem.soft_skills else ""
        return (
            f"reps: no rep can serve territory {tids[t]} ({what}workload {ev.totals[t, 0]:,.6g}, "
            f"locked units); {len(lonely)} territories have no eligible rep"
        )
    need = territory_needs(problem, ev.labels)
    for b, skill in enumerate(problem.skill_names if not problem.soft_skills else []):
        needing = np.flatnonzero(need >> b & 1)
        holders = np.flatnonzero(problem.rep_skills >> b & 1)
        if len(needing) > len(holders):
            return (
                f"skills: {len(needing)} territories ({', '.join(tids[t] for t in needing[:6])}) need skill "
                f"'{skill}' but only {len(holders)} rep(s) have it "
                f"({', '.join(problem.rep_ids[r] for r in holders[:6])})"
            )
    return "reps: no assignment gives every territory an eligible rep (skills, capacity and locks) at once"
