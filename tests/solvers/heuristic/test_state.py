"""The heuristic's plan state and its moves: after any sequence of moves, bulk relabels,
re-centerings and sweeps, the incremental tallies equal a recount from scratch; the move
deltas equal the change of recomputed totals; the connectivity check agrees with a search
over the territory.

Instances are tiny and random (Hypothesis): weighted grids (two balanced measures, p = 1 or
2, a current alignment with a disruption weight or a cap on moved units), points with an
explicit distance matrix, rep-centric grids (homes, a hard skill) and a grid with a frozen
territory.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.contiguity import connected_pieces
from solvers.heuristic.instance import Instance
from solvers.heuristic.moves import Moves
from solvers.heuristic.params import HeuristicParams
from solvers.heuristic.state import State
from tests.instances import perturbed_grid, problem_of, rep_grid, square_points, weighted_grid

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- instances
@st.composite
def instances(draw) -> Instance:
    kind = draw(st.sampled_from(["grid", "explicit", "reps", "frozen"]))
    seed = draw(st.integers(0, 10_000))
    if kind == "grid":
        rows, cols = draw(st.integers(2, 6)), draw(st.integers(2, 6))
        k = draw(st.integers(2, min(4, rows * cols - 1)))
        data = weighted_grid(
            rows, cols, k, tol=draw(st.sampled_from([0.02, 0.1, 0.3])), seed=seed, power=draw(st.sampled_from([1, 2]))
        )
        disruption = draw(st.sampled_from(["none", "weight", "cap"]))
        if disruption != "none":
            rng = np.random.default_rng(seed)
            for u in data["units"]:
                u["current"] = f"T{int(rng.integers(1, k + 1))}"
            if disruption == "weight":
                data["objective"]["disruption_weight"] = 3.0
            else:
                data["disruption"] = {"max_moved_share": 0.3}
    elif kind == "explicit":
        data = square_points(
            draw(st.integers(5, 25)),
            draw(st.integers(2, 4)),
            seed=seed,
            power=draw(st.sampled_from([1, 2])),
            explicit=True,
        )
    elif kind == "reps":
        data = rep_grid(seed, draw(st.integers(2, 4)), side=draw(st.integers(4, 6)))
    else:
        data = {
            **perturbed_grid(),
            "balance": [{"measure": "workload", "tolerance": 0.2}],
            "disruption": {"frozen": ["T4"]},
        }
    return Instance(problem_of(data))


def _labels(draw, inst: Instance) -> np.ndarray:
    """Random labels using every territory (not necessarily contiguous)."""
    labels = np.array(draw(st.lists(st.integers(0, inst.k - 1), min_size=inst.n, max_size=inst.n)))
    labels[: inst.k] = np.arange(inst.k)  # no territory empty at the start
    return labels


@st.composite
def states(draw) -> State:
    inst = draw(instances())
    return State(inst, _labels(draw, inst))


# ---------------------------------------------------------------- recounts
def _tot(inst: Instance, labels: np.ndarray) -> np.ndarray:
    tot = np.zeros((inst.k, inst.n_tracked))
    for u, t in enumerate(labels.tolist()):
        tot[t] += inst.loads[u]
    return tot


def _check_tallies(s: State) -> None:
    inst = s.inst
    assert (s.count == np.bincount(s.labels, minlength=inst.k)).all()
    assert np.allclose(s.tot, _tot(inst, s.labels), rtol=1e-9, atol=1e-9)
    cur = inst.current
    assert s.moved == int(((cur >= 0) & (s.labels != cur)).sum())
    # each unit's cost is from its territory's current center (home when rep-centric)
    expected = np.array(
        [inst.assign_cost(np.array([u]), np.array([t]), s.centers)[0] for u, t in enumerate(s.labels.tolist())]
    )
    assert np.allclose(s.ucost, expected, rtol=1e-9, atol=1e-9)
    assert s.cost() == pytest.approx(float(expected.sum()), rel=1e-9, abs=1e-9)


def _check_recentred(s: State) -> None:
    """After re-centering everything: the same centers and costs as a fresh state."""
    fresh = State(s.inst, s.labels)
    assert (s.centers == fresh.centers).all()
    assert np.allclose(s.ucost, fresh.ucost, rtol=1e-9, atol=1e-9)


def _stays_connected_recount(s: State, i: int, a: int) -> bool:
    """Do the neighbours of i in territory a lie in one piece of a without i?"""
    problem = s.inst.problem
    nbrs = [int(j) for j in problem.neighbour_lists[i] if s.labels[j] == a and j != i]
    if len(nbrs) <= 1:
        return True
    members = [u for u in np.flatnonzero(s.labels == a).tolist() if u != i]
    piece_of = {}
    for p, piece in enumerate(connected_pieces(problem.neighbour_lists, members, problem.n)):
        for u in piece.tolist():
            piece_of[u] = p
    return len({piece_of[j] for j in nbrs}) == 1


# ---------------------------------------------------------------- operations
def _apply(s: State, moves: Moves, op: tuple, rng: np.random.Generator) -> None:
    inst = s.inst
    kind = op[0]
    if kind == "move":  # any unit to any territory: the tallies must follow whatever happens
        i, b = op[1] % inst.n, op[2] % inst.k
        a = int(s.labels[i])
        before = list(s.version)
        s.move(i, b)
        assert s.labels[i] == b
        assert s.version[a] > before[a] and s.version[b] > before[b]
    elif kind == "set":
        idx = np.unique(rng.integers(0, inst.n, size=op[1] % inst.n + 1))
        new = rng.integers(0, inst.k, size=len(idx))
        old = s.labels[idx].copy()
        touched = s.set_labels(idx, new)
        assert touched == set(old.tolist()) | set(new.tolist())
    elif kind == "recenter":
        s.recenter(sorted({op[1] % inst.k, op[2] % inst.k}))
    elif kind == "boundary":  # one allowed boundary move, checked as the sweeps check it
        i, a, b = moves.boundary_moves(s)
        if len(i):
            j = op[1] % len(i)
            if moves.movable(s, int(i[j]), int(a[j]), int(b[j])):
                s.move(int(i[j]), int(b[j]))
    elif kind == "swaps":
        moves.sweep_swaps(s)
    elif kind == "compact":
        moves.sweep_compact(s)
    else:
        moves.sweep_repair(s, cost_weight=1e-3)


OPS = st.one_of(
    st.tuples(st.just("move"), st.integers(0, 10_000), st.integers(0, 10)),
    st.tuples(st.just("set"), st.integers(0, 10_000)),
    st.tuples(st.just("recenter"), st.integers(0, 10), st.integers(0, 10)),
    st.tuples(st.just("boundary"), st.integers(0, 10_000)),
    st.tuples(st.sampled_from(["swaps", "compact", "repair"])),
)


# ---------------------------------------------------------------- tests
@SETTINGS
@given(s=states(), ops=st.lists(OPS, max_size=25), seed=st.integers(0, 1000))
def test_incremental_tallies_equal_a_recount(s, ops, seed):
    rng = np.random.default_rng(seed)
    moves = Moves()
    _check_tallies(s)
    _check_recentred(s)
    for op in ops:
        _apply(s, moves, op, rng)
        _check_tallies(s)
        i = int(rng.integers(s.inst.n))
        a = int(s.labels[i])
        assert s.stays_connected(i, a, cap=s.inst.n + 1) == _stays_connected_recount(s, i, a)
    twin = s.clone()
    s.recenter(range(s.inst.k))
    _check_tallies(s)
    _check_recentred(s)
    # a clone is independent of its original
    assert (twin.labels == s.labels).all() and twin.labels is not s.labels
    if s.inst.n > 1:
        twin.move(0, (int(twin.labels[0]) + 1) % s.inst.k)
        assert twin.labels[0] != s.labels[0]
    _check_tallies(twin)


@SETTINGS
@given(s=states(), pick=st.lists(st.integers(0, 10_000), min_size=1, max_size=8))
def test_move_deltas_equal_the_change_of_recomputed_totals(s, pick):
    inst = s.inst
    moves = Moves()
    i, a, b = moves.boundary_moves(s)
    if len(i) == 0:
        return
    # the moves allowed: not locked, not a center, not a territory's last unit, allowed into b
    assert not inst.locked[i].any() and (s.centers[a] != i).all() and (s.count[a] > 1).all()
    assert inst.can_join(i, b).all() and (a != b).all() and (s.labels[i] == a).all()
    dcost, dviol, ddev = moves.deltas(s, i, a, b)

    def totals(x: State) -> tuple[float, float, float]:
        dev = float(inst.squared_deviation(x.tot, np.arange(inst.k)).sum())
        return x.cost(), x.total_violation() + x.disallowed(), dev

    before = totals(s)
    for p in pick:
        j = p % len(i)
        ii, aa, bb = int(i[j]), int(a[j]), int(b[j])
        after_st = s.clone()
        after_st.move(ii, bb)
        after = totals(after_st)
        assert dcost[j] == pytest.approx(after[0] - before[0], rel=1e-6, abs=1e-6)
        assert dviol[j] == pytest.approx(after[1] - before[1], rel=1e-6, abs=1e-9)
        assert ddev[j] == pytest.approx(after[2] - before[2], rel=1e-6, abs=1e-9)
        pv, pd = moves.pair_delta(s, ii, aa, bb)
        assert pv == pytest.approx(dviol[j], rel=1e-9, abs=1e-12)
        assert pd == pytest.approx(ddev[j], rel=1e-9, abs=1e-12)


@SETTINGS
@given(s=states(), cap=st.integers(1, 6), pick=st.lists(st.integers(0, 10_000), min_size=1, max_size=10))
def test_stays_connected_is_exact_below_its_cap_and_never_wrongly_true(s, cap, pick):
    for p in pick:
        i = p % s.inst.n
        a = int(s.labels[i])
        truth = _stays_connected_recount(s, i, a)
        assert s.stays_connected(i, a, cap=s.inst.n + 1) == truth
        if s.stays_connected(i, a, cap=cap):  # a small cap may only say no where the answer is yes
            assert truth


@SETTINGS
@given(s=states(), top=st.integers(1, 4), tries=st.integers(1, 3))
def test_sweeps_never_worsen_what_they_promise(s, top, tries):
    """Compaction and swaps never raise the bound violation and never raise the cost; the
    repair never raises violation_weight * violation + squared deviation + cost term; moves
    keep locks, the territories' connectivity (when it holds) and the cap on moved units."""
    inst = s.inst
    params = HeuristicParams(swap_top=top, swap_tries=tries, bfs_cap=inst.n + 1)
    moves = Moves(params)
    locked_before = s.labels[inst.locked].copy()
    pieces_before = _pieces(s)
    moved_before = s.moved
    viol = s.total_violation() + s.disallowed()
    cost = s.cost()
    moves.sweep_compact(s)
    moves.sweep_swaps(s)
    assert s.total_violation() + s.disallowed() <= viol + 1e-9
    assert s.cost() <= cost + 1e-9 * (1 + abs(cost))
    cw = 1e-3
    score = _repair_score(s, params, cw)
    moves.sweep_repair(s, cw)
    moves.sweep_swaps(s, repair_cw=cw)
    assert _repair_score(s, params, cw) <= score + 1e-9 * (1 + abs(score))
    assert (s.labels[inst.locked] == locked_before).all()
    if inst.contiguity:
        assert (_pieces(s)[pieces_before == 1] == 1).all()
    if inst.move_cap is not None:  # a random start may be past the cap: the moves never add to it then
        assert s.moved <= max(moved_before, inst.move_cap)
    _check_tallies(s)


def _pieces(s: State) -> np.ndarray:
    from engine.contiguity import territory_components

    return territory_components(s.inst.problem.adj, s.labels, s.inst.k)


def _repair_score(s: State, params: HeuristicParams, cw: float) -> float:
    inst = s.inst
    dev = float(inst.squared_deviation(s.tot, np.arange(inst.k)).sum())
    return params.violation_weight * (s.total_violation() + s.disallowed()) + dev + cw * s.cost()


def test_set_labels_without_recentering_keeps_the_tallies_but_not_the_costs():
    """The ReCom chain relabels without re-centering: counts, totals and moved units follow,
    and a later re-centering brings the costs back."""
    inst = Instance(problem_of(weighted_grid(4, 5, 3, seed=1)))
    s = State(inst, np.arange(inst.n) % 3)
    idx = np.array([0, 1, 7])
    touched = s.set_labels(idx, np.array([2, 2, 0]), recenter=False)
    assert (s.count == np.bincount(s.labels, minlength=3)).all()
    assert np.allclose(s.tot, _tot(inst, s.labels))
    s.recenter(touched)
    _check_tallies(s)
