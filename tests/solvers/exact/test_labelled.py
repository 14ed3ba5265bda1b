"""The territory-indexed exact model (reps with homes, realignment) against brute force over
every labelled assignment, a property test on random small realignments, and infeasible
combinations named in the message."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.evaluate import evaluate
from engine.geo import haversine_km
from engine.io import parse_scenario
from engine.problem import build_problem
from models import SolveOptions
from solvers.clock import Clock
from solvers.exact.labelled import solve_exact_labelled
from solvers.solve import solve
from tests.brute_force import feasible_plans
from tests.instances import grid_scenario


def fixed_center_cost(problem, rep_of, labels):
    d = haversine_km(problem.lat, problem.lon, problem.rep_lat[rep_of[labels]], problem.rep_lon[rep_of[labels]])
    moved = ((problem.current >= 0) & (labels != problem.current)).sum()
    return float((problem.weights * d**problem.distance_power).sum() + problem.disruption_weight * moved)


def tiny(rows, cols, k, seed, reps=False, minimize="compactness", tol=0.34):
    """
    rows x cols grid (ids 'r-c'), random workloads 1..3, current alignment in vertical stripes
    (column c -> T(c * k // cols + 1)), one unit locked, optionally reps with random homes,
    one skill 'med' needed by two units and held by one rep, and a workload capacity.
    """
    rng = np.random.default_rng(seed)
    data = grid_scenario(rows, cols, k)
    for u in data["units"]:
        r, c = map(int, u["id"].split("-"))
        u["workload"] = float(rng.integers(1, 4))
        u["current"] = f"T{c * k // cols + 1}"
    data["units"][int(rng.integers(len(data["units"])))]["lock"] = f"T{int(rng.integers(k)) + 1}"
    data["balance"] = [{"measure": "workload", "tolerance": tol}]
    data["objective"] = {"minimize": minimize, "disruption_weight": 3.0, "distance_power": 1}
    if reps:
        for i in rng.choice(len(data["units"]), 2, replace=False):
            data["units"][int(i)]["skills"] = ["med"]
        holder = int(rng.integers(k))
        total = sum(u["workload"] for u in data["units"])
        data["reps"] = [
            {
                "id": f"r{t}",
                "lat": 40 + 0.1 * rng.uniform(0, rows - 1),
                "lon": -90 + 0.1 * rng.uniform(0, cols - 1),
                "skills": ["med"] if t == holder else [],
                "current": f"T{t + 1}",
                "capacity": {"workload": float(np.ceil(total / k * 1.2))},
            }
            for t in range(k)
        ]
    return build_problem(parse_scenario(data))


@pytest.mark.parametrize("rows,cols,k,seed", [(2, 4, 2, 0), (2, 4, 3, 1), (3, 3, 2, 2), (2, 4, 2, 3), (3, 3, 3, 4)])
def test_min_moved_equals_brute_force(rows, cols, k, seed):
    problem = tiny(rows, cols, k, seed, minimize="moved", tol=0.2)
    feasible = list(feasible_plans(problem))
    res = solve_exact_labelled(problem, SolveOptions(time_limit_s=20), Clock(20))
    if not feasible:
        assert res.status == "infeasible", res
        return
    moved = [int(((problem.current >= 0) & (lab != problem.current)).sum()) for lab in feasible]
    best = min(moved)
    assert res.status == "optimal", res.message
    assert res.objective == best == res.bound
    assert evaluate(problem, res.labels).feasible
    # the tie-break: the most compact plan (fixed centers of the current territories) among the fewest moves
    from solvers.exact.labelled_data import plan_compactness, prepare_labelled

    prep = prepare_labelled(problem)
    tie = min(plan_compactness(prep, lab) for lab, mv in zip(feasible, moved) if mv == best)
    assert res.details["compactness_proved"]
    assert plan_compactness(prep, res.labels) == pytest.approx(tie, rel=1e-9)


@pytest.mark.parametrize("rows,cols,k,seed", [(2, 4, 2, 5), (2, 4, 3, 6), (3, 3, 2, 7), (2, 3, 2, 14), (3, 3, 3, 9)])
def test_fixed_centers_with_skills_and_capacity_equal_brute_force(rows, cols, k, seed):
    problem = tiny(rows, cols, k, seed, reps=True)
    rep_of = problem.rep_of_territories()
    assert [problem.rep_ids[r] for r in rep_of] == [f"r{t}" for t in range(k)]  # rep r_t currently serves T(t+1)
    feasible = list(feasible_plans(problem, rep_of))
    res = solve_exact_labelled(problem, SolveOptions(time_limit_s=20), Clock(20))
    if not feasible:
        assert res.status == "infeasible", res
        return
    best = min(fixed_center_cost(problem, rep_of, lab) for lab in feasible)
    assert res.status == "optimal", res.message
    assert res.objective == pytest.approx(best, rel=1e-7)
    assert fixed_center_cost(problem, rep_of, res.labels) == pytest.approx(best, rel=1e-7)
    assert evaluate(problem, res.labels, rep_of_territory=rep_of).feasible


def test_solve_serves_each_territory_by_its_rep_without_reassignment():
    problem = tiny(2, 4, 2, 11, reps=True)
    out = solve(problem, SolveOptions(method="exact", time_limit_s=20))
    assert out.result.method == "exact/labelled"
    assert out.result.status == "optimal"
    assert list(out.rep_of_territory) == list(problem.rep_of_territories())
    assert out.evaluation.feasible


# ---- property: every plan returned as feasible keeps every rule -------------------------
@st.composite
def realignments(draw):
    rows, cols = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    k = draw(st.integers(2, 3))
    data = grid_scenario(rows, cols, k)
    n = rows * cols
    for u in data["units"]:
        r, c = map(int, u["id"].split("-"))
        u["workload"] = float(draw(st.integers(1, 3)))
        u["current"] = f"T{draw(st.integers(1, k))}" if draw(st.integers(0, 3)) == 0 else f"T{c * k // cols + 1}"
    for i in draw(st.lists(st.integers(0, n - 1), max_size=3, unique=True)):
        data["units"][i]["skills"] = ["med"]
    for i in draw(st.lists(st.integers(0, n - 1), max_size=2, unique=True)):
        u = data["units"][i]
        u["lock"] = u["current"] if draw(st.booleans()) else f"T{draw(st.integers(1, k))}"
    data["units"][0]["current"] = "T1"
    data["units"][-1]["current"] = f"T{k}"  # every territory id appears
    data["balance"] = [{"measure": "workload", "tolerance": draw(st.sampled_from([0.2, 0.4, 0.8]))}]
    data["reps"] = [
        {
            "id": f"r{t}",
            "lat": 40 + 0.1 * draw(st.integers(0, rows - 1)),
            "lon": -90 + 0.1 * draw(st.integers(0, cols - 1)),
            "skills": ["med"] if t == 0 or draw(st.booleans()) else [],
            "current": f"T{t + 1}",
        }
        for t in range(k)
    ]
    data["objective"] = {"minimize": draw(st.sampled_from(["moved", "compactness"])), "disruption_weight": 5.0}
    data["disruption"] = {
        "max_moved_share": draw(st.sampled_from([None, 0.2, 0.5])),
        "frozen": [f"T{k}"] if draw(st.integers(0, 4)) == 0 else [],
    }
    return data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(realignments())
def test_feasible_plans_keep_skills_locks_frozen_and_the_moved_cap(data):
    problem = build_problem(parse_scenario(data))
    out = solve(problem, SolveOptions(method="exact", time_limit_s=10))
    if out.result.status not in ("optimal", "feasible"):
        assert out.result.status == "infeasible", out.result.message
        assert out.result.message
        return
    labels, rep_of = out.result.labels, out.rep_of_territory
    assert evaluate(problem, labels, rep_of_territory=rep_of).feasible
    need = problem.unit_skills != 0
    assert ((problem.rep_skills[rep_of[labels[need]]] & problem.unit_skills[need]) == problem.unit_skills[need]).all()
    locked = problem.locks >= 0
    assert (labels[locked] == problem.locks[locked]).all()
    for t in np.flatnonzero(problem.frozen):
        assert ((labels == t) == (problem.current == t)).all()
    if problem.max_moved_share is not None:
        moved = ((problem.current >= 0) & (labels != problem.current)).sum()
        assert moved <= problem.max_moved_share * (problem.current >= 0).sum() + 1e-9


# ---- infeasible combinations named --------------------------------------------------------
def path_scenario(n=4, k=2, tol=0.0):
    """1 x n path a-b-c-d..., workload 1 each, current T1 = first half."""
    data = grid_scenario(1, n, k)
    for u in data["units"]:
        u["current"] = "T1" if int(u["id"].split("-")[1]) < n // 2 else "T2"
    data["balance"] = [{"measure": "workload", "tolerance": tol}]
    data["objective"] = {"minimize": "moved"}
    return data


def test_locked_load_above_the_maximum_names_the_lock_and_territory():
    data = path_scenario(6, 2)
    for u in data["units"][:4]:
        u["lock"] = "T1"
    out = solve(build_problem(parse_scenario(data)), SolveOptions(method="exact", time_limit_s=10))
    assert out.result.status == "infeasible"
    assert "lock: units locked to territory T1 (e.g. 0-0, 0-1, 0-2, 0-3)" in out.result.message


def test_locks_too_far_apart_for_one_territory_are_named():
    data = path_scenario(6, 2)
    data["units"][0]["lock"] = "T1"
    data["units"][5]["lock"] = "T1"
    res = solve_exact_labelled(build_problem(parse_scenario(data)), SolveOptions(time_limit_s=10), Clock(10))
    assert res.status == "infeasible"
    assert "both fixed to territory T1" in res.message and "0-0" in res.message and "0-5" in res.message


def test_moved_cap_that_breaks_balance_is_named():
    data = path_scenario(4, 2)
    data["units"][1]["current"] = "T2"  # T1 = {0-0}, T2 = {0-1, 0-2, 0-3}: balance needs one move
    data["disruption"] = {"max_moved_share": 0.0}
    res = solve_exact_labelled(build_problem(parse_scenario(data)), SolveOptions(time_limit_s=10), Clock(10))
    assert res.status == "infeasible"
    assert "without max_moved_share 0 a plan exists" in res.message


def test_frozen_territory_never_changes_and_the_evaluator_says_so():
    data = path_scenario(6, 3, tol=0.4)
    for u in data["units"]:
        u["current"] = {0: "T1", 1: "T1", 2: "T1", 3: "T2", 4: "T3", 5: "T3"}[int(u["id"][-1])]
    data["disruption"] = {"frozen": ["T3"]}
    problem = build_problem(parse_scenario(data))
    res = solve_exact_labelled(problem, SolveOptions(time_limit_s=10), Clock(10))
    assert res.status == "optimal" and res.objective == 1  # 0-2 moves to T2; T3 may not take 0-3
    assert list(res.labels) == [0, 0, 1, 1, 2, 2]
    ev = evaluate(problem, np.array([0, 0, 1, 2, 2, 2]))
    assert "frozen: territory T3 changed (0 unit(s) left, 1 joined)" in ev.violations


def test_skill_no_rep_has_is_named():
    problem = tiny(2, 4, 2, 12, reps=True)
    problem.unit_skills[3] |= 1 << 5  # a skill bit no rep holds
    res = solve_exact_labelled(problem, SolveOptions(time_limit_s=10), Clock(10))
    assert res.status == "infeasible" and "skills: unit 0-3" in res.message


def test_cancelled_before_solving_returns_the_warm_start_or_nothing():
    import threading

    problem = tiny(2, 4, 2, 0, minimize="moved", tol=0.2)
    cancel = threading.Event()
    cancel.set()
    res = solve_exact_labelled(problem, SolveOptions(time_limit_s=10), Clock(10, None, cancel))
    assert res.status in ("cancelled", "feasible") and res.stop_reason == "cancelled"


def test_heuristic_path_with_reps_designs_then_assigns():
    problem = tiny(2, 4, 2, 11, reps=True)
    out = solve(problem, SolveOptions(method="heuristic", time_limit_s=2, seed=0))
    assert out.result.method != "exact/labelled"
    if out.result.status in ("optimal", "feasible"):
        assert evaluate(problem, out.result.labels, rep_of_territory=out.rep_of_territory).feasible


@pytest.mark.slow
def test_iowa_counties_realigned_with_the_fewest_moves_and_a_frontier(shared_data):
    from models import Scenario
    from solvers.sweep import frontier, sweep
    from tests.instances.realignment import county_realignment, perturb

    base = build_problem(Scenario.model_validate(county_realignment("19", 4, 0.05)))
    balanced = solve(base, SolveOptions(method="heuristic", time_limit_s=20, seed=0))
    current = perturb(base, balanced.result.labels, 0.25, 0)
    sc = county_realignment("19", 4, 0.05, current=[base.territory_ids[t] for t in current], minimize="moved")
    problem = build_problem(Scenario.model_validate(sc))
    assert np.abs(evaluate(problem, current).deviation[:, 0]).max() > 0.2
    out = solve(problem, SolveOptions(method="exact", time_limit_s=120))
    assert out.result.status == "optimal" and out.result.details["moved_proved_minimal"]
    assert out.evaluation.feasible
    assert int(out.evaluation.moved.sum()) == out.result.objective == out.result.bound
    points = sweep(
        problem, SolveOptions(method="exact", time_limit_s=7 * 20), tolerances=[0.25, 0.2, 0.15, 0.1, 0.075, 0.05, 0.03]
    )
    front = frontier(problem, points)
    assert len(front) >= 5
    assert all(p.evaluation.feasible for p in front)
