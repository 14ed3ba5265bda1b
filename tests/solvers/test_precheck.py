from engine.io import parse_scenario
from engine.problem import build_problem
from solvers.precheck import infeasibility_reasons
from tests.instances import grid_scenario


def problem_of(data):
    return build_problem(parse_scenario(data))


def test_unit_heavier_than_a_territory_is_named_with_the_loosest_fix():
    data = grid_scenario(2, 3, 3, balance=[{"measure": "workload", "tolerance": 0.05}])
    data["units"][4]["workload"] = 10.0
    reasons = infeasibility_reasons(problem_of(data))
    assert any("unit 1-1 alone has workload 10" in r and "tolerance of at least" in r for r in reasons), reasons


def test_absolute_bounds_out_of_reach():
    data = grid_scenario(2, 2, 2, balance=[{"measure": "potential", "min": 3, "max": 4}])
    reasons = infeasibility_reasons(problem_of(data))
    assert any("total potential 4 cannot be split into 2 territories" in r for r in reasons), reasons


def test_too_many_islands():
    data = grid_scenario(1, 4, 2)
    data["adjacency"] = []
    reasons = infeasibility_reasons(problem_of(data))
    assert any("4 separate regions" in r for r in reasons), reasons


def test_island_that_cannot_hold_whole_territories():
    """Two islands of 3 and 1 units, k = 2, workload +-10 %: the small island is 1, a territory needs 1.8..2.2."""
    data = grid_scenario(1, 4, 2, balance=[{"measure": "workload", "tolerance": 0.1}])
    data["adjacency"] = [["0-0", "0-1"], ["0-1", "0-2"]]
    reasons = infeasibility_reasons(problem_of(data))
    assert any("region of 1 connected units containing unit 0-3" in r for r in reasons), reasons


def test_locks_exceeding_a_territory():
    data = grid_scenario(2, 2, 2, balance=[{"measure": "workload", "tolerance": 0.0}])
    for u in data["units"][:3]:
        u["lock"] = "T1"
    reasons = infeasibility_reasons(problem_of(data))
    assert any("units locked to territory T1" in r for r in reasons), reasons


def test_feasible_scenario_has_no_reasons():
    assert (
        infeasibility_reasons(problem_of(grid_scenario(3, 3, 3, balance=[{"measure": "workload", "tolerance": 0}])))
        == []
    )
