"""Reps assigned to designed territories: skills, capacity, kept accounts; transfers listed."""

import numpy as np

from engine.evaluate import evaluate
from engine.io import parse_scenario
from engine.problem import build_problem
from engine.report import to_plan
from solvers.assign_reps import assign_reps
from solvers.precheck import infeasibility_reasons
from tests.instances import grid_scenario


def scenario_with_reps():
    """
    2x4 grid, k = 2, left half T1, right half T2:    0-0 0-1 | 0-2 0-3
    unit 0-3 needs 'medical'; only rep 'east' has it  1-0 1-1 | 1-2 1-3
    """
    data = grid_scenario(2, 4, 2)
    for u in data["units"]:
        u["current"] = "T1" if int(u["id"][-1]) < 2 else "T2"
    data["units"][3]["skills"] = ["medical"]
    data["reps"] = [
        {"id": "west", "lat": 40.05, "lon": -89.95, "current": "T1"},
        {"id": "east", "lat": 40.05, "lon": -89.75, "skills": ["medical"], "current": "T2"},
    ]
    return data


def test_reps_keep_their_accounts_and_skills_are_respected():
    problem = build_problem(parse_scenario(scenario_with_reps()))
    labels = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    ev = evaluate(problem, labels)
    a = assign_reps(problem, ev)
    assert [problem.rep_ids[r] for r in a.rep_of_territory] == ["west", "east"]
    assert a.kept_accounts == 8
    assert evaluate(problem, labels, rep_of_territory=a.rep_of_territory).feasible
    # swapping reps breaks the skill rule, and the evaluator says which unit
    bad = evaluate(problem, labels, rep_of_territory=np.array([1, 0]))
    assert any("skills: unit 0-3 needs medical but rep west" in v for v in bad.violations)


def test_two_territories_need_a_skill_only_one_rep_has():
    problem = build_problem(parse_scenario(scenario_with_reps()))
    labels = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    problem.unit_skills[0] = problem.unit_skills[3]  # 0-0 (in T1) needs medical too
    a = assign_reps(problem, evaluate(problem, labels))
    assert a.rep_of_territory is None
    assert "need skill 'medical' but only 1 rep(s) have it (east)" in a.message


def test_skill_nobody_has_and_capacity_below_total_are_infeasible():
    data = scenario_with_reps()
    data["units"][5]["skills"] = ["spanish"]
    data["reps"][0]["capacity"] = {"workload": 2}
    data["reps"][1]["capacity"] = {"workload": 3}
    reasons = " ".join(infeasibility_reasons(build_problem(parse_scenario(data))))
    assert "need skill 'spanish' (e.g. 1-1) but no rep has it" in reasons
    assert "capacities add up to 5, below the total workload 8" in reasons


def test_tier_derives_workload():
    data = grid_scenario(1, 2, 1)
    data["tiers"] = {
        "A": {"visits_per_year": 24, "hours_per_visit": 1.5},
        "C": {"visits_per_year": 4, "hours_per_visit": 1},
    }
    for u in data["units"]:
        del u["workload"]
    data["units"][0]["tier"] = "A"
    data["units"][1]["tier"] = "C"
    problem = build_problem(parse_scenario(data))
    assert list(problem.weights) == [36.0, 4.0]


def test_transfers_and_before_after_kpis():
    problem = build_problem(parse_scenario(scenario_with_reps()))
    labels = np.array([0, 0, 0, 1, 0, 0, 1, 1])  # 0-2 moves T2 -> T1
    plan = to_plan(problem, evaluate(problem, labels), status="feasible")
    assert [(t.unit, t.from_territory, t.to_territory) for t in plan.transfers] == [("0-2", "T2", "T1")]
    dumped = plan.model_dump(mode="json")
    assert dumped["transfers"][0]["from"] == "T2"
    t1 = plan.territories[0].kpis.model_dump()
    assert t1["units_before"] == 4 and t1["units"] == 5
    assert plan.kpis.moved_units == 1
