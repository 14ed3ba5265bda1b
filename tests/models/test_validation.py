"""Malformed scenarios: each gives one clear message naming the field and the record."""

import copy
import json

import pytest
from typer.testing import CliRunner

from api.cli import app
from engine.io import parse_scenario
from models import ScenarioError
from tests.instances import grid_scenario


def base() -> dict:
    return grid_scenario(3, 3, 3, balance=[{"measure": "workload", "tolerance": 0.1}])


def mutate(fn):
    d = base()
    fn(d)
    return d


def _set(path, value):
    def fn(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return fn


def _del(path):
    def fn(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return fn


CASES = [
    # (name, mutation, fragments the message must contain)
    ("duplicate unit id", _set(["units", 4, "id"], "0-0"), ["units[4]", "duplicate unit id '0-0'"]),
    (
        "unknown id in adjacency",
        lambda d: d["adjacency"].append(["0-0", "nope"]),
        ["adjacency[", "unknown unit id 'nope'"],
    ),
    ("self loop in adjacency", lambda d: d["adjacency"].append(["0-0", "0-0"]), ["adjacency[", "adjacent to itself"]),
    (
        "negative workload",
        _set(["units", 2, "workload"], -3),
        ["units[2] (id '0-2').workload", "greater than or equal to 0"],
    ),
    (
        "latitude out of range",
        _set(["units", 5, "lat"], 123.0),
        ["units[5] (id '1-2').lat", "less than or equal to 90"],
    ),
    ("longitude out of range", _set(["units", 1, "lon"], -200), ["units[1] (id '0-1').lon"]),
    ("latitude not a number", _set(["units", 3, "lat"], "north"), ["units[3] (id '1-0').lat", "valid number"]),
    ("missing latitude", _del(["units", 0, "lat"]), ["units[0] (id '0-0').lat", "Field required"]),
    ("k larger than units", _set(["territories"], 12), ["territories", "only 9 units"]),
    ("k zero", _set(["territories"], 0), ["territories", "greater than or equal to 1"]),
    (
        "lock to unknown territory",
        _set(["units", 6, "lock"], "T99"),
        ["units[6].lock", "'2-0'", "unknown territory 'T99'"],
    ),
    ("unknown field", _set(["units", 7, "wrokload"], 5), ["units[7] (id '2-1').wrokload", "unknown field"]),
    (
        "unknown balance measure",
        _set(["balance"], [{"measure": "revenue", "tolerance": 0.1}]),
        ["balance[0].measure", "unknown measure 'revenue'"],
    ),
    ("negative tolerance", _set(["balance"], [{"measure": "workload", "tolerance": -0.1}]), ["balance[0].tolerance"]),
    (
        "min above max",
        _set(["balance"], [{"measure": "workload", "min": 5, "max": 2}]),
        ["balance[0]", "'min' (5) is larger than 'max' (2)"],
    ),
    (
        "balance without bounds",
        _set(["balance"], [{"measure": "workload"}]),
        ["balance[0]", "'tolerance' or 'min'/'max'"],
    ),
    (
        "tolerance and min",
        _set(["balance"], [{"measure": "workload", "tolerance": 0.1, "min": 1}]),
        ["balance[0]", "not both"],
    ),
    (
        "duplicate balance measure",
        _set(["balance"], [{"measure": "workload", "tolerance": 0.1}] * 2),
        ["balance", "appears twice"],
    ),
    ("empty units", _set(["units"], []), ["units", "at least 1"]),
    ("distance power 3", _set(["objective"], {"distance_power": 3}), ["objective.distance_power"]),
    (
        "distance matrix not square",
        _set(["distances"], {"ids": ["0-0", "0-1"], "values": [[0, 1]]}),
        ["distances", "1 rows"],
    ),
    (
        "distance matrix unknown id",
        _set(["distances"], {"ids": ["0-0", "zz"], "values": [[0, 1], [1, 0]]}),
        ["distances.ids[1]", "unknown unit id 'zz'"],
    ),
    (
        "distance matrix missing units",
        _set(["distances"], {"ids": ["0-0", "0-1"], "values": [[0, 1], [1, 0]]}),
        ["distances.ids", "unit '0-2' has no row"],
    ),
    ("negative distance", _set(["distances"], {"ids": ["0-0"], "values": [[-1]]}), ["distances.values[0][0]"]),
    ("infinite workload", _set(["units", 0, "workload"], float("inf")), ["units[0] (id '0-0').workload"]),
    (
        "attribute not a number",
        _set(["units", 0, "attributes"], {"accounts": "many"}),
        ["units[0] (id '0-0').attributes.accounts"],
    ),
    ("max_moved_share above 1", _set(["disruption"], {"max_moved_share": 1.5}), ["disruption.max_moved_share"]),
    (
        "wrong reps count",
        _set(["reps"], [{"id": "r1", "lat": 40, "lon": -90}]),
        ["reps", "1 reps given but territories is 3"],
    ),
]


@pytest.mark.parametrize("name,fn,fragments", CASES, ids=[c[0] for c in CASES])
def test_malformed_scenario_message_names_field_and_record(name, fn, fragments):
    data = mutate(fn)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{name}: {fragment!r} not in {message!r}"
    assert "Traceback" not in message


def test_at_least_fifteen_kinds():
    assert len(CASES) >= 15


@pytest.mark.parametrize("name,fn,fragments", CASES[:18], ids=[c[0] for c in CASES[:18]])
def test_cli_exit_code_2_and_one_clear_line(tmp_path, name, fn, fragments):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(mutate(fn)))
    result = CliRunner().invoke(app, ["solve", str(path), "--out", str(tmp_path / "plan.json"), "-q"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert fragments[0] in result.output.replace("\n", "")
    assert not (tmp_path / "plan.json").exists()


def test_cli_invalid_json_and_missing_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"units": [')
    result = CliRunner().invoke(app, ["solve", str(bad), "-q"])
    assert result.exit_code == 2 and "invalid JSON at line 1" in result.output
    result = CliRunner().invoke(app, ["solve", str(tmp_path / "none.json"), "-q"])
    assert result.exit_code == 2 and "file not found" in result.output


def test_valid_base_scenario_parses():
    s = parse_scenario(copy.deepcopy(base()))
    assert s.territory_ids() == ["T1", "T2", "T3"]
