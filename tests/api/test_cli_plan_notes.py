"""The CLI tells the planner what the plan file says besides the KPI table: links added to
connect boundaries that do not touch, unserved skills, and where travel runs from."""

import json

from typer.testing import CliRunner

from api.cli import app
from tests.engine.polygon_shapes import island_scenario
from tests.instances import grid_scenario, skill_grid

runner = CliRunner()


def solve(tmp_path, data: dict, *args: str):
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(data))
    plan_path = tmp_path / "plan.json"
    result = runner.invoke(app, ["solve", str(scenario), "--out", str(plan_path), "-q", "--time-limit", "20", *args])
    return result, json.loads(plan_path.read_text())


def test_links_added_between_boundaries_are_printed_and_in_the_plan(tmp_path):
    result, plan = solve(tmp_path, island_scenario())
    assert result.exit_code == 0, result.output
    assert plan["adjacency"]["source"] == "polygons"
    assert "adjacency (polygons): 1 neighbour link added" in result.output
    assert "'c5'-'island' (" in result.output and " km)" in result.output


def test_given_adjacency_prints_no_adjacency_line(tmp_path):
    result, plan = solve(tmp_path, grid_scenario(2, 2, 2))
    assert result.exit_code == 0, result.output
    assert plan["adjacency"] == {"source": "given", "notes": []} and plan["travel_from"] == "center"
    assert "adjacency (" not in result.output and "unserved" not in result.output and "mean km" in result.output


def test_soft_skills_unserved_are_printed_and_travel_runs_from_homes(tmp_path):
    """Nobody speaks Spanish, so unit 0-3 goes unserved in every plan."""
    data = skill_grid(2.0)
    data["units"][3]["skills"] = ["spanish"]
    result, plan = solve(tmp_path, data, "--method", "exact")
    assert result.exit_code == 0, result.output
    skills = plan["skills"]
    assert skills["mode"] == "soft" and any(u["unit"] == "0-3" and u["skill"] == "spanish" for u in skills["unserved"])
    assert skills["penalty_total"] == 2.0 * skills["unserved_count"]
    assert f"skills (soft): {skills['unserved_count']} unserved, penalty {skills['penalty_total']:g}" in result.output
    assert "'0-3' needs spanish (" in result.output
    header = next(line for line in result.output.splitlines() if "territory" in line)
    assert header.split()[-4:] == ["home", "km", "contig", "unserved"]  # travel from homes, unserved skills
    rows = [line.split() for line in result.output.splitlines() if line.strip().startswith("T")]
    assert sum(int(row[-1]) for row in rows) == skills["unserved_count"]  # the table's per-territory counts add up
    assert plan["travel_from"] == "rep_home"
    assert "travel is measured from each rep's home" in result.output
