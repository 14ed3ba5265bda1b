"""Optional unit geometry (a GeoJSON Polygon or MultiPolygon): accepted when well formed, else one
clear message naming the unit and the position; scenarios without it are unchanged."""

from __future__ import annotations

import copy

import pytest

from engine.io import parse_scenario
from engine.problem import build_problem
from models import ScenarioError
from tests.instances import grid_scenario, polygon_grid

SQUARE = [[[-90.0, 40.0], [-89.9, 40.0], [-89.9, 40.1], [-90.0, 40.1], [-90.0, 40.0]]]


def with_geometry(geometry, index: int = 3) -> dict:
    data = grid_scenario(3, 3, 3)
    data["units"][index]["geometry"] = geometry
    return data


def test_polygon_and_multipolygon_are_accepted_lon_lat():
    hole = [[-89.98, 40.02], [-89.98, 40.04], [-89.96, 40.04], [-89.98, 40.02]]
    s = parse_scenario(with_geometry({"type": "Polygon", "coordinates": [SQUARE[0], hole]}))
    assert s.units[3].geometry.type == "Polygon" and s.units[3].geometry.coordinates[1] == hole
    island = [[[-89.0, 41.0], [-88.9, 41.0], [-88.9, 41.1], [-89.0, 41.0]]]
    s = parse_scenario(
        with_geometry({"type": "MultiPolygon", "coordinates": [SQUARE, island], "bbox": [-90, 40, -88.9, 41.1]})
    )
    assert [len(p[0]) for p in s.units[3].geometry.coordinates] == [5, 4]
    assert all(u.geometry is None for i, u in enumerate(s.units) if i != 3)


def test_integer_and_altitude_positions_are_kept_as_numbers():
    s = parse_scenario(
        with_geometry({"type": "Polygon", "coordinates": [[[-90, 40], [-89, 40, 12.5], [-89, 41], [-90, 40]]]})
    )
    assert s.units[3].geometry.coordinates[0][1] == [-89.0, 40.0, 12.5]


def test_scenarios_without_geometry_are_unchanged(example_dict):
    s = parse_scenario(copy.deepcopy(example_dict))
    assert all(u.geometry is None for u in s.units)
    assert "geometry" not in s.model_dump(mode="json", exclude_unset=True)["units"][0]


def test_boundaries_decide_adjacency_and_leave_locations_alone():
    """Without `adjacency`, shared borders replace the triangulation of locations (details in
    tests/engine/test_polygon_adjacency.py); distances still run from lat/lon."""
    plain = grid_scenario(3, 3, 3)
    rook = {tuple(sorted(e)) for e in plain.pop("adjacency")}
    shaped = copy.deepcopy(plain)
    for u in shaped["units"]:
        x, y = u["lon"] - 0.05, u["lat"] - 0.05  # a 0.1 degree square centred on the unit
        u["geometry"] = {
            "type": "Polygon",
            "coordinates": [[[x, y], [x + 0.1, y], [x + 0.1, y + 0.1], [x, y + 0.1], [x, y]]],
        }
    a, b = build_problem(parse_scenario(plain)), build_problem(parse_scenario(shaped))
    assert a.adjacency_source == "locations" and b.adjacency_derived and b.adjacency_source == "polygons"
    coo = b.adj.tocoo()
    assert {tuple(sorted((b.ids[i], b.ids[j]))) for i, j in zip(coo.row, coo.col)} == rook
    assert (a.lat == b.lat).all() and (a.lon == b.lon).all()


def test_generated_polygon_grid_is_valid():
    s = parse_scenario(polygon_grid(6, 8, 4))
    assert len(s.units) == 48 and all(u.geometry.type == "Polygon" for u in s.units)


RING3 = [[-90.0, 40.0], [-89.9, 40.0], [-90.0, 40.0]]
OPEN = [[-90.0, 40.0], [-89.9, 40.0], [-89.9, 40.1], [-90.0, 40.1]]

BAD = [
    # (name, geometry, fragments the message must contain)
    ("not an object", "POLYGON((0 0, 1 0, 1 1, 0 0))", ["geometry: expected a GeoJSON Polygon or MultiPolygon object"]),
    (
        "a point",
        {"type": "Point", "coordinates": [-90, 40]},
        ["geometry: type must be 'Polygon' or 'MultiPolygon'", "'Point'"],
    ),
    ("missing coordinates", {"type": "Polygon"}, ["geometry: coordinates: missing"]),
    (
        "no rings",
        {"type": "Polygon", "coordinates": []},
        ["geometry: coordinates: a polygon needs a non-empty list of rings"],
    ),
    (
        "ring of 3",
        {"type": "Polygon", "coordinates": [RING3]},
        ["geometry: coordinates[0]: a ring needs at least 4 positions", "got 3"],
    ),
    ("open ring", {"type": "Polygon", "coordinates": [OPEN]}, ["geometry: coordinates[0]: the ring is not closed"]),
    (
        "open hole",
        {"type": "Polygon", "coordinates": [SQUARE[0], OPEN]},
        ["geometry: coordinates[1]: the ring is not closed"],
    ),
    (
        "lat/lon swapped",
        {"type": "Polygon", "coordinates": [[[40.0, -95.0], [40.1, -95.0], [40.1, -95.1], [40.0, -95.0]]]},
        ["geometry: coordinates[0][0]: latitude -95 is outside [-90, 90]", "[lon, lat]"],
    ),
    (
        "longitude out of range",
        {"type": "Polygon", "coordinates": [[[-190, 40], [-89, 40], [-89, 41], [-190, 40]]]},
        ["geometry: coordinates[0][0]: longitude -190 is outside [-180, 180]"],
    ),
    (
        "text coordinate",
        {"type": "Polygon", "coordinates": [[[-90, 40], [-89, "40"], [-89, 41], [-90, 40]]]},
        ["geometry: coordinates[0][1]: coordinates must be finite numbers", "'40'"],
    ),
    (
        "boolean coordinate",
        {"type": "Polygon", "coordinates": [[[-90, 40], [-89, True], [-89, 41], [-90, 40]]]},
        ["geometry: coordinates[0][1]: coordinates must be finite numbers"],
    ),
    (
        "position of 1",
        {"type": "Polygon", "coordinates": [[[-90], [-89, 40], [-89, 41], [-90]]]},
        ["geometry: coordinates[0][0]: a position is [lon, lat]"],
    ),
    (
        "polygon nesting in a multipolygon",
        {"type": "MultiPolygon", "coordinates": SQUARE},
        ["geometry: coordinates[0][0]: a ring is a list of [lon, lat] positions", "check the nesting"],
    ),
    (
        "bad ring in the second polygon",
        {"type": "MultiPolygon", "coordinates": [SQUARE, [OPEN]]},
        ["geometry: coordinates[1][0]: the ring is not closed"],
    ),
    (
        "empty multipolygon",
        {"type": "MultiPolygon", "coordinates": []},
        ["geometry: coordinates: a MultiPolygon needs a non-empty list"],
    ),
    (
        "unknown member",
        {"type": "Polygon", "coordinates": SQUARE, "properties": {}},
        ["geometry.properties: unknown field"],
    ),
]


@pytest.mark.parametrize("name,geometry,fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_geometry_names_the_unit_and_the_position(name, geometry, fragments):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(with_geometry(geometry))
    message = str(info.value)
    assert message.startswith("units[3] (id '1-0').geometry"), message
    for fragment in fragments:
        assert fragment in message, f"{name}: {fragment!r} not in {message!r}"
