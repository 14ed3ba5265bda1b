"""Skills as a hard rule or, when the scenario says so, a penalty per unserved skill.

Brute force over every labelled plan of tiny grids proves the exact soft-skill optimum (and
that the model's bound is valid for the evaluator's objective); a property test checks that
hard skills are never broken by any method; prechecks and the rep assignment follow the mode.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.evaluate import evaluate
from engine.io import parse_scenario
from engine.problem import build_problem
from models import ScenarioError, SolveOptions
from solvers.assign_reps import assign_reps
from solvers.precheck import infeasibility_reasons
from solvers.solve import solve
from tests.brute_force import brute_optimum
from tests.instances import grid_scenario, skill_grid


@pytest.mark.parametrize("penalty,seed,k", [(1.0, 0, 2), (30.0, 1, 2), (5.0, 2, 2), (3.0, 3, 3), (0.5, 4, 3)])
def test_exact_soft_skill_optimum_equals_brute_optimum(penalty, seed, k):
    problem = build_problem(parse_scenario(skill_grid(penalty, 2, 4, k, seed)))
    assert problem.soft_skills
    best, _ = brute_optimum(problem)
    out = solve(problem, SolveOptions(method="exact", time_limit_s=30))
    assert out.result.status == "optimal", out.result.message
    assert out.result.objective == pytest.approx(best, rel=1e-9)
    assert out.evaluation.objective == pytest.approx(best, rel=1e-9)
    # model and evaluator measure the same objective, so the model's bound is reported and valid
    assert out.result.bound is not None and out.result.bound <= best * (1 + 1e-9)
    assert out.result.bound == pytest.approx(best, rel=1e-6)


def test_a_cheap_penalty_changes_the_plan_and_a_dear_one_does_not():
    """The penalty is really traded against travel: with a tiny penalty the optimum leaves a
    skill unserved (cheaper travel), with a huge penalty it serves every skill, as hard mode."""
    hard = build_problem(parse_scenario(skill_grid(None, seed=0)))
    cheap = build_problem(parse_scenario(skill_grid(1e-6, seed=0)))
    dear = build_problem(parse_scenario(skill_grid(1e9, seed=0)))
    hard_best, _ = brute_optimum(hard)
    cheap_best, cheap_lab = brute_optimum(cheap)
    dear_best, dear_lab = brute_optimum(dear)
    assert cheap_best < hard_best - 1e-6
    assert len(evaluate(cheap, cheap_lab).unserved_skills(cheap)) >= 1
    assert evaluate(dear, dear_lab).unserved_skills(dear) == []
    assert dear_best == pytest.approx(hard_best, rel=1e-9)


def test_soft_mode_lists_unserved_skills_and_prices_them_hard_mode_breaks():
    data = skill_grid(7.0)
    soft = build_problem(parse_scenario(data))
    hard = build_problem(parse_scenario(skill_grid(None)))
    labels = np.array([0, 0, 1, 1, 0, 0, 1, 1])  # 0-0 (needs med) with r0, who lacks it
    ev_soft, ev_hard = evaluate(soft, labels), evaluate(hard, labels)
    assert ev_soft.feasible
    assert ev_soft.unserved_skills(soft) == [("0-0", "med", "T1", "r0")]
    assert ev_soft.skill_penalty == 7.0
    assert ev_soft.objective == pytest.approx(ev_hard.objective + 7.0)
    assert ev_soft.compactness == pytest.approx(ev_hard.compactness)
    assert not ev_hard.feasible
    assert any("skills: unit 0-0 needs med but rep r0 of territory T1 lacks it" in v for v in ev_hard.violations)


def test_skill_nobody_holds_is_infeasible_only_when_hard():
    data = skill_grid(None)
    data["units"][3]["skills"] = ["spanish"]
    assert any("need skill 'spanish'" in r for r in infeasibility_reasons(build_problem(parse_scenario(data))))
    data["skills"] = {"mode": "soft", "penalty": 2.0}
    problem = build_problem(parse_scenario(data))
    assert infeasibility_reasons(problem) == []
    for method in ("exact", "heuristic"):
        out = solve(problem, SolveOptions(method=method, time_limit_s=20))
        assert out.result.status in ("optimal", "feasible"), (method, out.result.message)
        assert ("0-3", "spanish") in [(u, s) for u, s, _, _ in out.evaluation.unserved_skills(problem)]


def test_assign_reps_prices_skills_in_soft_mode_instead_of_forbidding():
    """Two designed territories need 'med', one rep has it: hard mode has no assignment, soft
    mode pays one penalty (the assignment with the lower objective)."""
    labels = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    hard = build_problem(parse_scenario(skill_grid(None)))
    hard.unit_skills[4] = hard.unit_skills[0]
    design = evaluate(hard.without_reps(), labels)
    assert assign_reps(hard, design).rep_of_territory is None
    soft = build_problem(parse_scenario(skill_grid(3.0)))
    soft.unit_skills[4] = soft.unit_skills[0]
    a = assign_reps(soft, evaluate(soft.without_reps(), labels))
    assert a.rep_of_territory is not None
    options = [np.array(p) for p in ([0, 1], [1, 0])]
    costs = [evaluate(soft, labels, rep_of_territory=p).objective for p in options]
    assert list(a.rep_of_territory) == list(options[int(np.argmin(costs))])


@pytest.mark.parametrize(
    "skills,fragment",
    [
        ({"mode": "soft"}, "mode 'soft' needs 'penalty'"),
        ({"mode": "hard", "penalty": 3}, "'penalty' applies only with mode 'soft'"),
        ({"mode": "soft", "penalty": -1}, "skills.penalty"),
        ({"mode": "sometimes", "penalty": 1}, "skills.mode"),
    ],
)
def test_bad_skill_rule_is_named(skills, fragment):
    data = skill_grid(None)
    data["skills"] = skills
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert fragment in str(info.value)


# ---- property: hard skills are never broken -----------------------------------------------
@st.composite
def skill_scenarios(draw):
    rows, cols = draw(st.integers(2, 5)), draw(st.integers(3, 6))
    k = draw(st.integers(2, 3))
    data = grid_scenario(rows, cols, k)
    n = rows * cols
    for u in data["units"]:
        u["workload"] = float(draw(st.integers(1, 3)))
    skills = ["med", "lab"]
    for i in draw(st.lists(st.integers(0, n - 1), max_size=4, unique=True)):
        data["units"][i]["skills"] = [draw(st.sampled_from(skills))]
    data["balance"] = [{"measure": "workload", "tolerance": draw(st.sampled_from([0.3, 0.6, 1.0]))}]
    data["reps"] = [
        {
            "id": f"r{t}",
            "lat": 40 + 0.1 * draw(st.integers(0, rows - 1)),
            "lon": -90 + 0.1 * draw(st.integers(0, cols - 1)),
            "skills": draw(st.lists(st.sampled_from(skills), max_size=2, unique=True)),
        }
        for t in range(k)
    ]
    return data, draw(st.sampled_from(["exact", "heuristic"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(skill_scenarios())
def test_hard_mode_never_serves_a_skill_unit_with_a_rep_lacking_it(case):
    data, method = case
    problem = build_problem(parse_scenario(data))
    out = solve(problem, SolveOptions(method=method, time_limit_s=10))
    if out.result.status not in ("optimal", "feasible"):
        assert out.result.status in ("infeasible", "no_solution"), out.result.message
        return
    labels, rep_of = out.result.labels, out.rep_of_territory
    need = problem.unit_skills
    held = problem.rep_skills[rep_of[labels]]
    assert ((need & ~held) == 0).all(), f"{method}: a unit is served by a rep lacking its skill"
    assert evaluate(problem, labels).feasible
