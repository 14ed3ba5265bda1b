"""The scenario's `adjacency_rule` (rook/queen, tolerance in metres) reaches the boundary
derivation, is validated with messages naming the field, and never overrides an explicit
`adjacency`.

A 3x3 grid of 0.01-degree squares, ids c0..c8 row by row from the south-west:

    c6 c7 c8
    c3 c4 c5
    c0 c1 c2
"""

from __future__ import annotations

import pytest

from engine.io import parse_scenario
from engine.problem import build_problem
from models import ScenarioError
from tests.engine.polygon_shapes import M_PER_DEG_LAT, edge_set, grid_edges, square_units


def grid_scenario_with_boundaries(rows: int = 3, cols: int = 3, grow: float = 0.0, **extra) -> dict:
    return {"name": "squares", "territories": 2, "units": square_units(rows, cols, grow=grow), **extra}


def test_default_and_rook_are_the_4_neighbourhood_queen_the_8():
    default = build_problem(parse_scenario(grid_scenario_with_boundaries()))
    rook = build_problem(parse_scenario(grid_scenario_with_boundaries(adjacency_rule={"rule": "rook"})))
    queen = build_problem(parse_scenario(grid_scenario_with_boundaries(adjacency_rule={"rule": "queen"})))
    assert edge_set(default.adj) == edge_set(rook.adj) == grid_edges(3, 3, diagonals=False)
    assert edge_set(queen.adj) == grid_edges(3, 3, diagonals=True)
    assert "(queen, tolerance 10 m)" in queen.adjacency_notes[0]


def test_tolerance_decides_whether_a_gap_is_a_border():
    """Cells shrunk to leave 100 m gaps: at 10 m they touch nothing and are joined by reported
    links; at 120 m they share borders again."""
    gap = -50 / M_PER_DEG_LAT
    narrow = build_problem(parse_scenario(grid_scenario_with_boundaries(2, 2, grow=gap)))
    wide = build_problem(
        parse_scenario(grid_scenario_with_boundaries(2, 2, grow=gap, adjacency_rule={"tolerance_m": 120}))
    )
    assert "neighbour links added" in narrow.adjacency_notes[-1]
    assert edge_set(wide.adj) == grid_edges(2, 2, diagonals=False)
    assert not any("links added" in note for note in wide.adjacency_notes)
    assert "(rook, tolerance 120 m)" in wide.adjacency_notes[0]


def test_rule_without_boundaries_says_it_has_no_effect():
    data = grid_scenario_with_boundaries(adjacency_rule={"rule": "queen"})
    for unit in data["units"]:
        del unit["geometry"]
    problem = build_problem(parse_scenario(data))
    assert problem.adjacency_source == "locations"
    assert any("adjacency_rule has no effect" in note for note in problem.adjacency_notes)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"rule": "bishop"}, "adjacency_rule.rule: Input should be 'rook' or 'queen'"),
        ({"tolerance_m": -1}, "adjacency_rule.tolerance_m: Input should be greater than or equal to 0"),
        ({"tolerance_m": 1e9}, "adjacency_rule.tolerance_m: Input should be less than or equal to 10000"),
        ({"rule": "queen", "tolerance": 5}, "adjacency_rule.tolerance: unknown field"),
        ("queen", "adjacency_rule: Input should be a valid dictionary"),
    ],
)
def test_bad_rule_names_the_field(rule, message):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(grid_scenario_with_boundaries(adjacency_rule=rule))
    assert message in str(err.value)


def test_rule_with_explicit_adjacency_is_refused_and_explicit_adjacency_alone_still_works():
    data = grid_scenario_with_boundaries(adjacency=[["c0", "c1"], ["c1", "c2"]])
    problem = build_problem(parse_scenario(data))
    assert problem.adjacency_source == "given" and edge_set(problem.adj) == {(0, 1), (1, 2)}
    with pytest.raises(ScenarioError, match="adjacency_rule: applies only when adjacency is derived"):
        parse_scenario({**data, "adjacency_rule": {"rule": "queen"}})
