"""From an evaluation to the plan JSON of the data contract (DESIGN.md section 5)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from engine.evaluate import Evaluation
from engine.problem import Problem
from models import Plan, PlanKPIs, TerritoryKPIs, TerritoryPlan


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
) -> Plan:
    if ev is None:
        return Plan(
            scenario=problem.name, status=status, stop_reason=stop_reason, method=method,
            bound=bound, bound_source=bound_source, runtime_s=round(runtime_s, 3), message=message,
        )
    k = problem.k
    counts = np.bincount(ev.labels, minlength=k)
    dist_sum = np.bincount(ev.labels, weights=ev.unit_distance, minlength=k)
    wdev, pdev = _dev(ev, problem, "workload"), _dev(ev, problem, "potential")
    territories = []
    for t in range(k):
        extra = {}
        for r, name in enumerate(problem.measure_names[2:], start=2):
            extra[name] = float(ev.totals[t, r])
            extra[f"{name}_dev"] = float(ev.deviation[t, r])
        territories.append(
            TerritoryPlan(
                id=problem.territory_ids[t],
                rep=reps[t] if reps else None,
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
                ),
            )
        )
    has_current = problem.current >= 0
    w = problem.weights
    moved_w = float(w[ev.moved].sum() / w[has_current].sum()) if has_current.any() and w[has_current].sum() > 0 else 0.0
    extra_kpis = {f"max_{name}_dev": float(np.abs(ev.deviation[:, r]).max()) for r, name in enumerate(problem.measure_names[2:], start=2)}
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
    gap = None
    if bound is not None and objective is not None:
        gap = 0.0 if objective <= bound or objective == 0 else (objective - bound) / abs(objective)
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
    )


def plan_json(plan: Plan) -> str:
    return json.dumps(plan.model_dump(mode="json", exclude_none=True), indent=1)


def plan_csv(problem: Problem, ev: Evaluation) -> str:
    """One row a unit: id, territory, center, measures, distance to the center."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "territory", "center", *problem.measure_names, "distance_km"])
    for i in range(problem.n):
        t = ev.labels[i]
        w.writerow(
            [problem.ids[i], problem.territory_ids[t], problem.ids[ev.centers[t]] if ev.centers[t] >= 0 else "",
             *(f"{problem.measures[r, i]:g}" for r in range(len(problem.measure_names))), f"{ev.unit_distance[i]:.3f}"]
        )
    return buf.getvalue()
