"""From an evaluation to the plan JSON of the data contract (DESIGN.md section 5)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import numpy as np

from engine.evaluate import Evaluation
from engine.problem import Problem
from engine.tolerance import relative_gap
from models import Plan, PlanAdjacency, PlanKPIs, PlanSkills, TerritoryKPIs, TerritoryPlan, Transfer, UnservedSkill


def _dev(ev: Evaluation, problem: Problem, name: str) -> np.ndarray:
    return ev.deviation[:, problem.measure_index(name)]


def to_plan(
    problem: Problem,
    ev: Evaluation | None,
    *,
    status: str,
    stop_reason: str | None = None,
    method: str | None = None,
    bound: float | None = None,
    bound_source: str | None = None,
    runtime_s: float = 0.0,
    message: str | None = None,
    reps: list[str | None] | None = None,
    regions: list[str] | None = None,
) -> Plan:
    adjacency = PlanAdjacency(source=problem.adjacency_source, notes=list(problem.adjacency_notes))
    if ev is None:
        return Plan(
            scenario=problem.name,
            status=status,
            stop_reason=stop_reason,
            method=method,
            bound=bound,
            bound_source=bound_source,
            runtime_s=round(runtime_s, 3),
            message=message,
            adjacency=adjacency,
        )
    k = problem.k
    if reps is None and ev.rep_of_territory is not None and problem.rep_ids:
        reps = [problem.rep_ids[r] for r in ev.rep_of_territory]  # the reps the evaluator checked
    counts = np.bincount(ev.labels, minlength=k)
    has_current = problem.current >= 0
    before = _before(problem) if has_current.any() else None
    dist_sum = np.bincount(ev.labels, weights=ev.unit_distance, minlength=k)
    wdev, pdev = _dev(ev, problem, "workload"), _dev(ev, problem, "potential")
    skills = _skills(problem, ev)
    unserved_per_territory = Counter(u.territory for u in skills.unserved) if skills else None
    territories = []
    for t in range(k):
        extra: dict[str, float] = {}
        if unserved_per_territory is not None:
            extra["unserved_skills"] = unserved_per_territory[problem.territory_ids[t]]
        for r, name in enumerate(problem.measure_names[2:], start=2):
            extra[name] = float(ev.totals[t, r])
            extra[f"{name}_dev"] = float(ev.deviation[t, r])
        territories.append(
            TerritoryPlan(
                id=problem.territory_ids[t],
                rep=reps[t] if reps else None,
                region=regions[t] if regions else None,
                center=problem.ids[ev.centers[t]] if ev.centers[t] >= 0 else None,
                kpis=TerritoryKPIs(
                    units=int(counts[t]),
                    workload=float(ev.totals[t, 0]),
                    potential=float(ev.totals[t, 1]),
                    workload_dev=float(wdev[t]),
                    potential_dev=float(pdev[t]),
                    mean_distance_km=float(dist_sum[t] / counts[t]) if counts[t] else 0.0,
                    contiguous=bool(ev.pieces[t] == 1),
                    compactness=float(np.bincount(ev.labels, weights=ev.unit_cost, minlength=k)[t]),
                    **extra,
                    **({} if before is None else {f"{key}_before": float(v[t]) for key, v in before.items()}),
                ),
            )
        )
    w = problem.weights
    moved_w = float(w[ev.moved].sum() / w[has_current].sum()) if has_current.any() and w[has_current].sum() > 0 else 0.0
    extra_kpis = {
        f"max_{name}_dev": float(np.abs(ev.deviation[:, r]).max())
        for r, name in enumerate(problem.measure_names[2:], start=2)
    }
    kpis = PlanKPIs(
        max_workload_dev=float(np.abs(wdev).max()),
        max_potential_dev=float(np.abs(pdev).max()),
        compactness=ev.compactness,
        moved_units=int(ev.moved.sum()),
        moved_workload_share=moved_w,
        contiguous=bool((ev.pieces == 1).all()),
        **extra_kpis,
    )
    objective = ev.objective
    gap = relative_gap(objective, bound)
    return Plan(
        scenario=problem.name,
        status=status,
        stop_reason=stop_reason,
        method=method,
        objective=objective,
        bound=bound,
        bound_source=bound_source,
        gap=gap,
        runtime_s=round(runtime_s, 3),
        message=message,
        violations=ev.violations,
        assignment={problem.ids[i]: problem.territory_ids[ev.labels[i]] for i in range(problem.n)},
        territories=territories,
        kpis=kpis,
        transfers=_transfers(problem, ev),
        travel_from=travel_from(problem, ev),
        adjacency=adjacency,
        skills=skills,
    )


def travel_from(problem: Problem, ev: Evaluation) -> str:
    """ "rep_home" when the evaluator measured travel from each territory's rep's home (then the
    territory's `center` is only its median unit, for maps), else "center"."""
    return "rep_home" if problem.rep_centric and ev.rep_of_territory is not None else "center"


def _skills(problem: Problem, ev: Evaluation) -> PlanSkills | None:
    """Skills served and unserved, when units need skills and the territories' reps are known."""
    if ev.unserved is None or not problem.unit_skills.any():
        return None
    unserved = [UnservedSkill(unit=u, skill=s, territory=t, rep=r) for u, s, t, r in ev.unserved_skills(problem)]
    return PlanSkills(
        mode="soft" if problem.soft_skills else "hard",
        penalty_per_skill=problem.skill_penalty,
        unserved_count=len(unserved),
        penalty_total=ev.skill_penalty,
        unserved=unserved,
    )


def _before(problem: Problem) -> dict[str, np.ndarray]:
    """Per-territory totals of the current alignment (units without a current territory left out)."""
    has = problem.current >= 0
    k = problem.k
    out = {"units": np.bincount(problem.current[has], minlength=k).astype(float)}
    for r, name in enumerate(problem.measure_names):
        out[name] = np.bincount(problem.current[has], weights=problem.measures[r][has], minlength=k)
    return out


def _transfers(problem: Problem, ev: Evaluation) -> list[Transfer]:
    tids = problem.territory_ids
    return [
        Transfer(
            unit=problem.ids[i],
            from_territory=tids[problem.current[i]],
            to_territory=tids[ev.labels[i]],
            workload=float(problem.measures[0, i]),
            potential=float(problem.measures[1, i]),
        )
        for i in np.flatnonzero(ev.moved)
    ]


def plan_json(plan: Plan) -> str:
    return json.dumps(plan.model_dump(mode="json", exclude_none=True), indent=1)


def plan_csv(problem: Problem, ev: Evaluation) -> str:
    """One row a unit: id, territory, center, measures, travel distance, the territory's rep and
    where the distance runs from (`distance_from`: rep_home, or center)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "territory", "center", *problem.measure_names, "distance_km", "rep", "distance_from"])
    source = travel_from(problem, ev)
    rep_of = ev.rep_of_territory
    for i in range(problem.n):
        t = ev.labels[i]
        w.writerow(
            [
                problem.ids[i],
                problem.territory_ids[t],
                problem.ids[ev.centers[t]] if ev.centers[t] >= 0 else "",
                *(f"{problem.measures[r, i]:g}" for r in range(len(problem.measure_names))),
                f"{ev.unit_distance[i]:.3f}",
                problem.rep_ids[rep_of[t]] if rep_of is not None and problem.rep_ids else "",
                source,
            ]
        )
    return buf.getvalue()
