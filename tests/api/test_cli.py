"""The command line as a planner uses it: solve, read the KPI table, evaluate the plan."""

import json

from typer.testing import CliRunner

from api.cli import app
from tests.instances import EXAMPLE, grid_scenario

runner = CliRunner()


def test_solve_grid_writes_feasible_plan_and_evaluate_agrees(tmp_path):
    scenario = tmp_path / "grid.json"
    scenario.write_text(json.dumps(grid_scenario(4, 4, 4, balance=[{"measure": "workload", "tolerance": 0.0}])))
    plan_path = tmp_path / "plan.json"
    result = runner.invoke(
        app,
        [
            "solve",
            str(scenario),
            "--out",
            str(plan_path),
            "--time-limit",
            "20",
            "-q",
            "--csv",
            str(tmp_path / "plan.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(plan_path.read_text())
    assert plan["status"] in ("optimal", "feasible")
    assert len(plan["assignment"]) == 16
    assert sorted(set(plan["assignment"].values())) == ["T1", "T2", "T3", "T4"]
    assert all(t["kpis"]["units"] == 4 and t["kpis"]["contiguous"] for t in plan["territories"])
    assert "T1" in result.output and "status" in result.output
    assert (tmp_path / "plan.csv").read_text().count("\n") == 17
    result = runner.invoke(app, ["evaluate", str(scenario), str(plan_path)])
    assert result.exit_code == 0, result.output


def test_infeasible_scenario_exit_1_with_reason_and_plan_file(tmp_path):
    data = grid_scenario(2, 3, 3, balance=[{"measure": "workload", "tolerance": 0.05}])
    data["units"][0]["workload"] = 50
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(data))
    plan_path = tmp_path / "plan.json"
    result = runner.invoke(app, ["solve", str(scenario), "--out", str(plan_path), "-q"])
    assert result.exit_code == 1, result.output
    plan = json.loads(plan_path.read_text())
    assert plan["status"] == "infeasible"
    assert "unit 0-0 alone has workload 50" in plan["message"]


def test_evaluate_reports_broken_rules_of_a_hand_edited_plan(tmp_path):
    scenario = tmp_path / "grid.json"
    scenario.write_text(json.dumps(grid_scenario(2, 2, 2, balance=[{"measure": "workload", "tolerance": 0.0}])))
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps({"assignment": {"0-0": "T1", "1-1": "T1", "0-1": "T2", "1-0": "T2"}}))
    result = runner.invoke(app, ["evaluate", str(scenario), str(plan_path)])
    assert result.exit_code == 1
    assert "contiguity: territory T1 is in 2 pieces" in result.output


def test_bad_method_is_an_input_error(tmp_path):
    result = runner.invoke(app, ["solve", str(EXAMPLE), "--method", "magic", "-q", "--out", str(tmp_path / "p.json")])
    assert result.exit_code == 2 and "--method" in result.output


def test_sweep_writes_the_frontier(tmp_path):
    from tests.instances import perturbed_grid

    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(perturbed_grid()))
    result = runner.invoke(
        app,
        [
            "sweep",
            str(scenario),
            "--tolerances",
            "0,0.25,0.55",
            "--disruption-weights",
            "1000",
            "--method",
            "heuristic",
            "--out-dir",
            str(tmp_path / "front"),
        ],
    )
    assert result.exit_code == 0, result.output
    plans = sorted((tmp_path / "front").glob("plan_*.json"))
    assert len(plans) == 3
    moved = [json.loads(p.read_text())["kpis"]["moved_units"] for p in plans]
    assert moved == sorted(moved, reverse=True) and moved[-1] == 0
    result = runner.invoke(app, ["sweep", str(scenario), "--tolerances", "x"])
    assert result.exit_code == 2 and "--tolerances" in result.output
