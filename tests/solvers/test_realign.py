"""Realignment with the heuristic (solvers.realign): from a drifted alignment, a plan inside the
cap when one is found, the fewest moves found named when the cap is below them, and every
status, message and bound judged on the problem as stated."""

from __future__ import annotations

import numpy as np
import pytest

from engine.evaluate import evaluate
from solvers import SolveOptions, solve
from tests.instances import problem_of
from tests.instances.realignment import drift, metro_customers, with_current


@pytest.fixture(scope="module")
def drifted() -> dict:
    """300 customers around four metros, 4 territories (workload +-10 %, potential +-20 %): a
    designed plan, then 3 % of the units moved by hand (one rule broken), as the current
    alignment. Above 150 units, so `auto` and `heuristic` both run the heuristic."""
    data = metro_customers(300, 4, seed=3, workload_tol=0.1, potential_tol=0.2)
    problem = problem_of(data)
    design = solve(problem, SolveOptions(method="heuristic", time_limit_s=20, seed=0)).result
    assert design.status == "feasible", design.message
    current = drift(problem, design.labels, 0.03, seed=3)
    data = with_current(data, problem.territory_ids, current)
    assert not evaluate(problem_of(data), current).feasible  # the drift broke a rule
    return data


def _moved(outcome) -> int:
    return int(outcome.evaluation.moved.sum())


def test_a_cap_that_admits_a_plan_gets_one(drifted):
    problem = problem_of({**drifted, "disruption": {"max_moved_share": 0.06}})
    out = solve(problem, SolveOptions(time_limit_s=20, seed=0))
    assert out.result.status == "feasible", out.result.message
    assert out.evaluation.feasible and _moved(out) <= problem.moved_cap
    assert out.result.details["fewest_moves_found"] <= problem.moved_cap


def test_a_cap_below_the_fewest_moves_found_says_so_and_returns_that_plan(drifted):
    problem = problem_of({**drifted, "disruption": {"max_moved_share": 0.0}})
    out = solve(problem, SolveOptions(time_limit_s=20, seed=0))
    result = out.result
    assert result.status == "no_solution" and result.labels is not None
    fewest = result.details["fewest_moves_found"]
    assert fewest == _moved(out) > problem.moved_cap == 0
    assert f"allows 0 moved units, but the fewest moves found that keep every other rule are {fewest}" in result.message
    violations = out.evaluation.violations
    assert violations and all(v.startswith("disruption:") for v in violations)  # only the cap is broken


def test_fewest_moved_units_is_judged_on_the_problem_as_stated(drifted):
    """The search prices moves far above travel; the plan is judged as the planner asked: its
    objective is the moved units, no travel bound is attached, the message is the final one."""
    problem = problem_of({**drifted, "objective": {"minimize": "moved"}})
    out = solve(problem, SolveOptions(method="heuristic", time_limit_s=20, seed=0))
    result = out.result
    assert result.status == "feasible" and result.message is None, result.message
    assert result.objective == _moved(out) and result.bound is None
    capped = solve(problem_of({**drifted, "disruption": {"max_moved_share": 0.06}}), SolveOptions(time_limit_s=20))
    assert _moved(out) <= capped.result.details["fewest_moves_found"]


def test_progress_of_the_fewest_moves_search_hides_its_priced_objective(drifted):
    problem = problem_of({**drifted, "objective": {"minimize": "moved"}})
    events = []
    solve(problem, SolveOptions(method="heuristic", time_limit_s=20, seed=0), on_progress=events.append)
    searched = [e for e in events if e.message.startswith("realignment: ")]
    assert searched and all(e.objective is None for e in searched)
    assert all(e.objective is None or e.objective < 1e9 for e in events)
    for e in searched:
        if e.labels is not None:  # renumbered to the current territories
            assert (np.asarray(e.labels) == problem.current).mean() > 0.5
