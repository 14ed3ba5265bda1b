"""The exact models' contiguity cuts, one at a time, against brute force on tiny graphs.

A cut must be *violated* by the plan (or LP point) it was generated from, and *valid*: no
territory the model may form (connected, within its upper bounds, of units allowed there) may
break it. Validity is checked over every connected set of units of a graph of at most 9 units.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.contiguity import connected_pieces
from engine.tolerance import exceeds
from solvers.exact.hess_cuts import fractional_cuts, integer_cuts, neighbor_cuts
from solvers.exact.hess_data import prepare_hess
from solvers.exact.labelled_cuts import integer_cuts as labelled_integer_cuts
from solvers.exact.labelled_data import prepare_labelled
from solvers.exact.separators import separator_toward, vertex_separator
from tests.instances import grid_scenario, problem_of


@st.composite
def tiny_grids(draw):
    """A rows x cols grid (at most 9 units) with some edges removed (still connected), random
    workloads 1..4 and a workload tolerance, k territories."""
    rows, cols = draw(st.sampled_from([(2, 3), (3, 3), (2, 4), (1, 6)]))
    k = draw(st.integers(2, 3))
    data = grid_scenario(
        rows, cols, k, balance=[{"measure": "workload", "tolerance": draw(st.sampled_from([0.3, 0.6, 1.0]))}]
    )
    for u in data["units"]:
        u["workload"] = float(draw(st.integers(1, 4)))
    edges = data["adjacency"]
    drop = draw(st.lists(st.integers(0, len(edges) - 1), max_size=3, unique=True))
    kept = [e for s, e in enumerate(edges) if s not in drop]
    problem = problem_of({**data, "adjacency": kept})
    if len(connected_pieces(problem.neighbour_lists, range(problem.n), problem.n)) > 1:
        problem = problem_of(data)
    return problem


def connected_sets(problem):
    """Every non-empty connected set of units, as a boolean mask."""
    n = problem.n
    for bits in range(1, 2**n):
        members = [i for i in range(n) if bits >> i & 1]
        if len(connected_pieces(problem.neighbour_lists, members, n)) == 1:
            mask = np.zeros(n, dtype=bool)
            mask[members] = True
            yield mask


def light_enough(problem, mask, upper) -> bool:
    """The set's totals stay within the upper bounds (lower bounds play no part in the cuts)."""
    return not any(exceeds(problem.measures[r][mask].sum(), upper[r]) for r in range(len(upper)))


def hess_territories(problem, prep, j):
    """Connected sets the Hess model may form around center j: j in it, every member allowed at
    j, within the balance maxima."""
    upper = np.where(problem.balanced, problem.upper, np.inf)
    for mask in connected_sets(problem):
        if mask[j] and prep.allowed[mask, j].all() and light_enough(problem, mask, upper):
            yield mask


def assert_hess_cut_valid(problem, prep, cut):
    i, j, C = cut
    for territory in hess_territories(problem, prep, j):
        if territory[i]:
            assert territory[list(C)].any(), (cut, np.flatnonzero(territory))


def disconnected_plan(problem, rng):
    """Centers for a random plan with at least one territory in pieces, or None."""
    for _ in range(50):
        centers = rng.choice(problem.n, problem.k, replace=False)
        labels = rng.integers(0, problem.k, problem.n)
        labels[centers] = np.arange(problem.k)
        center_of = centers[labels]
        if any(
            len(connected_pieces(problem.neighbour_lists, np.flatnonzero(labels == t), problem.n)) > 1
            for t in range(problem.k)
        ):
            return center_of
    return None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_grids(), st.integers(0, 2**31 - 1))
def test_hess_integer_cuts_are_violated_by_their_plan_and_valid(problem, seed):
    prep = prepare_hess(problem)
    center_of = disconnected_plan(problem, np.random.default_rng(seed))
    if center_of is None:
        return
    cuts = integer_cuts(prep, center_of)
    assert cuts  # a territory in pieces is always cut
    for cut in cuts:
        i, j, C = cut
        assert center_of[i] == j and not (center_of[list(C)] == j).any()  # violated
        assert_hess_cut_valid(problem, prep, cut)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_grids())
def test_neighbour_cuts_are_valid_and_only_fix_impossible_pairs(problem):
    prep = prepare_hess(problem)
    before = prep.allowed.copy()
    cuts = neighbor_cuts(prep)
    for cut in cuts:
        assert_hess_cut_valid(problem, prep, cut)
    # a pair it fixed to 0 is in no territory the model may form
    for i, j in zip(*np.nonzero(before & ~prep.allowed)):
        prep.allowed[i, j] = True
        assert not any(t[i] for t in hess_territories(problem, prep, j)), (i, j)
        prep.allowed[i, j] = False


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_grids(), st.integers(0, 2**31 - 1))
def test_hess_fractional_cuts_are_violated_by_the_lp_point_and_valid(problem, seed):
    """An LP point that spreads a center's unit over two pieces: the cheap support test and the
    min vertex cut each return inequalities the point violates and every territory keeps."""
    prep = prepare_hess(problem)
    rng = np.random.default_rng(seed)
    center_of = disconnected_plan(problem, rng)
    if center_of is None:
        return
    xval = {(i, int(c)): 1.0 for i, c in enumerate(center_of) if prep.allowed[i, c]}
    for i in rng.choice(problem.n, min(3, problem.n), replace=False).tolist():  # make some rows fractional
        j = int(center_of[i])
        if i != j and (i, j) in xval:
            xval[i, j] = 0.6
    for cut in fractional_cuts(prep, xval, use_flow=True):
        i, j, C = cut
        assert xval.get((i, j), 0.0) > sum(xval.get((c, j), 0.0) for c in C) + 1e-9  # violated
        assert_hess_cut_valid(problem, prep, cut)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_grids(), st.integers(0, 2**31 - 1), st.booleans())
def test_labelled_integer_cuts_are_violated_and_valid(problem, seed, rooted):
    """Territory-indexed cuts: with a locked unit (a root) x[i,t] <= sum_C x[c,t]; without one
    x[i,t] + x[j,t] - 1 <= sum_C x[c,t]; every connected territory within its maxima keeps them."""
    rng = np.random.default_rng(seed)
    if rooted:
        locks = np.full(problem.n, -1)
        locks[rng.choice(problem.n, problem.k, replace=False)] = np.arange(problem.k)
        problem = problem.with_(locks=locks)
    prep = prepare_labelled(problem)
    if prep.infeasible:
        return
    labels = rng.integers(0, problem.k, problem.n)
    labels = np.where(problem.locks >= 0, problem.locks, labels)
    for cut in labelled_integer_cuts(prep, labels):
        t, i, j, C = cut
        inside = labels == t
        assert inside[i] and (j < 0 or inside[j]) and not inside[list(C)].any()  # violated
        anchor = int(prep.root[t]) if j < 0 else j
        for territory in connected_sets(problem):
            if (
                territory[i]
                and territory[anchor]
                and prep.allowed[territory, t].all()
                and light_enough(problem, territory, prep.upper[t])
            ):
                assert territory[list(C)].any(), (cut, np.flatnonzero(territory))


@settings(max_examples=40, deadline=None)
@given(tiny_grids(), st.data())
def test_vertex_separator_is_a_least_capacity_separator(problem, data):
    """vertex_separator returns a set whose removal cuts i from j, of the least capacity among
    all such sets (brute force over subsets), or None when i and j are neighbours."""
    n = problem.n
    i, j = data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
    cap = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0]), min_size=n, max_size=n)))
    ok = np.ones(n, dtype=bool)
    sep, value = vertex_separator(problem.neighbour_lists, ok, cap, i, j)
    if j in problem.neighbour_lists[i]:
        assert sep is None
        return

    def separates(C) -> bool:
        rest = [u for u in range(n) if u not in C]
        return not any(i in p and j in p for p in map(set, connected_pieces(problem.neighbour_lists, rest, n)))

    assert separates(set(sep))
    others = [u for u in range(n) if u not in (i, j)]
    best = min(
        cap[list(C)].sum()
        for r in range(len(others) + 1)
        for C in itertools.combinations(others, r)
        if separates(set(C))
    )
    assert abs(value - best) < 1e-6 and abs(cap[sep].sum() - best) < 1e-6


def test_separator_toward_is_the_boundary_next_to_the_center():
    """
    A path a - b - c - d - e: the piece {a} is separated from e by its only neighbour b.
    """
    problem = problem_of(grid_scenario(1, 5, 2))
    assert separator_toward(problem.neighbour_lists, problem.n, [0], 4) == [1]
    assert separator_toward(problem.neighbour_lists, problem.n, [0, 1], 4) == [2]
