"""The evaluator against a naive recount written here, independent of any solver."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.contiguity import territory_components
from engine.evaluate import evaluate
from engine.io import parse_scenario
from engine.problem import build_problem
from tests.instances import grid_scenario


def naive_pieces(adj, labels, k):
    """Depth-first search per territory with Python sets."""
    nbrs = {i: set(adj.indices[adj.indptr[i] : adj.indptr[i + 1]]) for i in range(len(labels))}
    out = []
    for t in range(k):
        todo = {i for i in range(len(labels)) if labels[i] == t}
        pieces = 0
        while todo:
            pieces += 1
            stack = [todo.pop()]
            while stack:
                v = stack.pop()
                for u in nbrs[v]:
                    if u in todo:
                        todo.remove(u)
                        stack.append(u)
        out.append(pieces)
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 5), st.integers(2, 5), st.integers(1, 4), st.data())
def test_pieces_equal_naive_recount(rows, cols, k, data):
    problem = build_problem(parse_scenario(grid_scenario(rows, cols, min(k, rows * cols))))
    labels = np.array(data.draw(st.lists(st.integers(0, problem.k - 1), min_size=problem.n, max_size=problem.n)))
    assert list(territory_components(problem.adj, labels, problem.k)) == naive_pieces(problem.adj, labels, problem.k)


def test_grid_plan_kpis_by_hand():
    """
    3x3 grid, k = 3, rows as territories:      T1: 0-0 0-1 0-2
    every unit workload 1, potential 1          T2: 1-0 1-1 1-2
                                                T3: 2-0 2-1 2-2
    """
    data = grid_scenario(3, 3, 3, balance=[{"measure": "workload", "tolerance": 0.0}])
    problem = build_problem(parse_scenario(data))
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    ev = evaluate(problem, labels)
    assert ev.feasible, ev.violations
    assert list(ev.pieces) == [1, 1, 1]
    assert [problem.ids[c] for c in ev.centers] == ["0-1", "1-1", "2-1"]
    from engine.geo import haversine_km

    step = haversine_km(40, -90, 40, -89.9)  # one column apart at lat 40
    expected = sum(float(haversine_km(40 + 0.1 * r, -90, 40 + 0.1 * r, -89.9)) * 2 for r in range(3))
    assert abs(ev.compactness - expected) < 1e-9
    assert step > 0
    # columns mixed: T1 = {0-0, 2-2} is not connected
    bad = np.array([0, 1, 1, 1, 2, 2, 2, 2, 0])
    ev = evaluate(problem, bad)
    assert not ev.feasible
    assert any("contiguity: territory T1 is in 2 pieces" in v for v in ev.violations)
    assert any("balance: territory T3" in v for v in ev.violations)


def test_explicit_distances_replace_haversine():
    data = grid_scenario(1, 3, 1)
    ids = [u["id"] for u in data["units"]]
    data["distances"] = {"ids": ids[::-1], "values": [[0, 5, 9], [5, 0, 4], [9, 4, 0]]}
    data["objective"] = {"distance_power": 2}
    problem = build_problem(parse_scenario(data))
    # reversed order: unit 0-0 <-> 0-2 distance 9, 0-1 in the middle at 4 and 5
    ev = evaluate(problem, np.zeros(3, dtype=int))
    assert problem.ids[ev.centers[0]] == "0-1"
    assert ev.compactness == 4**2 + 5**2


def test_locks_and_moves_checked():
    data = grid_scenario(2, 2, 2)
    data["units"][0]["lock"] = "A"
    data["units"][0]["current"] = "A"
    data["units"][1]["current"] = "B"
    data["disruption"] = {"max_moved_share": 0.0}
    problem = build_problem(parse_scenario(data))
    assert problem.territory_ids == ["A", "B"]
    ev = evaluate(problem, np.array([1, 0, 0, 1]))
    joined = " ".join(ev.violations)
    assert "lock: unit 0-0 is locked to A but assigned to B" in joined
    assert "disruption: 100.0% of units move" in joined


def test_alignment_keeps_current_ids_and_locks():
    from engine.align import align_to_current

    data = grid_scenario(3, 2, 3)  # rows {0-0, 0-1}, {1-0, 1-1}, {2-0, 2-1}
    for u, cur in zip(data["units"], ["A", "A", "B", "B", "C", "C"]):
        u["current"] = cur
    problem = build_problem(parse_scenario(data))
    # the same partition, numbered differently by a solver
    labels = np.array([2, 2, 0, 0, 1, 1])
    assert align_to_current(problem, labels).tolist() == [0, 0, 1, 1, 2, 2]
    assert not evaluate(problem, align_to_current(problem, labels)).moved.any()
    # a lock pins its territory's id even against the overlap
    problem.locks[0] = 1
    aligned = align_to_current(problem, labels)
    assert aligned[0] == 1 and evaluate(problem, aligned).feasible
