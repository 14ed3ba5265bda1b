"""Regions solved top-down: every region contiguous and balanced, territories nested inside."""

import numpy as np

from engine.evaluate import evaluate
from engine.io import parse_scenario
from engine.problem import build_problem
from engine.report import to_plan
from models import SolveOptions
from solvers.hierarchy import region_problem
from solvers.solve import solve
from tests.instances import grid_scenario


def test_regions_are_contiguous_balanced_and_nest_territories():
    data = grid_scenario(6, 8, 8, balance=[{"measure": "workload", "tolerance": 0.0}], regions=2)
    problem = build_problem(parse_scenario(data))
    outcome = solve(problem, SolveOptions(method="heuristic", time_limit_s=20, seed=1))
    assert outcome.result.status == "feasible", outcome.result.message
    assert outcome.evaluation.feasible
    region_of_unit = outcome.region_of_territory[outcome.evaluation.labels]
    region_ev = evaluate(region_problem(problem), region_of_unit)
    assert region_ev.feasible, region_ev.violations  # each region: 24 units, connected
    plan = to_plan(problem, outcome.evaluation, status="feasible", regions=outcome.region_ids(problem))
    assert sorted({t.region for t in plan.territories}) == ["R1", "R2"]
    assert np.bincount(outcome.region_of_territory).tolist() == [4, 4]


def test_regions_must_divide_territories():
    data = grid_scenario(2, 3, 3, regions=2)
    try:
        parse_scenario(data)
    except ValueError as e:
        assert "regions: 2 regions must divide the 3 territories" in str(e)
    else:
        raise AssertionError("expected a validation error")


def test_regions_with_reps_are_renumbered_to_the_reps_serving_them():
    """Regions and territories are designed without the reps; reps are then assigned (skills
    hard: the one 'med' unit must get the one 'med' rep) and each territory carries the id of
    its rep's territory, regions following their territories."""
    data = grid_scenario(6, 8, 4, balance=[{"measure": "workload", "tolerance": 0.0}], regions=2)
    data["units"][47]["skills"] = ["med"]
    data["reps"] = [
        {"id": f"r{t}", "lat": 40 + 0.5 * (t // 2), "lon": -90 + 0.7 * (t % 2), "skills": ["med"] if t == 0 else []}
        for t in range(4)
    ]
    problem = build_problem(parse_scenario(data))
    outcome = solve(problem, SolveOptions(method="heuristic", time_limit_s=30, seed=1))
    assert outcome.result.status == "feasible", outcome.result.message
    labels = outcome.result.labels
    ev = evaluate(problem, labels)  # the shared territory -> rep mapping, travel from homes
    assert ev.feasible, ev.violations
    assert outcome.result.objective == ev.objective
    assert problem.rep_ids[outcome.rep_of_territory[labels[47]]] == "r0"
    region_of_unit = outcome.region_of_territory[labels]
    assert evaluate(region_problem(problem), region_of_unit).feasible
    assert np.bincount(outcome.region_of_territory).tolist() == [2, 2]
