"""Adjacency from unit boundaries (engine.adjacency.derive_from_units). Made-up geometry only
(tests/engine/polygon_shapes.py).

Cells are squares of 0.01 degree (about 850 m east-west and 1.1 km north-south at 40 N).
Grid cell (r, c) has its south-west corner at lon -90 + 0.01 c, lat 40 + 0.01 r:

    r=2   6 7 8
    r=1   3 4 5
    r=0   0 1 2      id = r * cols + c
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Voronoi

from engine.adjacency import derive_from_units
from engine.geo import EARTH_RADIUS_KM
from engine.problem import build_problem
from models import Scenario, SolveOptions
from solvers.solve import solve
from tests.engine.polygon_shapes import M_PER_DEG_LAT, SIDE, edge_set, grid, grid_edges, square


def test_grid_rook_is_the_4_neighbourhood():
    ids, lat, lon, geoms = grid(4, 5)
    found = derive_from_units(ids, lat, lon, geoms)
    assert edge_set(found.adj) == grid_edges(4, 5, diagonals=False)
    assert found.source == "polygons" and found.links == ()
    assert (found.adj != found.adj.T).nnz == 0 and found.adj.diagonal().sum() == 0


def test_grid_queen_is_the_8_neighbourhood():
    ids, lat, lon, geoms = grid(4, 5)
    found = derive_from_units(ids, lat, lon, geoms, rule="queen")
    assert edge_set(found.adj) == grid_edges(4, 5, diagonals=True)


@pytest.mark.parametrize("gap_m", [-4.0, 3.0])  # negative: cells overlap their neighbours
def test_small_gaps_and_overlaps_within_the_tolerance_still_touch(gap_m):
    """Every cell shrunk (a gap) or grown (an overlap) by a few metres on each side."""
    grow = -gap_m / 2 / M_PER_DEG_LAT  # half the gap on each of the two facing sides
    ids, lat, lon, geoms = grid(3, 4, grow=grow)
    assert edge_set(derive_from_units(ids, lat, lon, geoms).adj) == grid_edges(3, 4, diagonals=False)
    assert edge_set(derive_from_units(ids, lat, lon, geoms, rule="queen").adj) == grid_edges(3, 4, diagonals=True)


def test_gaps_wider_than_the_tolerance_do_not_touch_and_links_are_reported():
    """A 100 m gap between cells: no shared borders; the graph is still joined, and every
    joining link is reported."""
    ids, lat, lon, geoms = grid(2, 2, grow=-50 / M_PER_DEG_LAT)
    found = derive_from_units(ids, lat, lon, geoms)
    assert connected_components(found.adj, directed=False)[0] == 1
    assert len(found.links) == 3
    assert edge_set(found.adj) == set(found.links)
    assert "3 neighbour links added between units that do not touch" in found.notes[-1]
    # a wider tolerance makes them touch again, without links
    wide = derive_from_units(ids, lat, lon, geoms, tolerance_m=120)
    assert edge_set(wide.adj) == grid_edges(2, 2, diagonals=False) and wide.links == ()


def test_units_sharing_only_a_corner():
    """b
    a        a and b meet at one point only."""
    ids = ["a", "b"]
    lat, lon = np.array([40.005, 40.015]), np.array([-89.995, -89.985])
    geoms = [square(-90, 40), square(-90 + SIDE, 40 + SIDE)]
    rook = derive_from_units(ids, lat, lon, geoms)
    assert rook.links == ((0, 1),)  # joined, but as a link that is said out loud
    assert "'a'-'b'" in rook.notes[-1]
    queen = derive_from_units(ids, lat, lon, geoms, rule="queen")
    assert edge_set(queen.adj) == {(0, 1)} and queen.links == ()


def test_corner_with_a_small_gap_is_still_a_corner_under_rook():
    """Cells 10 m apart at a corner within the tolerance: queen neighbours, not rook."""
    ids, lat, lon, geoms = grid(2, 2, grow=-2 / M_PER_DEG_LAT)
    rook = derive_from_units(ids, lat, lon, geoms)
    assert (0, 3) not in edge_set(rook.adj) and (1, 2) not in edge_set(rook.adj)
    queen = derive_from_units(ids, lat, lon, geoms, rule="queen")
    assert {(0, 3), (1, 2)} <= edge_set(queen.adj)


def test_an_island_is_linked_to_the_nearest_unit_and_named():
    """A 3x3 grid and an island 3 km east of the grid's east edge, level with the middle row."""
    ids, lat, lon, geoms = grid(3, 3)
    ids.append("island")
    lat = np.append(lat, 40.015)
    lon = np.append(lon, -89.97 + 0.035 + SIDE / 2)
    geoms.append(square(-89.97 + 0.035, 40.01))
    found = derive_from_units(ids, lat, lon, geoms)
    assert found.links == ((5, 9),)  # c5 is the middle cell of the east column
    assert edge_set(found.adj) == grid_edges(3, 3, diagonals=False) | {(5, 9)}
    assert "'c5'-'island'" in found.notes[-1] and "do not touch" in found.notes[-1]


def test_several_islands_join_like_a_spanning_tree_over_groups():
    """Two separate 2x2 blocks and two islands: 3 links make one graph, each a shortest join."""
    ids, lat, lon, geoms = grid(2, 2)
    for name, x0 in (("east", -89.9), ("far", -89.8), ("isle", -89.95)):
        ids.append(name)
        lat = np.append(lat, 40.005)
        lon = np.append(lon, x0 + SIDE / 2)
        geoms.append(square(x0, 40))
    found = derive_from_units(ids, lat, lon, geoms)
    assert connected_components(found.adj, directed=False)[0] == 1
    assert len(found.links) == 3
    assert set(found.links) == {(1, 6), (4, 6), (4, 5)}  # c1 -> isle -> east -> far


def test_multipolygon_unit_touches_the_neighbours_of_each_part():
    """Unit m is two squares, at both ends of a row of three cells:  m a m."""
    ids = ["m", "a"]
    lat, lon = np.array([40.005, 40.005]), np.array([-89.985, -89.985])
    m = {
        "type": "MultiPolygon",
        "coordinates": [square(-90, 40)["coordinates"], square(-90 + 2 * SIDE, 40)["coordinates"]],
    }
    b_row = square(-90 + SIDE, 40 - SIDE, side=SIDE)  # below the middle square, touching only a
    ids.append("b")
    lat, lon = np.append(lat, 39.995), np.append(lon, -89.985)
    found = derive_from_units(ids, lat, lon, [m, square(-90 + SIDE, 40), b_row])
    # m's both parts touch a; b touches a along a full side and m's parts only at corners
    assert edge_set(found.adj) == {(0, 1), (1, 2)}
    queen = derive_from_units(ids, lat, lon, [m, square(-90 + SIDE, 40), b_row], rule="queen")
    assert edge_set(queen.adj) == {(0, 1), (1, 2), (0, 2)}


def test_multipolygon_unit_with_a_detached_part_touching_another_unit():
    """Unit m: a mainland square next to a, and an islet far east that touches only c.
    m therefore neighbours a and c; no link is needed."""
    ids = ["m", "a", "c"]
    lat, lon = np.array([40.005, 40.005, 40.005]), np.array([-89.995, -89.985, -89.895])
    m = {"type": "MultiPolygon", "coordinates": [square(-90, 40)["coordinates"], square(-89.91, 40)["coordinates"]]}
    found = derive_from_units(ids, lat, lon, [m, square(-90 + SIDE, 40), square(-89.9, 40)])
    assert edge_set(found.adj) == {(0, 1), (0, 2)} and found.links == ()


def test_enclave_inside_a_hole_touches_the_surrounding_unit():
    outer = {
        "type": "Polygon",
        "coordinates": [
            square(-90, 40, side=3 * SIDE)["coordinates"][0],
            square(-90 + SIDE, 40 + SIDE)["coordinates"][0][::-1],
        ],
    }
    found = derive_from_units(
        ["county", "city"],
        np.array([40.002, 40.015]),
        np.array([-89.998, -89.985]),
        [outer, square(-90 + SIDE, 40 + SIDE)],
    )
    assert edge_set(found.adj) == {(0, 1)} and found.links == ()


def test_units_without_boundary_take_their_neighbours_from_locations_and_are_named():
    """A 3x3 grid and two customers with only a location, west of the grid."""
    ids, lat, lon, geoms = grid(3, 3)
    ids += ["p1", "p2"]
    lat = np.append(lat, [40.005, 40.025])
    lon = np.append(lon, [-90.006, -90.006])
    geoms += [None, None]
    found = derive_from_units(ids, lat, lon, geoms)
    edges = edge_set(found.adj)
    assert found.source == "polygons+locations"
    assert grid_edges(3, 3, diagonals=False) <= edges
    polygon_edges = {e for e in edges if e[0] < 9 and e[1] < 9}
    assert polygon_edges == grid_edges(3, 3, diagonals=False)  # no triangulation edges between polygons
    assert any(9 in e for e in edges) and any(10 in e for e in edges)
    assert connected_components(found.adj, directed=False)[0] == 1
    assert any("2 units have no boundary ('p1', 'p2')" in note for note in found.notes)


def test_no_boundaries_keeps_the_location_triangulation():
    from engine.adjacency import derive

    ids, lat, lon, _ = grid(3, 3)
    found = derive_from_units(ids, lat, lon, [None] * 9)
    assert found.source == "locations" and found.notes == ()
    assert edge_set(found.adj) == edge_set(derive(lat, lon))


def test_unknown_rule_is_refused():
    ids, lat, lon, geoms = grid(2, 2)
    with pytest.raises(ValueError, match="rook' or 'queen'"):
        derive_from_units(ids, lat, lon, geoms, rule="bishop")


@settings(max_examples=25, deadline=None)
@given(st.integers(4, 60), st.integers(0, 10_000))
def test_voronoi_cells_touch_exactly_along_their_ridges(n, seed):
    """Voronoi cells of random points (in a plane where lon/lat are scaled to km): cells whose
    common ridge lies inside the box and is longer than 60 m are rook neighbours, those whose
    ridge is shorter than 40 m are not, and pairs without a ridge never are."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(-90, -89.9, n)
    lat = rng.uniform(40, 40.1, n)
    # Voronoi cells are not preserved by scaling one axis: build them where distances are km,
    # the plane the engine measures borders in, then scale back to lon/lat.
    cos0 = np.cos(np.radians(lat.mean()))
    km = np.array([np.radians(1) * EARTH_RADIUS_KM * cos0, np.radians(1) * EARTH_RADIUS_KM])
    pts = np.column_stack([lon, lat]) * km
    box = shapely.box(*(np.array([-90, 40]) * km), *(np.array([-89.9, 40.1]) * km))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box))
    cells = shapely.intersection(cells, box)
    point_idx, cell_idx = shapely.STRtree(cells).query(shapely.points(pts), predicate="intersects")
    order = np.empty(n, dtype=np.int64)
    order[point_idx] = cell_idx
    cells = shapely.transform(cells[order], lambda xy: xy / km)
    geoms = [shapely.geometry.mapping(c) for c in cells]
    found = derive_from_units([f"u{i}" for i in range(n)], lat, lon, geoms, tolerance_m=10)
    touching = edge_set(found.adj) - set(found.links)

    vor = Voronoi(pts)
    must, must_not = set(), set()
    ridges = {}
    for (p, q), verts in zip(vor.ridge_points, vor.ridge_vertices):
        pair = (int(min(p, q)), int(max(p, q)))
        if -1 in verts:
            ridges[pair] = None
            continue
        seg = vor.vertices[verts] / km
        inside = ((seg[:, 0] >= -90) & (seg[:, 0] <= -89.9) & (seg[:, 1] >= 40) & (seg[:, 1] <= 40.1)).all()
        length_m = np.hypot(*((seg[0] - seg[1]) * km)) * 1000
        ridges[pair] = length_m
        if inside and length_m > 15:
            must.add(pair)
        elif length_m < 5:
            must_not.add(pair)
    assert must <= touching
    assert not (must_not & touching)
    assert touching <= set(ridges)


def lake_ring_scenario() -> tuple[dict, set[tuple[int, int]]]:
    """A 4x4 grid with a 2x2 lake in the middle: 12 cells in a ring, and its rook edges.

        c12 c13 c14 c15
        c8  ~~~~~~  c11
        c4  ~~~~~~  c7
        c0  c1  c2  c3

    The locations' triangulation must cross the lake; the boundaries never do, so a plan
    contiguous under the boundaries has every territory an arc of the ring."""
    ids, lat, lon, geoms = grid(4, 4)
    ring = [i for i in range(16) if i not in (5, 6, 9, 10)]
    units = [
        {"id": ids[i], "lat": float(lat[i]), "lon": float(lon[i]), "workload": 1.0, "geometry": geoms[i]} for i in ring
    ]
    position = {i: p for p, i in enumerate(ring)}
    edges = {
        (position[a], position[b]) for a, b in grid_edges(4, 4, diagonals=False) if a in position and b in position
    }
    scenario = {
        "name": "lake",
        "territories": 3,
        "units": units,
        "balance": [{"measure": "workload", "tolerance": 0.0}],
    }
    return scenario, edges


def test_scenario_with_boundaries_solves_with_territories_contiguous_along_borders():
    scenario_json, ring_edges = lake_ring_scenario()
    problem = build_problem(Scenario.model_validate(scenario_json))
    assert problem.adjacency_derived and problem.adjacency_source == "polygons"
    assert edge_set(problem.adj) == ring_edges
    assert problem.adjacency_notes and "12 shared borders among 12 units" in problem.adjacency_notes[0]

    outcome = solve(problem, SolveOptions(time_limit_s=30, seed=1))
    assert outcome.evaluation is not None and outcome.evaluation.feasible, outcome.result.message
    assert outcome.evaluation.pieces.tolist() == [1, 1, 1]
    labels = outcome.evaluation.labels
    for t in range(3):
        members = np.flatnonzero(labels == t)
        assert len(members) == 4
        # independently of the engine's graph: each territory is 4 consecutive cells of the ring
        inner = sum(1 for a, b in ring_edges if a in members and b in members)
        assert inner == 3


def test_explicit_adjacency_wins_over_boundaries():
    scenario_json, _ = lake_ring_scenario()
    ids = [u["id"] for u in scenario_json["units"]]
    scenario_json["adjacency"] = [[ids[i], ids[i + 1]] for i in range(len(ids) - 1)]
    problem = build_problem(Scenario.model_validate(scenario_json))
    assert not problem.adjacency_derived and problem.adjacency_source == "given" and problem.adjacency_notes == ()
    assert edge_set(problem.adj) == {(i, i + 1) for i in range(len(ids) - 1)}


def test_self_intersecting_boundary_is_repaired_not_fatal():
    """A bow tie (its ring crosses itself) whose right half borders a square to the east."""
    x0, y0 = -90.0, 40.0
    bow = {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x0 + SIDE, y0 + SIDE], [x0 + SIDE, y0], [x0, y0 + SIDE], [x0, y0]]],
    }
    found = derive_from_units(
        ["bow", "sq"], np.array([40.005, 40.005]), np.array([-89.995, -89.985]), [bow, square(x0 + SIDE, y0)]
    )
    assert edge_set(found.adj) == {(0, 1)} and found.links == ()
