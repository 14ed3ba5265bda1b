"""The bound beside the search, in a child process: the same relaxation as in process,
below the optimum, stopped on request, and used by solve() when the bound needs the time."""

from __future__ import annotations

import time

import numpy as np

import solvers.bound.lists as bound_lists
import solvers.bound.side as bound_side
from models import SolveOptions
from solvers.bound import BoundParams, schedule
from solvers.bound.side import SideBound
from solvers.solve import solve
from tests.brute_force import brute_optimum
from tests.instances import problem_of, square_points


def test_child_bound_is_below_the_brute_force_optimum():
    prob = problem_of(square_points(7, 3, seed=2, power=1))
    opt = brute_optimum(prob.with_(contiguity=False))[0]
    side = SideBound.start(prob, time.monotonic() + 3.0)
    assert side is not None
    res = side.finish(stop=False, wait_s=10.0)
    assert res is not None and "lagrangian" in res.source
    assert res.bound <= opt * (1 + 1e-12) + 1e-9


def test_child_stops_when_asked():
    prob = problem_of(square_points(3000, 20, seed=1))
    side = SideBound.start(prob, time.monotonic() + 120.0)
    assert side is not None
    time.sleep(4.0)  # start-up, lists, a few steps
    t0 = time.monotonic()
    res = side.finish(stop=True, wait_s=0.0)
    assert time.monotonic() - t0 < 2.5
    assert res is None or res.bound >= 0


def test_child_is_killed_on_cancel():
    prob = problem_of(square_points(3000, 20, seed=1))
    side = SideBound.start(prob, time.monotonic() + 120.0)
    t0 = time.monotonic()
    side.cancel()
    assert time.monotonic() - t0 < 2.0
    assert not side.alive


def _child_for_a_second(monkeypatch) -> None:
    """solve() starts the child at any size, with a second to spare (solve() passes no
    BoundParams yet: the defaults ask for 10 s)."""
    real = schedule.start_beside
    monkeypatch.setattr(
        schedule,
        "start_beside",
        lambda problem, options, clock, params=None: real(problem, options, clock, BoundParams(side_min_seconds=1.0)),
    )
    monkeypatch.setattr(bound_lists, "long_lists_fit", lambda n, k, params=None: False)


def test_solve_uses_the_child_when_the_bound_needs_time(monkeypatch):
    """Forced on a small problem (it normally runs where the bound aggregates, ~10k units):
    the plan carries the child's bound, valid against the plan, and the clock is kept."""
    started = []
    real = SideBound.start.__func__

    def spy(cls, problem, deadline, params=None):
        side = real(cls, problem, deadline, params)
        started.append((side, params))
        return side

    _child_for_a_second(monkeypatch)
    monkeypatch.setattr(SideBound, "start", classmethod(spy))
    monkeypatch.setattr(bound_side, "cores", lambda: 2)
    prob = problem_of(square_points(400, 4, seed=3, tol=0.1))
    t0 = time.monotonic()
    out = solve(prob, SolveOptions(method="heuristic", time_limit_s=5.0, seed=0))
    assert time.monotonic() - t0 < 7.0
    r = out.result
    assert started and started[0][0] is not None
    assert started[0][1].side_min_seconds == 1.0  # the params reach the child
    assert r.status == "feasible" and r.bound is not None
    assert 0 < r.bound <= r.objective
    assert np.isfinite(r.gap)


def test_one_thread_keeps_the_bound_in_process(monkeypatch):
    _child_for_a_second(monkeypatch)
    monkeypatch.setattr(
        SideBound, "start", classmethod(lambda cls, p, d, params=None: (_ for _ in ()).throw(AssertionError("started")))
    )
    prob = problem_of(square_points(200, 4, seed=3, tol=0.1))
    r = solve(prob, SolveOptions(method="heuristic", time_limit_s=3.0, seed=0, threads=1)).result
    assert r.status == "feasible" and r.bound is not None


def test_plans_offered_to_the_child_steer_it_and_never_fail():
    """Better plans' objectives go to the child as lines (only improvements); offering after
    the child has ended is harmless."""
    prob = problem_of(square_points(7, 3, seed=4, power=1))
    opt = brute_optimum(prob.with_(contiguity=False))[0]
    side = SideBound.start(prob, time.monotonic() + 3.0)
    side.offer(None)
    side.offer(opt * 1.5)
    side.offer(opt * 2.0)  # worse: not sent
    assert side.upper == opt * 1.5
    side.offer(opt)
    res = side.finish(stop=False, wait_s=10.0)
    side.offer(opt * 0.5)  # the child is gone
    assert res is not None and res.bound <= opt * (1 + 1e-12) + 1e-9


def test_a_failing_child_says_why():
    """A child that cannot compute the bound (here: no problem at all) gives no bound, and
    SideBound.error carries the last line of its stderr instead of nothing."""
    side = SideBound.start(None, time.monotonic() + 5.0)
    assert side is not None
    assert side.finish(stop=False, wait_s=10.0) is None
    assert side.error and "Error" in side.error, side.error
