"""What the plan says besides the assignment: where contiguity came from (and what its
derivation assumed), which skills go unserved, and where travel is measured from."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from engine.evaluate import evaluate
from engine.geo import haversine_km
from engine.io import parse_scenario
from engine.problem import build_problem
from engine.report import plan_csv, plan_json, to_plan
from models import Plan
from tests.engine.polygon_shapes import island_scenario
from tests.instances import grid_scenario, skill_grid


def plan_of(data: dict, labels) -> tuple[Plan, dict]:
    problem = build_problem(parse_scenario(data))
    plan = to_plan(problem, evaluate(problem, np.asarray(labels)), status="feasible")
    as_json = json.loads(plan_json(plan))
    assert Plan.model_validate(as_json) == plan  # what the file says reads back as the same plan
    return plan, as_json


def test_adjacency_source_and_links_added_reach_the_plan():
    _, plan = plan_of(island_scenario(), [0] * 5 + [1] * 5)
    adjacency = plan["adjacency"]
    assert adjacency["source"] == "polygons"
    assert "12 shared borders among 10 units" in adjacency["notes"][0]
    assert "1 neighbour link added" in adjacency["notes"][-1] and "'c5'-'island' (" in adjacency["notes"][-1]


def test_adjacency_of_a_plan_without_assignment_is_still_reported():
    problem = build_problem(parse_scenario(island_scenario()))
    plan = json.loads(plan_json(to_plan(problem, None, status="infeasible", message="no plan")))
    assert plan["adjacency"]["source"] == "polygons" and "'c5'-'island'" in plan["adjacency"]["notes"][-1]


def test_given_and_location_adjacency_have_no_notes():
    _, given = plan_of(grid_scenario(2, 2, 2), [0, 0, 1, 1])
    assert given["adjacency"] == {"source": "given", "notes": []}
    data = grid_scenario(2, 2, 2)
    del data["adjacency"]
    _, located = plan_of(data, [0, 0, 1, 1])
    assert located["adjacency"] == {"source": "locations", "notes": []}


def test_soft_skills_unserved_list_penalty_and_per_territory_counts():
    """skill_grid: 2x4 grid, reps r0 (west, no skills) and r1 (east, med); 0-0 and 1-3 need med.
    T1 = west half (served by r0) holds 0-0: one unserved skill."""
    labels = [0, 0, 1, 1, 0, 0, 1, 1]
    plan, as_json = plan_of(skill_grid(7.0), labels)
    assert as_json["skills"] == {
        "mode": "soft",
        "penalty_per_skill": 7.0,
        "unserved_count": 1,
        "penalty_total": 7.0,
        "unserved": [{"unit": "0-0", "skill": "med", "territory": "T1", "rep": "r0"}],
    }
    assert [t["kpis"]["unserved_skills"] for t in as_json["territories"]] == [1, 0]
    # a plan that serves every skill: 1-3 and 0-0 both with r1
    flipped = [1, 0, 0, 0, 1, 0, 0, 1]
    problem = build_problem(parse_scenario(skill_grid(7.0)))
    ev = evaluate(problem, np.array(flipped))
    served = to_plan(problem, ev, status="feasible")
    assert served.skills.unserved_count == 0 and served.skills.penalty_total == 0.0 and served.skills.unserved == []


def test_hard_skills_list_what_breaks_the_plan_and_no_skills_no_block():
    plan, as_json = plan_of(skill_grid(None), [0, 0, 1, 1, 0, 0, 1, 1])
    assert as_json["skills"]["mode"] == "hard" and "penalty_per_skill" not in as_json["skills"]
    assert as_json["skills"]["unserved"] == [{"unit": "0-0", "skill": "med", "territory": "T1", "rep": "r0"}]
    assert any(v.startswith("skills: unit 0-0 needs med") for v in plan.violations)
    data = skill_grid(None)
    for unit in data["units"]:
        unit.pop("skills", None)
    _, no_skills = plan_of(data, [0, 0, 1, 1, 0, 0, 1, 1])
    assert "skills" not in no_skills and "unserved_skills" not in no_skills["territories"][0]["kpis"]


def test_travel_from_rep_home_matches_the_distances_reported():
    """With reps, mean_distance_km runs from the rep's home, not from the `center` unit."""
    data = skill_grid(7.0)
    labels = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    plan, as_json = plan_of(data, labels)
    assert as_json["travel_from"] == "rep_home"
    for t, territory in enumerate(as_json["territories"]):
        rep = next(r for r in data["reps"] if r["id"] == territory["rep"])
        members = [u for u, label in zip(data["units"], labels) if label == t]
        from_home = np.mean([haversine_km(u["lat"], u["lon"], rep["lat"], rep["lon"]) for u in members])
        assert territory["kpis"]["mean_distance_km"] == pytest.approx(from_home)
        center = next(u for u in data["units"] if u["id"] == territory["center"])
        from_center = np.mean([haversine_km(u["lat"], u["lon"], center["lat"], center["lon"]) for u in members])
        assert territory["kpis"]["mean_distance_km"] != pytest.approx(from_center)


def test_travel_from_center_without_reps_and_in_the_csv():
    _, plan = plan_of(grid_scenario(2, 2, 2), [0, 0, 1, 1])
    assert plan["travel_from"] == "center"
    problem = build_problem(parse_scenario(skill_grid(7.0)))
    rows = list(csv.DictReader(io.StringIO(plan_csv(problem, evaluate(problem, np.array([0, 0, 1, 1, 0, 0, 1, 1]))))))
    assert {(r["territory"], r["rep"], r["distance_from"]) for r in rows} == {
        ("T1", "r0", "rep_home"),
        ("T2", "r1", "rep_home"),
    }
    plain = build_problem(parse_scenario(grid_scenario(2, 2, 2)))
    rows = list(csv.DictReader(io.StringIO(plan_csv(plain, evaluate(plain, np.array([0, 0, 1, 1]))))))
    assert {(r["rep"], r["distance_from"]) for r in rows} == {("", "center")}
