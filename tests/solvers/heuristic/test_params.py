"""The heuristic's parameters: a frozen dataclass that rejects a bad value naming the field,
and solve_heuristic takes them (the defaults give the same plan as none)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.evaluate import evaluate
from models import SolveOptions
from solvers.clock import Clock
from solvers.heuristic import HeuristicParams, solve_heuristic
from tests.instances import problem_of, weighted_grid

FIELDS = dataclasses.fields(HeuristicParams)


def test_defaults_are_valid_and_frozen():
    p = HeuristicParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.jump_rounds = 3  # type: ignore[misc]
    assert dataclasses.replace(p, jump_rounds=3).jump_rounds == 3


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
def test_a_bad_value_raises_naming_the_field(field):
    for bad in (-1, "3", None, True, float("nan")):
        with pytest.raises(ValueError, match=rf"HeuristicParams\.{field.name}\b"):
            HeuristicParams(**{field.name: bad})
    if field.type == "int":
        with pytest.raises(ValueError, match=rf"HeuristicParams\.{field.name}\b"):
            HeuristicParams(**{field.name: 2.5})


@pytest.mark.parametrize(
    "low,high",
    [
        ("min_starts", "max_starts"),
        ("ils_trees_min", "ils_trees_max"),
        ("split_trees", "split_trees_max"),
        ("lns_all_centers_units", "lns_max_units"),
    ],
)
def test_a_lower_limit_above_its_upper_limit_is_refused(low, high):
    with pytest.raises(ValueError, match=rf"HeuristicParams\.{low}"):
        HeuristicParams(**{low: getattr(HeuristicParams(), high) + 1})


def test_probabilities_and_shares_stay_within_one():
    for name in ("chain_violating_share", "lp_band"):
        with pytest.raises(ValueError, match=name):
            HeuristicParams(**{name: 1.5})


def test_solve_heuristic_takes_params():
    problem = problem_of(weighted_grid(5, 6, 3, tol=0.1, seed=4))
    opts = SolveOptions(method="heuristic", time_limit_s=30, seed=2)
    default = solve_heuristic(problem, opts, Clock(30))
    same = solve_heuristic(problem, opts, Clock(30), params=HeuristicParams())
    assert np.array_equal(default.labels, same.labels) and default.objective == same.objective
    other = solve_heuristic(
        problem,
        opts,
        Clock(30),
        params=HeuristicParams(min_starts=1, max_starts=1, ils_iter=5, lns_max_units_per_territory=0),
    )
    assert other.status == "feasible" and evaluate(problem, other.labels).feasible
