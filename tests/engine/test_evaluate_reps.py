"""Rep-centric evaluation: travel from the home of each territory's rep, the shared
territory -> rep mapping, and locks to a rep."""

import numpy as np
import pytest

from engine.evaluate import evaluate
from engine.geo import haversine_km
from engine.io import parse_scenario
from engine.problem import build_problem
from tests.instances import grid_scenario


def two_reps(power=1) -> dict:
    """
    1x4 path 0-0 .. 0-3 (workloads 1, 2, 3, 4); rep 'w' lives west of 0-0, rep 'e' east of 0-3.
    """
    data = grid_scenario(1, 4, 2)
    for i, u in enumerate(data["units"]):
        u["workload"] = float(i + 1)
    data["reps"] = [{"id": "w", "lat": 40.0, "lon": -90.2}, {"id": "e", "lat": 40.0, "lon": -89.5}]
    data["objective"] = {"distance_power": power}
    return data


@pytest.mark.parametrize("power", [1, 2])
def test_travel_is_measured_from_the_rep_home(power):
    problem = build_problem(parse_scenario(two_reps(power)))
    labels = np.array([0, 0, 1, 1])
    ev = evaluate(problem, labels)
    home_lon = np.array([-90.2, -90.2, -89.5, -89.5])
    d = haversine_km(problem.lat, problem.lon, np.full(4, 40.0), home_lon)
    assert ev.unit_distance == pytest.approx(d)
    assert ev.compactness == pytest.approx(float((problem.weights * d**power).sum()))
    assert ev.objective == pytest.approx(ev.compactness)
    # swapping the reps is another plan: every unit now travels from the far home
    swapped = evaluate(problem, labels, rep_of_territory=np.array([1, 0]))
    assert swapped.objective > ev.objective
    # without reps the same labels are measured from the best unit center (unchanged behaviour)
    plain = evaluate(problem.without_reps(), labels)
    assert plain.rep_of_territory is None
    assert plain.objective < ev.objective


def test_rep_without_current_territory_and_lock_to_it_share_one_mapping():
    """Rep 'w' has no current territory, rep 'e' currently serves T1: the mapping gives T1 to
    'e' and T2 to 'w', and a unit locked to rep 'w' is locked to T2."""
    data = two_reps()
    for u in data["units"]:
        u["current"] = "T1" if u["id"] in ("0-2", "0-3") else "T2"
    data["reps"][1]["current"] = "T1"
    data["units"][0]["lock"] = "w"
    problem = build_problem(parse_scenario(data))
    assert [problem.rep_ids[r] for r in problem.rep_of_territories()] == ["e", "w"]
    assert problem.locks[0] == problem.territory_ids.index("T2")
    ev = evaluate(problem, np.array([1, 1, 0, 0]))
    assert ev.feasible, ev.violations
    assert ev.unit_distance[0] == pytest.approx(haversine_km(40.0, -90.0, 40.0, -90.2))
