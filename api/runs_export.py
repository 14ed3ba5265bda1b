"""A stored run plan back to numbers: CSV and GeoJSON exports, and per-unit measures for comparisons.

A plan stores only ids; the exports rebuild the run's scenario version and re-evaluate the
assignment with the one evaluator (deterministic, so centers and distances are those of the plan).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.evaluate import Evaluation, evaluate
from engine.io import parse_scenario
from engine.problem import Problem, build_problem


def problem_of(scenario: dict[str, Any]) -> Problem:
    return build_problem(parse_scenario(scenario))


def labels_of(problem: Problem, assignment: dict[str, str]) -> np.ndarray:
    """Territory index per unit from a stored plan's assignment (written by the solver: ids are known)."""
    tindex = {t: i for i, t in enumerate(problem.territory_ids)}
    return np.array([tindex[assignment[u]] for u in problem.ids], dtype=np.int64)


def evaluation_of(problem: Problem, plan: dict[str, Any]) -> Evaluation:
    return evaluate(problem, labels_of(problem, plan["assignment"]))


def plan_geojson(
    problem: Problem,
    ev: Evaluation,
    plan: dict[str, Any],
    names: dict[str, str],
    geometries: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A FeatureCollection of units with territory, rep, center flag, measures and distance to the center.

    A unit's feature is its boundary (`geometries`: the scenario's Polygon or MultiPolygon by unit
    id) when the scenario gives one, else its location as a Point; `lat`/`lon` are in the
    properties either way, so a polygon's unit keeps the point the solver measured from.
    """
    geometries = geometries or {}
    rep_of = {t["id"]: t.get("rep") for t in plan.get("territories", [])}
    center_of = {t["id"]: t.get("center") for t in plan.get("territories", [])}
    features = []
    for i, uid in enumerate(problem.ids):
        tid = problem.territory_ids[ev.labels[i]]
        props: dict[str, Any] = {"id": uid}
        if uid in names:
            props["name"] = names[uid]
        props.update(territory=tid, rep=rep_of.get(tid), center=center_of.get(tid) == uid)
        props.update({name: float(problem.measures[r, i]) for r, name in enumerate(problem.measure_names)})
        props["distance_km"] = round(float(ev.unit_distance[i]), 3)
        point = [float(problem.lon[i]), float(problem.lat[i])]
        shape = geometries.get(uid)
        if shape is not None:
            props.update(lon=point[0], lat=point[1])
            geometry = {"type": shape["type"], "coordinates": shape["coordinates"]}
        else:
            geometry = {"type": "Point", "coordinates": point}
        features.append({"type": "Feature", "id": uid, "geometry": geometry, "properties": props})
    return {
        "type": "FeatureCollection",
        "name": plan.get("scenario"),
        "properties": {"status": plan.get("status"), "objective": plan.get("objective")},
        "features": features,
    }
