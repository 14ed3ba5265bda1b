"""units.csv carries every unit field of the JSON contract (tier, boundary as GeoJSON or WKT);
a settings JSON carries the scenario's other fields; errors name the CSV line and column."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from api.cli import app
from engine.io import load_scenario
from engine.problem import build_problem
from models import ScenarioError

TIERS = {
    "A": {"visits_per_year": 24, "hours_per_visit": 1.5, "travel_hours_per_visit": 0.5},
    "B": {"visits_per_year": 6, "hours_per_visit": 1.0},
}
SQUARE = [[-90.0, 40.0], [-89.99, 40.0], [-89.99, 40.01], [-90.0, 40.01], [-90.0, 40.0]]


def write_units(tmp_path, header: list[str], rows: list[list]) -> str:
    path = tmp_path / "units.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_settings(tmp_path, **fields) -> str:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(fields))
    return path


def test_tier_column_derives_workload_from_the_settings_tiers(tmp_path):
    units = write_units(
        tmp_path,
        ["id", "lat", "lon", "tier", "workload"],
        [["a", 40, -90, "A", ""], ["b", 40.1, -90, "B", ""], ["c", 40, -90.1, "B", 5]],
    )
    settings = write_settings(
        tmp_path, territories=2, tiers=TIERS, name="graded", balance=[{"measure": "workload", "tolerance": 0.5}]
    )
    scenario = load_scenario(units, settings=settings)
    assert (scenario.name, scenario.territories, len(scenario.balance)) == ("graded", 2, 1)
    assert [u.tier for u in scenario.units] == ["A", "B", "B"]
    assert build_problem(scenario).measures[0].tolist() == [48.0, 6.0, 5.0]  # a given workload wins over the tier
    # the command line's --territories wins over the settings
    assert load_scenario(units, settings=settings, territories=3).territories == 3


def test_unknown_tier_names_the_csv_line_and_column(tmp_path):
    units = write_units(tmp_path, ["id", "lat", "lon", "tier"], [["a", 40, -90, "A"], ["b", 40.1, -90, "Z"]])
    with pytest.raises(ScenarioError) as err:
        load_scenario(units, settings=write_settings(tmp_path, territories=1, tiers=TIERS))
    assert str(err.value).startswith("units.csv line 3 (id 'b').tier: unit 'b' has tier 'Z' but 'tiers' defines A, B")


def test_validation_errors_of_csv_rows_name_the_line(tmp_path):
    units = write_units(
        tmp_path, ["id", "lat", "lon", "workload"], [["a", 40, -90, 1], ["b", 95, -90, 1], ["c", 40, -90, -2]]
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(units, territories=1)
    message = str(err.value)
    assert "units.csv line 3 (id 'b').lat: Input should be less than or equal to 90" in message
    assert "units.csv line 4 (id 'c').workload: Input should be greater than or equal to 0" in message
    (tmp_path / "reps.csv").write_text("id,lat,lon,capacity_workload\nr1,40,-90,5\nr2,40,-90,-1\n")
    with pytest.raises(ScenarioError, match=r"reps.csv line 3 \(id 'r2'\).capacity.workload: Input should be greater"):
        load_scenario(
            write_units(tmp_path, ["id", "lat", "lon"], [["a", 40, -90], ["b", 40, -90.1]]),
            territories=2,
            reps_csv=tmp_path / "reps.csv",
        )


@pytest.mark.parametrize(
    "cell",
    [
        json.dumps({"type": "Polygon", "coordinates": [SQUARE]}),
        "POLYGON ((" + ", ".join(f"{x} {y}" for x, y in SQUARE) + "))",
        "MULTIPOLYGON (((" + ", ".join(f"{x} {y}" for x, y in SQUARE) + ")))",
    ],
)
def test_geometry_column_as_geojson_or_wkt(tmp_path, cell):
    units = write_units(
        tmp_path, ["id", "lat", "lon", "geometry"], [["a", 40.005, -89.995, cell], ["b", 40.5, -90, ""]]
    )
    scenario = load_scenario(units, territories=1)
    geometry = scenario.units[0].geometry
    rings = geometry.coordinates if geometry.type == "Polygon" else geometry.coordinates[0]
    assert rings == [SQUARE] and scenario.units[1].geometry is None
    assert build_problem(scenario).adjacency_source == "polygons+locations"


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ('{"type": "Polygon", "coordinates": [[[0, 0]', "units.csv line 2 (id 'a').geometry: not valid GeoJSON"),
        ("POLYGON ((0 0, 1 0", "units.csv line 2 (id 'a').geometry: not valid WKT"),
        ("POINT (0 0)", "units.csv line 2 (id 'a').geometry: expected a GeoJSON Polygon/MultiPolygon object or WKT"),
        (
            json.dumps({"type": "Polygon", "coordinates": [SQUARE[:-1]]}),
            "units.csv line 2 (id 'a').geometry: coordinates[0]: the ring is not closed",
        ),
    ],
)
def test_bad_geometry_names_the_line_and_column(tmp_path, cell, message):
    units = write_units(tmp_path, ["id", "lat", "lon", "geometry"], [["a", 40, -90, cell]])
    with pytest.raises(ScenarioError) as err:
        load_scenario(units, territories=1)
    assert str(err.value).startswith(message), str(err.value)


def test_settings_cannot_replace_the_csv_records_or_apply_to_a_json_scenario(tmp_path):
    units = write_units(tmp_path, ["id", "lat", "lon"], [["a", 40, -90]])
    with pytest.raises(ScenarioError, match=r"settings.json: units: the units come from the units CSV"):
        load_scenario(units, settings=write_settings(tmp_path, territories=1, units=[]))
    (tmp_path / "reps.csv").write_text("id,lat,lon\nr1,40,-90\n")
    with pytest.raises(ScenarioError, match=r"settings.json: reps: the reps come from the reps CSV"):
        load_scenario(units, reps_csv=tmp_path / "reps.csv", settings=write_settings(tmp_path, territories=1, reps=[]))
    scenario_json = tmp_path / "s.json"
    scenario_json.write_text(json.dumps({"territories": 1, "units": [{"id": "a", "lat": 40, "lon": -90}]}))
    with pytest.raises(ScenarioError, match="settings apply to a units CSV only"):
        load_scenario(scenario_json, settings=write_settings(tmp_path, territories=1))
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ScenarioError, match="list.json: expected a JSON object of scenario fields"):
        load_scenario(units, settings=tmp_path / "list.json")


def test_cli_solves_a_units_csv_with_settings(tmp_path):
    units = write_units(
        tmp_path,
        ["id", "lat", "lon", "tier"],
        [[f"u{i}", 40 + 0.1 * (i // 3), -90 + 0.1 * (i % 3), "A" if i % 2 else "B"] for i in range(9)],
    )
    settings = write_settings(tmp_path, territories=3, tiers=TIERS, balance=[{"measure": "workload", "tolerance": 0.6}])
    plan_path = tmp_path / "plan.json"
    result = CliRunner().invoke(app, ["solve", str(units), "--settings", str(settings), "--out", str(plan_path), "-q"])
    assert result.exit_code == 0, result.output
    plan = json.loads(plan_path.read_text())
    assert len(plan["territories"]) == 3
    assert sum(t["kpis"]["workload"] for t in plan["territories"]) == pytest.approx(4 * 48 + 5 * 6)
    result = CliRunner().invoke(app, ["solve", str(units), "--out", str(plan_path), "-q"])
    assert result.exit_code == 2 and "give --territories K (or 'territories' in --settings)" in result.output
    bad = write_settings(tmp_path, territories=3, tiers={"A": TIERS["A"]})
    result = CliRunner().invoke(app, ["solve", str(units), "--settings", str(bad), "--out", str(plan_path), "-q"])
    assert result.exit_code == 2 and "units.csv line 2 (id 'u0').tier: unit 'u0' has tier 'B'" in result.output
