"""Assigning reps to designed territories: a bipartite assignment solved exactly.

A rep may serve a territory when the rep holds every skill its units need and the
territory's totals are within the rep's capacity. Among feasible assignments, keep as many
of each rep's current accounts as possible first, then put reps' homes near their
territories' centers (lexicographic, through one cost matrix).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.evaluate import Evaluation
from engine.geo import haversine_km
from engine.problem import Problem

_FORBIDDEN = 1e18


@dataclass(frozen=True)
class RepAssignment:
    rep_of_territory: np.ndarray | None  # (k,) rep index per territory
    kept_accounts: int
    message: str | None = None


def territory_needs(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """(k,) bitmask of the skills each territory's units need."""
    need = np.zeros(problem.k, dtype=np.int64)
    np.bitwise_or.at(need, labels, problem.unit_skills)
    return need


def eligibility(problem: Problem, ev: Evaluation) -> np.ndarray:
    """(r, k) True where rep r may serve territory t (skills and capacity)."""
    need = territory_needs(problem, ev.labels)
    skills_ok = (need[None, :] & ~problem.rep_skills[:, None]) == 0
    cap_ok = (ev.totals[None, :, :] <= problem.rep_capacity[:, None, :] * (1 + 1e-9)).all(axis=2)
    return skills_ok & cap_ok


def assign_reps(problem: Problem, ev: Evaluation) -> RepAssignment:
    k = problem.k
    ok = eligibility(problem, ev)
    kept = np.zeros((len(problem.rep_ids), k))
    for r, cur in enumerate(problem.rep_current):
        if cur >= 0:
            kept[r] = np.bincount(ev.labels, weights=(problem.current == cur).astype(float), minlength=k)
    centers = np.where(ev.centers >= 0, ev.centers, 0)
    dist = haversine_km(problem.rep_lat[:, None], problem.rep_lon[:, None], problem.lat[centers][None, :], problem.lon[centers][None, :])
    big = float(dist.max()) * k + 1.0  # one kept account outweighs any total distance
    cost = np.where(ok, dist - big * kept, _FORBIDDEN)
    rows, cols = linear_sum_assignment(cost)
    if (~ok[rows, cols]).any():
        return RepAssignment(None, 0, _why_no_assignment(problem, ev, ok))
    rep_of_territory = np.empty(k, dtype=np.int64)
    rep_of_territory[cols] = rows
    return RepAssignment(rep_of_territory, int(kept[rows, cols].sum()))


def _why_no_assignment(problem: Problem, ev: Evaluation, ok: np.ndarray) -> str:
    tids = problem.territory_ids
    lonely = np.flatnonzero(~ok.any(axis=0))
    if len(lonely):
        t = lonely[0]
        need = territory_needs(problem, ev.labels)[t]
        skills = [s for b, s in enumerate(problem.skill_names) if need >> b & 1]
        return (
            f"reps: no rep can serve territory {tids[t]} (needs skills {', '.join(skills) or 'none'}"
            f", workload {ev.totals[t, 0]:,.6g}); {len(lonely)} territories have no eligible rep"
        )
    need = territory_needs(problem, ev.labels)
    for b, skill in enumerate(problem.skill_names):
        needing = np.flatnonzero(need >> b & 1)
        holders = np.flatnonzero(problem.rep_skills >> b & 1)
        if len(needing) > len(holders):
            return (
                f"skills: {len(needing)} territories ({', '.join(tids[t] for t in needing[:6])}) need skill "
                f"'{skill}' but only {len(holders)} rep(s) have it ({', '.join(problem.rep_ids[r] for r in holders[:6])})"
            )
    return "reps: no assignment gives every territory an eligible rep (skills and capacity) at once"
