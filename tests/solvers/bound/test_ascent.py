"""The bound's ascent step by step (solvers/bound/ascent.py): LB(v, theta) against the
Lagrangian function computed directly with NumPy, the subgradient against 1 - coverage, a
subset pass against a full one, the theta and v steps against their formulas, refinement,
and every evaluated value against the brute-force optimum."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from solvers.bound import BoundParams, lagrangian_bound
from solvers.bound.aggregate import aggregate, member_rows
from solvers.bound.ascent import Ascent
from solvers.bound.lists import neighbour_lists
from solvers.bound.relaxation import workload_bounds
from solvers.clock import Clock
from tests.brute_force import brute_optimum
from tests.instances import problem_of, square_points


@functools.cache
def _instance(seed: int, power: int, explicit: bool, n: int = 9, k: int = 3, tol: float = 0.2):
    return problem_of(square_points(n, k, seed=seed, power=power, explicit=explicit, dup=seed % 3, tol=tol))


@functools.cache
def _optimum(seed: int, power: int, explicit: bool) -> float | None:
    prob = _instance(seed, power, explicit, n=7)
    return brute_optimum(prob.with_(contiguity=False))[0]  # <= the contiguous optimum


def _ascent(
    prob, params: BoundParams | None = None, max_list: int | None = None, max_pairs: int | None = None, **kw
) -> Ascent:
    """An ascent (no units summed exactly unless `params` says so) whose lists cover every
    unit but the farthest from each row (the lists' own radius stands for that one) unless
    max_list says otherwise."""
    params = BoundParams(top=0) if params is None else params
    m = prob.n - 1 if max_list is None else max_list
    lists = neighbour_lists(prob, prob.k, Clock(60.0), max_list=m, max_pairs=max_pairs, params=params)
    return Ascent(prob, lists, Clock(60.0), params, **kw)


def _point(prob, seed: int, margin: float = 1e-4):
    """A random (v, theta) with no pair within `margin` (relative) of being served or not, so
    that float32 lists and the exact distances agree on who is served."""
    rng = np.random.default_rng(seed)
    D = prob.dist_matrix() ** prob.distance_power
    lo, hi, _ = workload_bounds(prob)
    scale = float(np.median(D[D > 0]))
    for _ in range(100):
        v = rng.uniform(0.0, 1.5, prob.n) * scale
        theta = rng.uniform(-0.5 if np.isfinite(hi) else 0.0, 0.5, prob.n) * scale
        s = D - v[:, None] - theta[None, :]
        if (np.abs(s) > margin * scale).all():
            return v, theta
    raise AssertionError("no point away from the border")


def _direct(prob, v, theta):
    """LB(v, theta) by its definition over every (unit, center) pair, one row per unit: rho,
    the load each center serves, and the value with the k smallest rho."""
    D = prob.dist_matrix() ** prob.distance_power  # (i, j)
    w = np.asarray(prob.weights, dtype=float)
    lo, hi, balanced = workload_bounds(prob)
    r = D - v[:, None] - theta[None, :]
    rho = (w[:, None] * np.minimum(0.0, r)).sum(axis=0)
    if balanced:
        rho += np.where(theta > 0, theta * lo, np.where(theta < 0, theta * (hi if np.isfinite(hi) else 0.0), 0.0))
    load = (w[:, None] * (r < 0)).sum(axis=0)
    return rho, load, float((w * v).sum() + np.sort(rho)[: prob.k].sum()), r < 0


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("power", [1, 2])
@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("top", [0, 3, 32])
def test_evaluation_is_the_lagrangian_function(seed, power, explicit, top):
    """One row per unit, lists of all units but one: the float64 evaluation is LB(v, theta)
    of the definition (the lists' float32 distances rounded down: never above it), rho and
    the load per row too; the units summed exactly (top) change nothing."""
    prob = _instance(seed, power, explicit)
    asc = _ascent(prob, BoundParams(top=top))
    assert (asc.relax.rep[: asc.relax.R] == np.arange(prob.n)).all() and (asc.relax.mult[: asc.relax.R] == 1).all()
    v, theta = _point(prob, seed)
    rho, load, value, _ = _direct(prob, v, theta)
    ev = asc.evaluate(v, theta, exact=True)
    w = np.asarray(prob.weights, dtype=float)
    scale = float((w * v).sum() + np.abs(rho).sum() + 1.0)
    assert ev.value <= value + 1e-12 * scale
    assert ev.value == pytest.approx(value, abs=1e-6 * scale)
    np.testing.assert_allclose(ev.rho, rho, atol=1e-6 * scale)
    np.testing.assert_array_equal(ev.load, load)
    # the chosen rows are the k smallest rho
    assert ev.cnt.sum() == prob.k
    assert np.sort(ev.rho[ev.rows]).tolist() == pytest.approx(np.sort(ev.rho)[: prob.k].tolist())


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("power", [1, 2])
@pytest.mark.parametrize("top", [0, 3])
def test_subgradient_is_one_minus_coverage(seed, power, top):
    prob = _instance(seed, power, False)
    asc = _ascent(prob, BoundParams(top=top))
    v, theta = _point(prob, seed + 100)
    ev = asc.evaluate(v, theta, exact=False)
    *_, served = _direct(prob, v, theta)  # (i, j)
    cover = (served[:, ev.rows] * ev.cnt[None, :]).sum(axis=1)
    w = np.asarray(prob.weights, dtype=float)
    np.testing.assert_array_equal(asc.subgradient(ev), np.where(w > 0, 1.0 - cover, 0.0))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("exact", [False, True])
def test_a_subset_pass_keeps_the_other_rows_terms(seed, exact):
    """Between full passes only a subset of rows is recomputed: the others keep the list and
    outside terms of the last full pass; the subset's are those of a full pass at the new v."""
    prob = _instance(seed, 2, False, n=12)
    asc = _ascent(prob, BoundParams(top=0), max_list=4)
    v1, theta = _point(prob, seed, margin=0.0)
    v2, _ = _point(prob, seed + 7, margin=0.0)
    subset = np.array([1, 4, 5, 9])
    first = asc.evaluate(v1, theta, exact=exact)
    part = asc.evaluate(v2, theta, exact=exact, subset=subset)
    full = asc.evaluate(v2, theta, exact=exact)
    others = np.setdiff1d(np.arange(asc.relax.R), subset)
    np.testing.assert_array_equal(part.rho[others], first.rho[others])
    np.testing.assert_array_equal(part.load[others], first.load[others])
    np.testing.assert_array_equal(part.rho[subset], full.rho[subset])
    np.testing.assert_array_equal(part.load[subset], full.load[subset])


@pytest.mark.parametrize("seed", range(3))
def test_theta_step_follows_the_derivative_and_halves_on_a_flip(seed):
    prob = _instance(seed, 1, False, tol=0.05)
    asc = _ascent(prob)
    lo, hi = asc.lo, asc.hi
    step0 = asc.tstep.copy()
    asc.theta = np.zeros(asc.relax.R)
    ev = asc.evaluate(asc.v, asc.theta, exact=False)
    asc.step_theta(ev, full=True)
    up, down = ev.load < lo, ev.load > hi  # at theta = 0: towards the violated bound
    np.testing.assert_allclose(asc.theta, np.where(up, 1.1 * step0, np.where(down, -1.1 * step0, 0.0)))
    moved = up | down
    assert moved.any()
    # the opposite derivative (all rows at once) flips every sign that moved: half the step
    theta1, step1 = asc.theta.copy(), asc.tstep.copy()
    fake = ev.load.copy()
    fake[up], fake[down] = hi + 1.0, lo - 1.0
    asc.step_theta(_with_load(ev, fake, asc.theta), full=True)
    np.testing.assert_allclose(asc.tstep[moved], 0.5 * step1[moved])
    np.testing.assert_allclose(asc.theta[moved], theta1[moved] - np.sign(theta1[moved]) * 0.5 * step1[moved])


def _with_load(ev, load, theta):
    from dataclasses import replace

    return replace(ev, load=load, theta=theta)


def test_a_partial_theta_step_moves_only_the_subset():
    prob = _instance(1, 1, False, tol=0.05)
    asc = _ascent(prob)
    asc.subset = np.array([0, 2])
    ev = asc.evaluate(asc.v, asc.theta, exact=False)
    before = asc.theta.copy()
    asc.step_theta(ev, full=False)
    rest = np.setdiff1d(np.arange(asc.relax.R), asc.subset)
    np.testing.assert_array_equal(asc.theta[rest], before[rest])


def test_v_step_is_a_polyak_step_towards_the_plan():
    prob = _instance(2, 1, False)
    asc = _ascent(prob, upper=1e6)
    asc.start()
    ev = asc.evaluate(asc.v, asc.theta, exact=False)
    g = asc.subgradient(ev)
    norm = float((g * g).sum())
    v0, w = asc.v.copy(), np.asarray(prob.weights, dtype=float)
    asc.lam = 0.5
    asc.step_v(ev, g, norm)
    expected = np.maximum(0.0, v0 + 0.5 * (1e6 - ev.value) / norm * g / w)
    np.testing.assert_allclose(asc.v, np.where(w > 0, expected, 0.0))


def test_steps_and_run_agree_with_the_bound():
    """start() then step() by hand count the evaluations; run() is what lagrangian_bound
    reports (less its safety margin) for the same lists and steps."""
    prob = _instance(0, 2, False)
    params = BoundParams(max_iter=40)
    lists = neighbour_lists(prob, prob.k, Clock(60.0), params=params)
    asc = Ascent(prob, lists, Clock(60.0), params)
    asc.start()
    assert asc.it == 1 and np.isfinite(asc.best)
    assert asc.step() and asc.it == 2
    res = Ascent(prob, lists, Clock(60.0), params).run()
    bound = lagrangian_bound(prob, Clock(60.0), params=params)
    assert res.iterations == bound.iterations <= 40
    assert bound.bound == max(0.0, res.value - 1e-9 * max(1.0, abs(res.value)))


def test_refinement_replaces_cluster_rows_by_their_members():
    """Refined rows take their parent cluster's theta, the ascent restarts from a full pass,
    and the relaxation (less the aggregation's offset) stays below the optimum."""
    seed, power = 3, 2
    prob = _instance(seed, power, False, n=7)
    opt = _optimum(seed, power, False)
    agg = aggregate(prob, 3)
    params = BoundParams()
    lists = neighbour_lists(agg, agg.k, Clock(60.0), max_list=agg.n - 1, max_pairs=agg.n * (agg.n - 1), params=params)
    calls = []

    def refine(relax, rho):
        calls.append(rho)
        big = np.flatnonzero(relax.mult[: relax.R] > 1)
        if not len(big):
            return None
        extra = member_rows(agg, prob, big[:1], agg.n - 1, params)
        return extra, extra.rep

    asc = Ascent(agg, lists, Clock(60.0), params, refine=refine, spare=prob.n)
    asc.start()
    R0 = asc.relax.R
    parent = int(np.flatnonzero(asc.relax.mult[:R0] > 1)[0])
    asc.theta = np.arange(R0, dtype=float)
    asc.lam = 0.01
    ev = asc.evaluate(asc.v, asc.theta, exact=True)
    assert asc.refine_rows(ev.rho)
    size = int(agg.center_count[parent])
    assert asc.relax.R == R0 + size - 1 and asc.refined == size
    assert asc.theta.shape == (asc.relax.R,) and (asc.theta[R0:] == parent).all() and asc.theta[parent] == parent
    assert asc.subset is None and asc.lam == 0.5
    assert (asc.relax.mult[: asc.relax.R] >= 1).all() and asc.relax.mult[: asc.relax.R].sum() == prob.n
    if opt is not None:
        after = asc.evaluate(asc.v, asc.theta, exact=True)
        assert after.value - agg.offset <= opt * (1 + 1e-12) + 1e-9


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 30),
    power=st.sampled_from([1, 2]),
    explicit=st.booleans(),
    top=st.sampled_from([0, 2, 32]),
    lists=st.sampled_from([(None, None), (2, None), (3, None), (4, 12)]),
    groups=st.sampled_from([0, 3, 5]),
    point=st.integers(0, 10_000),
    scale=st.floats(0.1, 3.0),
)
def test_every_evaluated_value_is_below_the_brute_force_optimum(
    seed, power, explicit, top, lists, groups, point, scale
):
    """Weak duality, at any point, with short lists (the outside correction), rows standing
    for groups of centers, aggregated demand (less its offset): the float64 value is a bound."""
    assume(not (explicit and groups))
    opt = _optimum(seed, power, explicit)
    assume(opt is not None)
    prob = _instance(seed, power, explicit, n=7)
    params = BoundParams(top=top)
    base = aggregate(prob, groups) if groups else prob
    m, pairs = lists
    nl = neighbour_lists(base, prob.k, Clock(60.0), max_list=m, max_pairs=pairs, params=params)
    asc = Ascent(base, nl, Clock(60.0), params)
    rng = np.random.default_rng(point)
    d = prob.dist_matrix() ** power
    v = rng.uniform(0.0, scale, base.n) * float(d.max())
    theta = rng.uniform(-scale, scale, asc.relax.R) * float(d.max())
    if not np.isfinite(asc.hi):
        theta = np.maximum(theta, 0.0)
    offset = getattr(base, "offset", 0.0)
    assert asc.evaluate(v, theta, exact=True).value - offset <= opt * (1 + 1e-12) + 1e-9
