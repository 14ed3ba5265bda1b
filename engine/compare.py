"""Comparing the plans of runs of one scenario: KPIs side by side, per-territory deltas, unit moves.

Without a current alignment, territory ids are labels a solver picked (T3 of one run may be
T7 of another), so the other runs' territories are first matched to the base run's by the
largest shared workload (an assignment problem); with a current alignment the ids mean
something and are compared as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.problem import Problem


def territory_matching(problem: Problem, base: dict[str, str], other: dict[str, str]) -> dict[str, str]:
    """Other run's territory id -> base run's, maximizing the workload both put together."""
    tids = problem.territory_ids
    index = {t: i for i, t in enumerate(tids)}
    weight = problem.measures[0] + 1e-9  # units without workload still count a little
    overlap = np.zeros((len(tids), len(tids)))
    for i, uid in enumerate(problem.ids):
        if uid in base and uid in other:
            overlap[index[other[uid]], index[base[uid]]] += weight[i]
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return {tids[r]: tids[c] for r, c in zip(rows, cols)}


def _numeric(kpis: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in kpis.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def compare_plans(
    problem: Problem, runs: list[dict[str, Any]], plans: list[dict[str, Any]], *, match: bool
) -> dict[str, Any]:
    """`runs[0]` is the base; every other run is diffed against it. `runs` are RunPublic dicts."""
    base_id, base_plan = runs[0]["id"], plans[0]
    base_assignment = base_plan["assignment"]
    maps: list[dict[str, str] | None] = [None]
    assignments = [base_assignment]
    for plan in plans[1:]:
        mapping = territory_matching(problem, base_assignment, plan["assignment"]) if match else None
        maps.append(mapping)
        assignments.append(
            plan["assignment"] if mapping is None else {u: mapping[t] for u, t in plan["assignment"].items()}
        )

    summary = []
    kpi_names: list[str] = []
    for run, plan, mapping in zip(runs, plans, maps):
        kpis = plan.get("kpis") or {}
        kpi_names += [k for k in kpis if k not in kpi_names]
        summary.append(
            {
                **{
                    k: run[k]
                    for k in (
                        "id",
                        "scenario_version",
                        "state",
                        "status",
                        "method",
                        "seed",
                        "objective",
                        "bound",
                        "gap",
                        "elapsed_s",
                    )
                },
                "kpis": kpis,
                "territory_map": mapping,
            }
        )
    side_by_side = {
        name: {run["id"]: (plan.get("kpis") or {}).get(name) for run, plan in zip(runs, plans)} for name in kpi_names
    }
    side_by_side["objective"] = {run["id"]: plan.get("objective") for run, plan in zip(runs, plans)}

    territories = []
    by_run = []
    for plan, mapping in zip(plans, maps):
        rows = {t["id"]: t for t in plan.get("territories", [])}
        by_run.append({(mapping or {}).get(tid, tid): row for tid, row in rows.items()})
    for tid in problem.territory_ids:
        base_row = by_run[0].get(tid)
        entry: dict[str, Any] = {"id": tid, "runs": {}, "deltas": {}}
        for run, rows, mapping in zip(runs, by_run, maps):
            row = rows.get(tid)
            if row is None:
                continue
            entry["runs"][run["id"]] = {"rep": row.get("rep"), "center": row.get("center"), **row["kpis"]}
            if mapping is not None:
                entry["runs"][run["id"]]["territory"] = next(k for k, v in mapping.items() if v == tid)
            if run["id"] != base_id and base_row is not None:
                base_kpis, kpis = _numeric(base_row["kpis"]), _numeric(row["kpis"])
                entry["deltas"][run["id"]] = {k: kpis[k] - base_kpis[k] for k in kpis if k in base_kpis}
        territories.append(entry)

    measure = {name: problem.measures[r] for r, name in enumerate(problem.measure_names)}
    position = {u: i for i, u in enumerate(problem.ids)}
    totals = {name: float(values.sum()) for name, values in measure.items()}
    diffs = []
    for run, assignment in zip(runs[1:], assignments[1:]):
        units: list[dict[str, Any]] = []
        flows: dict[tuple[str, str], dict[str, Any]] = {}
        moved = {name: 0.0 for name in measure}
        for uid in problem.ids:
            a, b = base_assignment.get(uid), assignment.get(uid)
            if a is None or b is None or a == b:
                continue
            i = position[uid]
            values = {name: float(v[i]) for name, v in measure.items()}
            units.append({"unit": uid, "from": a, "to": b, **values})
            flow = flows.setdefault((a, b), {"from": a, "to": b, "units": 0, **{name: 0.0 for name in measure}})
            flow["units"] += 1
            for name, v in values.items():
                flow[name] += v
                moved[name] += v
        diffs.append(
            {
                "run": run["id"],
                "against": base_id,
                "moved_units": len(units),
                "moved": moved,
                "moved_share": {name: (moved[name] / totals[name] if totals[name] else 0.0) for name in measure},
                "flows": sorted(flows.values(), key=lambda f: (-f["units"], f["from"], f["to"])),
                "units": units,
            }
        )
    return {
        "base_run": base_id,
        "matched_territories": match,
        "runs": summary,
        "kpis": side_by_side,
        "territories": territories,
        "diffs": diffs,
    }
