"""Instance generators shared by the tests and the benchmarks (benchmarks import them from
here, never the other way round). Each returns a scenario dict, as a user would write it."""

from engine.io import parse_scenario
from engine.problem import Problem, build_problem
from tests.instances.counties import county_scenario, districting_scenario, graph_scenario
from tests.instances.grids import grid_scenario, perturbed_grid, rep_grid, skill_grid, weighted_grid
from tests.instances.paths import DISTRICTING, EXAMPLE, REPO, SHARED_DATA
from tests.instances.points import long_points, points_scenario, square_points, synthetic_scenario
from tests.instances.polygons import polygon_grid
from tests.instances.reps import rep_customers


def problem_of(data: dict) -> Problem:
    """The solvers' problem of a scenario dict, validated as the CLI and the API validate it."""
    return build_problem(parse_scenario(data))


__all__ = [
    "DISTRICTING",
    "EXAMPLE",
    "REPO",
    "SHARED_DATA",
    "county_scenario",
    "districting_scenario",
    "graph_scenario",
    "grid_scenario",
    "long_points",
    "perturbed_grid",
    "points_scenario",
    "polygon_grid",
    "problem_of",
    "rep_customers",
    "rep_grid",
    "skill_grid",
    "square_points",
    "synthetic_scenario",
    "weighted_grid",
]
