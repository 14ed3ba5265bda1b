import json

import numpy as np
import pytest

from engine.evaluate import evaluate
from engine.io import load_assignment, load_scenario
from engine.problem import build_problem
from engine.report import plan_csv, plan_json, to_plan
from models import Plan, ScenarioError


def test_units_and_reps_csv(tmp_path):
    (tmp_path / "units.csv").write_text(
        "id,lat,lon,workload,potential,skills,accounts\n"
        "a,40.0,-90.0,2,100,medical;dental,3\n"
        "b,40.1,-90.0,1,50,,1\n"
        "c,40.0,-90.1,1,,,2\n"
    )
    (tmp_path / "reps.csv").write_text("id,lat,lon,skills,capacity_workload\nr1,40,-90,medical,10\nr2,40.1,-90.1,,5\n")
    s = load_scenario(tmp_path / "units.csv", territories=2, reps_csv=tmp_path / "reps.csv")
    assert [u.id for u in s.units] == ["a", "b", "c"]
    assert s.units[0].skills == ["medical", "dental"] and s.units[0].attributes == {"accounts": 3.0}
    assert s.units[2].potential == 0.0
    assert s.reps[0].capacity == {"workload": 10.0}
    problem = build_problem(s)
    assert problem.measure_names == ["workload", "potential", "accounts"]
    assert problem.adjacency_derived and problem.adj.nnz == 6


def test_csv_bad_number_names_line_and_column(tmp_path):
    (tmp_path / "units.csv").write_text("id,lat,lon,workload\na,40,-90,1\nb,40,-90,lots\n")
    with pytest.raises(ScenarioError, match=r"units.csv line 3 \(id 'b'\).workload: 'lots' is not a number"):
        load_scenario(tmp_path / "units.csv", territories=1)


def test_csv_missing_column(tmp_path):
    (tmp_path / "units.csv").write_text("id,latitude,lon\na,40,-90\n")
    with pytest.raises(ScenarioError, match="missing column.*lat"):
        load_scenario(tmp_path / "units.csv", territories=1)


def test_csv_from_a_european_spreadsheet_with_semicolons_decimal_commas_and_empty_rows(tmp_path):
    """Excel in a German or French locale writes ';'-separated CSV with decimal commas, a byte
    order mark, Windows line ends and rows of empty cells where cells were once formatted."""
    text = "id;lat;lon;workload;potential;name\r\nZürich-1;47,37;8,54;2;100,5;Café\r\nb;47,4;8,5;1;50;\r\n;;;;;\r\n"
    (tmp_path / "units.csv").write_bytes(text.encode("utf-8-sig"))
    s = load_scenario(tmp_path / "units.csv", territories=1)
    assert [u.id for u in s.units] == ["Zürich-1", "b"]
    assert (s.units[0].lat, s.units[0].lon, s.units[0].potential, s.units[0].name) == (47.37, 8.54, 100.5, "Café")


def test_csv_that_is_not_utf8_is_refused_naming_the_line(tmp_path):
    (tmp_path / "units.csv").write_bytes("id,lat,lon,name\r\na,40,-90,x\r\nb,40,-90,Café\r\n".encode("cp1252"))
    with pytest.raises(ScenarioError, match=r"units.csv line 3: not UTF-8 text \(byte 0xe9\)"):
        load_scenario(tmp_path / "units.csv", territories=1)


def test_csv_errors_name_the_files_own_line_across_blank_lines(tmp_path):
    (tmp_path / "units.csv").write_text("id,lat,lon,workload\na,40,-90,1\n\n\nb,40.1,-90,lots\n")
    with pytest.raises(ScenarioError, match=r"units.csv line 5 \(id 'b'\).workload: 'lots' is not a number"):
        load_scenario(tmp_path / "units.csv", territories=1)
    (tmp_path / "units.csv").write_text("id,lat,lon,workload\na,40,-90,1\n\nb,40.1,-90,-2\n")
    with pytest.raises(ScenarioError, match=r"units.csv line 4 \(id 'b'\).workload: Input should be greater"):
        load_scenario(tmp_path / "units.csv", territories=1)


def test_csv_row_with_more_cells_than_the_header_is_refused(tmp_path):
    """An unquoted comma inside a value shifts every later cell; reading on would file the
    row's values under the wrong columns. Empty trailing cells (spreadsheet exports) pass."""
    (tmp_path / "units.csv").write_text("id,lat,lon,name\na,40,-90,Smith\nb,40.1,-90,Jones, Inc\nc,40,-90.1,x,,\n")
    with pytest.raises(
        ScenarioError,
        match=r"units.csv line 3 \(id 'b'\): 5 cells but the header names 4 columns "
        r"\(extra ' Inc'\)",
    ):
        load_scenario(tmp_path / "units.csv", territories=1)
    (tmp_path / "units.csv").write_text("id,lat,lon,name\na,40,-90,Smith\nc,40,-90.1,x,,\n")
    assert [u.name for u in load_scenario(tmp_path / "units.csv", territories=1).units] == ["Smith", "x"]


def test_plan_round_trip_through_json_and_assignment(tmp_path, example_dict):
    problem = build_problem(load_scenario_from_dict(tmp_path, example_dict))
    labels = np.arange(problem.n) % problem.k
    ev = evaluate(problem, labels)
    plan = to_plan(problem, ev, status="feasible" if ev.feasible else "infeasible")
    path = tmp_path / "plan.json"
    path.write_text(plan_json(plan))
    again = Plan.model_validate(json.loads(path.read_text()))
    assert again.assignment == plan.assignment
    assert (load_assignment(problem, path) == labels).all()
    rows = plan_csv(problem, ev).splitlines()
    assert rows[0].startswith("id,territory,center,workload,potential") and len(rows) == problem.n + 1


def test_plan_with_unknown_territory_is_rejected(tmp_path, example_dict):
    problem = build_problem(load_scenario_from_dict(tmp_path, example_dict))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"assignment": {problem.ids[0]: "T9"}}))
    with pytest.raises(ScenarioError, match="unknown territory 'T9'"):
        load_assignment(problem, path)


def load_scenario_from_dict(tmp_path, data):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    return load_scenario(path)
