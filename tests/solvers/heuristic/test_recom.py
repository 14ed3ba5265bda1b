"""Merge-and-split (ReCom) of two neighbouring territories: both parts connected, the same
units, locks kept, the reported violation and cost those of the split returned; on a tiny
instance, the best split of the pair over enough trees; and the spanning trees and subtree
sums it is built on.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.contiguity import territory_components
from engine.tolerance import NOISE
from solvers.heuristic.instance import Instance
from solvers.heuristic.recom import recom_pair
from solvers.heuristic.state import State
from solvers.heuristic.trees import in_subtree, random_spanning_trees, subtree_sums
from tests.instances import perturbed_grid, problem_of, rep_grid, square_points, weighted_grid

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _stripes(inst: Instance) -> np.ndarray:
    """Contiguous start: territories as bands of units in id order of the grid's columns."""
    cols = np.array([int(i.split("_")[1]) for i in inst.problem.ids])
    return np.minimum(cols * inst.k // (cols.max() + 1), inst.k - 1)


@st.composite
def grid_states(draw):
    rows, cols = draw(st.integers(2, 6)), draw(st.integers(2, 7))
    k = draw(st.integers(2, min(4, cols)))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    n_locks = draw(st.integers(0, 3))
    cells = {(int(rng.integers(rows)), int(rng.integers(cols))) for _ in range(n_locks)}
    locks = {}
    for cell in sorted(cells):
        stripe = min(cell[1] * k // cols, k - 1)
        # in the pair (stripes 0 and 1) a lock to either of them; elsewhere to its own stripe
        locks[cell] = f"T{int(rng.integers(1, 3)) if stripe < 2 else stripe + 1}"
    data = weighted_grid(
        rows,
        cols,
        k,
        tol=draw(st.sampled_from([0.05, 0.2])),
        seed=seed,
        locks=locks,
        power=draw(st.sampled_from([1, 2])),
    )
    inst = Instance(problem_of(data))
    return State(inst, _stripes(inst)), draw(st.integers(0, 10_000))


def _check_split(s: State, a: int, b: int, res) -> None:
    inst = s.inst
    M, new, viol, _ = res
    assert (M == np.flatnonzero((s.labels == a) | (s.labels == b))).all()  # the same units
    assert set(new.tolist()) == {a, b}  # two non-empty parts
    labels = s.labels.copy()
    labels[M] = new
    pieces = territory_components(inst.problem.adj, labels, inst.k)
    assert pieces[a] == 1 and pieces[b] == 1  # both connected
    lk = inst.locks[M]
    assert ((lk < 0) | (new == lk)).all()  # locks kept
    assert inst.can_join(M, new).all()  # hard skills kept (rep-centric)
    tot = np.stack([inst.loads[M[new == t]].sum(axis=0) for t in (a, b)])
    assert viol == pytest.approx(float(inst.violation(tot, np.array([a, b])).sum()), rel=1e-9, abs=1e-9)


@SETTINGS
@given(case=grid_states(), n_trees=st.integers(1, 6), noise=st.sampled_from([0.5, 1.0, 2.0]))
def test_recom_split_is_connected_keeps_units_and_locks_and_reports_its_violation(case, n_trees, noise):
    s, seed = case
    inst = s.inst
    rng = np.random.default_rng(seed)
    a, b = 0, 1  # neighbouring stripes
    res = recom_pair(s, a, b, rng, n_trees=n_trees, noise=noise)
    if res is None:  # only when no tree has a cut that keeps the locks
        assert inst.locked[(s.labels == a) | (s.labels == b)].any()
        return
    _check_split(s, a, b, res)


def _rep_halves(seed: int, skills: bool) -> State:
    """6 x 6 grid, two reps with homes; left and right halves as the current split."""
    data = rep_grid(seed, 2, side=6)
    if not skills:
        for u in data["units"]:
            u.pop("skills", None)
    inst = Instance(problem_of(data))
    return State(inst, np.arange(inst.n) % 6 * 2 // 6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recom_rep_centric_split_reports_its_cost(seed):
    """Rep-centric: each part is served from its rep's home; the reported cost is the parts'
    cost from their homes (exact)."""
    s = _rep_halves(seed, skills=False)
    res = recom_pair(s, 0, 1, np.random.default_rng(seed), n_trees=6, noise=1.0)
    assert res is not None
    _check_split(s, 0, 1, res)
    M, new, _, cost = res
    assert cost == pytest.approx(float(s.inst.assign_cost(M, new, s.centers).sum()), rel=1e-9)


def test_recom_rep_centric_split_keeps_hard_skills():
    """A unit needing a skill only one of the two reps holds stays on that rep's side of the cut."""
    s = _rep_halves(0, skills=True)
    res = recom_pair(s, 0, 1, np.random.default_rng(0), n_trees=6, noise=1.0)
    assert res is not None
    M, new, _, _ = res
    assert s.inst.can_join(M, new).all()


def test_recom_leaves_a_frozen_territory_alone():
    data = {
        **perturbed_grid(),
        "balance": [{"measure": "workload", "tolerance": 0.2}],
        "disruption": {"frozen": ["T1"]},
    }
    inst = Instance(problem_of(data))
    s = State(inst, inst.current)
    assert recom_pair(s, 0, 1, np.random.default_rng(0), n_trees=3) is None
    assert recom_pair(s, 1, 3, np.random.default_rng(0), n_trees=3) is not None


def _connected_splits(inst: Instance, M: np.ndarray, a: int, b: int):
    """Every split of the units M into two connected, non-empty parts a and b keeping the locks."""
    sub = inst.problem.adj[M][:, M]
    lk = inst.locks[M]
    for bits in itertools.product([a, b], repeat=len(M)):
        new = np.array(bits)
        if (new == a).all() or (new == b).all() or ((lk >= 0) & (new != lk)).any():
            continue
        pieces = territory_components(sub, new, max(a, b) + 1)
        if pieces[a] == 1 and pieces[b] == 1:
            yield new


def _split_cost(inst: Instance, M: np.ndarray, new: np.ndarray) -> float:
    """Each part's cost around its best member (the evaluator's rule), explicit distances."""
    total = 0.0
    for t in np.unique(new).tolist():
        part = M[new == t]
        D = inst.explicit_distances[np.ix_(part, part)]
        C = inst.weights[part][:, None] * (D if inst.power == 1 else D * D)
        total += float(C.sum(axis=0).min())
    return total


@pytest.mark.parametrize("seed,power", [(0, 1), (1, 2), (2, 1), (3, 2)])
def test_recom_finds_the_best_split_of_a_tiny_pair(seed, power):
    """8 units, two territories, explicit distances (so the cost estimate is exact): over
    enough trees ReCom returns the least violation, then the least cost, of every split into
    two connected parts, and nothing worse than the current split."""
    inst = Instance(problem_of(square_points(8, 2, seed=seed, tol=0.3, power=power, explicit=True)))
    start = None
    for labels in _connected_splits(inst, np.arange(inst.n), 0, 1):
        start = labels  # any connected split as the current one
        break
    assert start is not None
    s = State(inst, start)
    M = np.arange(inst.n)
    keys = []
    for new in _connected_splits(inst, M, 0, 1):
        tot = np.stack([inst.loads[new == t].sum(axis=0) for t in (0, 1)])
        keys.append((float(inst.violation(tot, np.array([0, 1])).sum()), _split_cost(inst, M, new)))
    best_v = min(v for v, _ in keys)
    best_c = min(c for v, c in keys if v <= best_v + NOISE)
    res = recom_pair(s, 0, 1, np.random.default_rng(seed), n_trees=300, noise=3.0)
    assert res is not None
    _check_split(s, 0, 1, res)
    M_r, new, viol, cost = res
    assert viol <= best_v + 1e-9
    assert cost == pytest.approx(_split_cost(inst, M_r, new), rel=1e-9)  # the reported cost is the split's
    assert cost <= best_c * (1 + 1e-9)
    cur_tot = s.tot[[0, 1]]
    cur_v = float(inst.violation(cur_tot, np.array([0, 1])).sum())
    assert viol <= cur_v + NOISE
    if viol <= cur_v - NOISE:
        return
    assert cost <= _split_cost(inst, M, start) * (1 + 1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 5), cols=st.integers(2, 6), noise=st.floats(0.0, 3.0))
def test_spanning_trees_and_subtree_sums(seed, rows, cols, noise):
    """Each tree's preorder visits every node once, each subtree is a contiguous run of it
    whose sums match a direct sum, and a cut's two sides are connected."""
    inst = Instance(problem_of(weighted_grid(rows, cols, 2, seed=seed)))
    m = inst.n
    sub = inst.problem.adj.tocoo()
    keep = sub.row < sub.col
    r, c = sub.row[keep].astype(np.int64), sub.col[keep].astype(np.int64)
    elen = np.ones(len(r))
    rng = np.random.default_rng(seed)
    base = rng.random((m, 3))
    trees = list(random_spanning_trees(m, r, c, elen, rng, 3, noise))
    assert len(trees) == 3
    for order, tin, size in trees:
        assert sorted(order.tolist()) == list(range(m))
        assert (tin[order] == np.arange(m)).all()
        assert size[order[0]] == m
        sums = subtree_sums(base, order, tin, size, np.arange(m))
        for v in range(m):
            inside = in_subtree(tin, size, v)
            assert inside.sum() == size[v]
            assert np.allclose(sums[v], base[inside].sum(axis=0))
            if v != order[0]:
                labels = inside.astype(int)
                assert (territory_components(inst.problem.adj, labels, 2) == 1).all()
