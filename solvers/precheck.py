"""Feasibility pre-checks that fail before solving, with the rule that makes a scenario impossible.

Each check is cheap (linear in the data) and sound: when it says infeasible, no plan exists.
Where it can, the message names the loosest change that would work.
"""

from __future__ import annotations

import numpy as np

from engine.adjacency import components
from engine.problem import Problem
from engine.tolerance import exceeds, falls_short, slack


def infeasibility_reasons(problem: Problem) -> list[str]:
    """Reasons no plan can exist; empty when none of the checks finds one."""
    reasons: list[str] = []
    reasons += _unit_too_large(problem)
    reasons += _totals_out_of_reach(problem)
    if reasons:
        return reasons
    reasons += _skills_and_capacity(problem)
    reasons += _locks(problem)
    reasons += _frozen(problem)
    if problem.contiguity:
        reasons += _regions(problem)
    return reasons


def _fmt(v: float) -> str:
    return f"{v:,.6g}"


def _unit_too_large(problem: Problem) -> list[str]:
    out: list[str] = []
    for r in np.flatnonzero(problem.balanced):
        a, hi = problem.measures[r], problem.upper[r]
        big = np.flatnonzero(exceeds(a, hi))
        if len(big):
            i = big[np.argmax(a[big])]
            mean = a.sum() / problem.k
            needed = a[i] / mean - 1 if mean > 0 else np.inf
            out.append(
                f"balance: unit {problem.ids[i]} alone has {problem.measure_names[r]} {_fmt(a[i])}, more than "
                f"a territory may hold ({_fmt(hi)}); {len(big)} unit(s) exceed it. "
                f"Loosest fix: a tolerance of at least {needed:.1%} on {problem.measure_names[r]}, or a larger max."
            )
    return out


def _totals_out_of_reach(problem: Problem) -> list[str]:
    out: list[str] = []
    k = problem.k
    for r in np.flatnonzero(problem.balanced):
        total = problem.measures[r].sum()
        lo, hi = problem.lower[r], problem.upper[r]
        # each of the k territories may pass its bound by the evaluator's slack
        if total < k * (lo - slack(lo)) or total > k * (hi + slack(hi)):
            out.append(
                f"balance: the total {problem.measure_names[r]} {_fmt(total)} cannot be split into {k} territories "
                f"each within [{_fmt(lo)}, {_fmt(hi)}] (needs a total between {_fmt(k * lo)} and {_fmt(k * hi)})"
            )
    return out


def _skills_and_capacity(problem: Problem) -> list[str]:
    out: list[str] = []
    if not problem.rep_ids:
        return out
    held = np.bitwise_or.reduce(problem.rep_skills) if len(problem.rep_skills) else np.int64(0)
    for b, skill in enumerate(problem.skill_names if not problem.soft_skills else []):  # soft: a penalty, not a rule
        if held >> b & 1:
            continue
        units = [problem.ids[i] for i in np.flatnonzero(problem.unit_skills >> b & 1)]
        if units:
            out.append(
                f"skills: {len(units)} unit(s) need skill '{skill}' (e.g. {', '.join(units[:5])}) but no rep has it"
            )
    for r, name in enumerate(problem.measure_names):
        total_cap = problem.rep_capacity[:, r].sum()
        total = problem.measures[r].sum()
        if total > (problem.rep_capacity[:, r] + slack(problem.rep_capacity[:, r])).sum():
            out.append(
                f"capacity: the reps' {name} capacities add up to {_fmt(total_cap)}, "
                f"below the total {name} {_fmt(total)}"
            )
    return out


def _locks(problem: Problem) -> list[str]:
    out: list[str] = []
    locked = problem.locks >= 0
    if not locked.any():
        return out
    for r in np.flatnonzero(problem.balanced):
        load = np.bincount(problem.locks[locked], weights=problem.measures[r][locked], minlength=problem.k)
        for t in np.flatnonzero(exceeds(load, problem.upper[r])):
            units = [problem.ids[i] for i in np.flatnonzero(problem.locks == t)[:5]]
            out.append(
                f"lock: units locked to territory {problem.territory_ids[t]} (e.g. {', '.join(units)}) already have "
                f"{problem.measure_names[r]} {_fmt(load[t])}, more than its maximum {_fmt(problem.upper[r])}"
            )
    return out


def _frozen(problem: Problem) -> list[str]:
    """A frozen territory keeps exactly its current units: they must fit the rules and the locks."""
    out: list[str] = []
    if problem.frozen is None or not problem.frozen.any():
        return out
    tids = problem.territory_ids
    for t in np.flatnonzero(problem.frozen):
        members = problem.current == t
        if not members.any():
            out.append(f"frozen: territory {tids[t]} has no current units, so it would stay empty")
            continue
        for r in np.flatnonzero(problem.balanced):
            v = problem.measures[r][members].sum()
            lo, hi = problem.lower[r], problem.upper[r]
            if falls_short(v, lo) or exceeds(v, hi):
                out.append(
                    f"frozen: territory {tids[t]} keeps its current {problem.measure_names[r]} {_fmt(v)}, "
                    f"outside [{_fmt(lo)}, {_fmt(hi)}]"
                )
        leaving = np.flatnonzero(members & (problem.locks >= 0) & (problem.locks != t))
        joining = np.flatnonzero(~members & (problem.locks == t))
        for i in leaving[:5]:
            out.append(
                f"lock/frozen: unit {problem.ids[i]} is locked to {tids[problem.locks[i]]} but its territory "
                f"{tids[t]} is frozen"
            )
        for i in joining[:5]:
            out.append(
                f"lock/frozen: unit {problem.ids[i]} is locked to frozen territory {tids[t]} but is not in it now"
            )
    return out


def _regions(problem: Problem) -> list[str]:
    """With contiguity each connected region of the graph holds a whole number of territories.

    Region c can hold k_c territories only if k_c * lower <= total_c <= k_c * upper for every
    balanced measure; the k_c must add up to k. A small knapsack over regions decides it.
    """
    ncomp, comp = components(problem.adj)
    if ncomp == 1:
        return []
    k = problem.k
    if ncomp > k:
        sizes = np.bincount(comp)
        return [
            f"contiguity: the adjacency graph has {ncomp} separate regions (largest {sizes.max()} units, "
            f"smallest {sizes.min()}) but only {k} territories; each region needs a territory of its own. "
            "Add adjacency links between the regions or allow more territories."
        ]
    bal = np.flatnonzero(problem.balanced)
    allowed: list[set[int]] = []
    out: list[str] = []
    for c in range(ncomp):
        members = comp == c
        ok = set()
        for kc in range(1, k + 1):
            if all(
                kc * (problem.lower[r] - slack(problem.lower[r]))
                <= problem.measures[r][members].sum()
                <= kc * (problem.upper[r] + slack(problem.upper[r]))
                for r in bal
            ):
                ok.add(kc)
        if not ok:
            first = problem.ids[int(np.flatnonzero(members)[0])]
            details = ", ".join(f"{problem.measure_names[r]} {_fmt(problem.measures[r][members].sum())}" for r in bal)
            out.append(
                f"contiguity: the region of {int(members.sum())} connected units containing unit {first} "
                f"({details}) cannot be split into a whole number of territories within the balance bounds"
            )
        allowed.append(ok)
    if out:
        return out
    reachable = {0}
    for ok in allowed:
        reachable = {s + kc for s in reachable for kc in ok if s + kc <= k}
    if k not in reachable:
        return [
            f"contiguity: the adjacency graph has {ncomp} separate regions and no split of the {k} territories "
            "among them keeps every region's territories within the balance bounds"
        ]
    return []
