"""Tiers derive workload: visits a year x (hours a visit + travel hours a visit)."""

import pytest

from engine.io import parse_scenario
from engine.problem import build_problem
from models import ScenarioError
from tests.instances import grid_scenario


def tiered(tiers: dict) -> dict:
    """1x3 grid: units 0-0 (tier A), 0-1 (tier C), 0-2 (workload 7 given, tier A ignored)."""
    data = grid_scenario(1, 3, 1)
    data["tiers"] = tiers
    for u in data["units"][:2]:
        del u["workload"]
    data["units"][0]["tier"] = "A"
    data["units"][1]["tier"] = "C"
    data["units"][2]["tier"] = "A"
    data["units"][2]["workload"] = 7.0
    return data


def test_travel_time_adds_to_each_visit():
    data = tiered(
        {
            "A": {"visits_per_year": 24, "hours_per_visit": 1.5, "travel_hours_per_visit": 0.75},
            "C": {"visits_per_year": 4, "hours_per_visit": 1},
        }
    )
    problem = build_problem(parse_scenario(data))
    assert list(problem.weights) == [24 * 2.25, 4.0, 7.0]


def test_travel_time_defaults_to_zero():
    data = tiered(
        {"A": {"visits_per_year": 10, "hours_per_visit": 2}, "C": {"visits_per_year": 4, "hours_per_visit": 1}}
    )
    scenario = parse_scenario(data)
    assert scenario.tiers["A"].travel_hours_per_visit == 0.0
    assert list(build_problem(scenario).weights) == [20.0, 4.0, 7.0]


@pytest.mark.parametrize(
    "tier,fragments",
    [
        (
            {"visits_per_year": 4, "hours_per_visit": 1, "travel_hours_per_visit": -0.5},
            ["tiers.C.travel_hours_per_visit", "greater than or equal to 0"],
        ),
        (
            {"visits_per_year": 4, "hours_per_visit": 1, "travel_hours_per_visit": float("nan")},
            ["tiers.C.travel_hours_per_visit"],
        ),
        (
            {"visits_per_year": 4, "hours_per_visit": 1, "travel_hours_per_visit": "long"},
            ["tiers.C.travel_hours_per_visit", "valid number"],
        ),
        ({"visits_per_year": 4, "hours_per_visit": 1, "travel_hours": 0.5}, ["tiers.C.travel_hours", "unknown field"]),
        ({"visits_per_year": -1, "hours_per_visit": 1}, ["tiers.C.visits_per_year", "greater than or equal to 0"]),
        ({"visits_per_year": 4}, ["tiers.C.hours_per_visit", "Field required"]),
    ],
)
def test_bad_tier_names_field_and_tier(tier, fragments):
    data = tiered({"A": {"visits_per_year": 10, "hours_per_visit": 2}, "C": tier})
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    for fragment in fragments:
        assert fragment in str(info.value)
