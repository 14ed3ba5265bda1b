"""The exact method against brute force on tiny instances, backends against each other,
infeasibility, locks and the time limit. Slow tests reproduce published county optima."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from engine.evaluate import evaluate
from engine.problem import build_problem
from models import Scenario
from models.options import SolveOptions
from solvers.clock import Clock
from solvers.exact import solve_exact
from tests.brute_force import brute_optimum
from tests.instances import DISTRICTING

BACKENDS = ["scip", "highs"]
DATA = DISTRICTING / "scenarios"


def p_territory_id(t: int) -> str:
    return f"T{t + 1}"  # Scenario.territory_ids() when no reps are given


def make_problem(coords, weights, edges, k, tol=None, lo=None, hi=None, contiguity=True, power=2, locks=None):
    n = len(coords)
    ids = [f"u{i}" for i in range(n)]
    units = []
    for i, ((x, y), w) in enumerate(zip(coords, weights)):
        u = {"id": ids[i], "lat": 40 + y * 0.01, "lon": -90 + x * 0.01, "workload": float(w)}
        if locks and i in locks:
            u["lock"] = p_territory_id(locks[i])
        units.append(u)
    d = [[float(round(np.hypot(a[0] - b[0], a[1] - b[1]) * 10)) for b in coords] for a in coords]
    rule = {"measure": "workload"}
    if tol is not None:
        rule["tolerance"] = tol
    else:
        if lo is not None:
            rule["min"] = lo
        if hi is not None:
            rule["max"] = hi
    sc = {
        "name": "tiny",
        "units": units,
        "adjacency": [[ids[a], ids[b]] for a, b in edges],
        "territories": k,
        "balance": [rule],
        "distances": {"ids": ids, "values": d},
        "contiguity": contiguity,
        "objective": {"distance_power": power},
    }
    return build_problem(Scenario.model_validate(sc))


def grid(rows, cols):
    coords = [(c, r) for r in range(rows) for c in range(cols)]
    edges = []
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c
            if c + 1 < cols:
                edges.append((i, i + 1))
            if r + 1 < rows:
                edges.append((i, i + cols))
    return coords, edges


def random_graph(n, seed):
    rng = np.random.default_rng(seed)
    coords = [tuple(p) for p in rng.uniform(0, 10, size=(n, 2)).round(2)]
    # a random spanning tree plus a few nearest-neighbour chords
    edges = set()
    order = rng.permutation(n)
    for t in range(1, n):
        a = int(order[t])
        b = int(order[rng.integers(0, t)])
        edges.add((min(a, b), max(a, b)))
    pts = np.array(coords)
    for i in range(n):
        dist = np.hypot(*(pts - pts[i]).T)
        j = int(np.argsort(dist)[1])
        edges.add((min(i, j), max(i, j)))
    weights = rng.integers(1, 10, size=n)
    return coords, sorted(edges), weights


def solve(problem, backend, tl=30.0, warm_start=None):
    return solve_exact(problem, SolveOptions(method="exact", time_limit_s=tl, backend=backend), Clock(tl), warm_start)


def check_plan(problem, res, bound_known=True):
    """The plan passes the evaluator at the objective reported; the bound, when the backend
    had the time to find one (`bound_known`), lies below it."""
    ev = evaluate(problem, res.labels, res.centers)
    assert not ev.violations, ev.violations
    assert ev.objective == pytest.approx(res.objective, rel=1e-9, abs=1e-6)
    assert res.bound is not None or not bound_known
    assert res.bound is None or res.bound <= res.objective + 1e-6


# 3x3 grid, unit weights except the centre:
#
#   0 - 1 - 2
#   |   |   |
#   3 - 4 - 5        weights 1 1 1 / 1 3 1 / 1 1 1, k = 3, territory workload in [3, 5]
#   |   |   |
#   6 - 7 - 8
@pytest.mark.parametrize("backend", BACKENDS)
def test_grid3x3_matches_brute_force(backend):
    coords, edges = grid(3, 3)
    w = [1, 1, 1, 1, 3, 1, 1, 1, 1]
    p = make_problem(coords, w, edges, k=3, lo=3, hi=5)
    want = brute_optimum(p)[0]
    res = solve(p, backend)
    assert res.status == "optimal", res.message
    check_plan(p, res)
    assert res.objective == pytest.approx(want, rel=1e-9)
    assert res.bound == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_random_graphs_match_brute_force_both_backends(seed):
    n = 8 if seed % 2 else 9
    k = 2 + seed % 2
    coords, edges, w = random_graph(n, seed)
    mean = w.sum() / k
    p = make_problem(coords, w, edges, k=k, lo=np.floor(mean * 0.7), hi=np.ceil(mean * 1.3), power=1 + seed % 2)
    want = brute_optimum(p)[0]
    results = {b: solve(p, b) for b in BACKENDS}
    for b, res in results.items():
        if want is None:
            assert res.status == "infeasible", (b, res.status, res.message)
            continue
        assert res.status == "optimal", (b, res.status, res.message)
        check_plan(p, res)
        assert res.objective == pytest.approx(want, rel=1e-9), b
    if want is not None:
        assert results["scip"].objective == pytest.approx(results["highs"].objective, rel=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_contiguity_matters(backend):
    """A path 0-1-2-3-4 where the cheapest balanced split without contiguity is disconnected:
    heavy ends far apart; with contiguity the solver must return connected territories."""
    coords = [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)]
    w = [4, 1, 2, 1, 4]
    edges = [(0, 1), (1, 2), (2, 3), (3, 4)]
    for contiguity in (True, False):
        p = make_problem(coords, w, edges, k=2, lo=5, hi=7, contiguity=contiguity)
        want = brute_optimum(p)[0]
        res = solve(p, backend)
        assert res.status == "optimal"
        check_plan(p, res)
        assert res.objective == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_locks_respected(backend):
    coords, edges = grid(3, 3)
    w = [1] * 9
    locks = {0: 2, 8: 0, 2: 1}
    p = make_problem(coords, w, edges, k=3, lo=3, hi=3, locks=locks)
    want = brute_optimum(p)[0]
    res = solve(p, backend)
    assert res.status == "optimal", res.message
    check_plan(p, res)
    for i, t in locks.items():
        assert res.labels[i] == t
    assert res.objective == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unit_heavier_than_max_is_infeasible(backend):
    coords, edges = grid(2, 3)
    p = make_problem(coords, [1, 1, 9, 1, 1, 1], edges, k=2, lo=1, hi=8)
    res = solve(p, backend)
    assert res.status == "infeasible"
    assert res.stop_reason == "proved_infeasible"
    assert "balance" in res.message and "u2" in res.message


@pytest.mark.parametrize("backend", BACKENDS)
def test_contiguity_infeasible_is_proved(backend):
    """Star: centre 0 with leaves 1..4, k = 2, each territory exactly 5 of weight:
    possible without contiguity (0,1 | 2,3,4 with weights below), impossible with it."""
    coords = [(0, 0), (1, 0), (0, 1), (-1, 0), (0, -1)]
    w = [1, 4, 2, 2, 1]
    edges = [(0, 1), (0, 2), (0, 3), (0, 4)]
    p = make_problem(coords, w, edges, k=2, lo=5, hi=5, contiguity=False)
    assert solve(p, backend).status == "optimal"
    p = make_problem(coords, [1, 2, 2, 3, 2], edges, k=2, lo=5, hi=5)
    assert brute_optimum(p)[0] is None
    res = solve(p, backend)
    assert res.status == "infeasible", res.message


@pytest.mark.parametrize("backend", BACKENDS)
def test_warm_start_is_used_and_result_verified(backend):
    coords, edges = grid(3, 3)
    p = make_problem(coords, [1] * 9, edges, k=3, lo=3, hi=3)
    ws = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    res = solve(p, backend, warm_start=ws)
    assert res.details["warm_start_used"]
    assert res.status == "optimal"
    check_plan(p, res)
    assert res.objective <= evaluate(p, ws).objective + 1e-9


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_limit_honored(backend):
    coords, edges = grid(8, 8)
    rng = np.random.default_rng(1)
    w = rng.integers(50, 150, size=64)
    p = make_problem(coords, w, edges, k=6, tol=0.01)
    t = time.monotonic()
    res = solve(p, backend, tl=2.0)
    took = time.monotonic() - t
    assert took < 8.0
    assert res.status in ("optimal", "feasible", "no_solution", "infeasible")
    if res.labels is not None:
        # the incumbent phase may leave HiGHS too little time for its root LP: no bound then
        check_plan(p, res, bound_known=False)


def test_progress_and_cancel():
    import threading

    coords, edges = grid(8, 8)
    rng = np.random.default_rng(2)
    p = make_problem(coords, rng.integers(50, 150, size=64), edges, k=6, tol=0.01)
    events = []
    cancel = threading.Event()
    clock = Clock(60.0, events.append, cancel)
    threading.Timer(1.5, cancel.set).start()
    t = time.monotonic()
    res = solve_exact(p, SolveOptions(method="exact", time_limit_s=60.0, backend="scip"), clock)
    assert time.monotonic() - t < 10.0
    assert res.status in ("optimal", "feasible", "cancelled", "infeasible")
    if res.status != "optimal" and res.status != "infeasible":
        assert res.stop_reason == "cancelled"


def test_unknown_backend():
    coords, edges = grid(2, 2)
    p = make_problem(coords, [1] * 4, edges, k=2, lo=2, hi=2)
    res = solve(p, "nope")
    assert res.status == "error"


# -- published county optima (slow) ----------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not DATA.exists(), reason="shared districting data not present")
@pytest.mark.parametrize("state", ["ME", "NM", "ID"])
def test_published_county_optimum(state):
    expected = json.loads((DATA / "expected.json").read_text())[state]
    p = build_problem(Scenario.model_validate(json.loads((DATA / f"{state}.json").read_text())))
    res = solve(p, "scip", tl=120.0)
    assert res.status == "optimal", res.message
    check_plan(p, res)
    assert round(res.objective * 1e-6, 2) == expected["obj"]


@pytest.mark.slow
@pytest.mark.skipif(not DATA.exists(), reason="shared districting data not present")
def test_published_county_infeasible():
    p = build_problem(Scenario.model_validate(json.loads((DATA / "OR.json").read_text())))
    res = solve(p, "scip", tl=120.0)
    assert res.status == "infeasible"


def _moved_cap_realignment():
    """A 4 x 4 grid twice as wide as tall, currently split top | bottom; the compact split is
    left | right and moves half the units, but max_moved_share is 0.1.

        a b c d      current: T1 = top two rows, T2 = bottom two rows
        e f g h
        i j k l
        m n o p
    """
    units = [
        {
            "id": f"u{r}{c}",
            "lat": 40 - r * 0.01,
            "lon": -90 + c * 0.02,
            "workload": 1.0,
            "current": "T1" if r < 2 else "T2",
        }
        for r in range(4)
        for c in range(4)
    ]
    sc = {
        "name": "capped",
        "units": units,
        "territories": 2,
        "balance": [{"measure": "workload", "tolerance": 0.0}],
        "disruption": {"max_moved_share": 0.1},
    }
    return build_problem(Scenario.model_validate(sc))


def test_exact_plan_over_the_moved_cap_is_no_plan_not_an_error():
    """The p-median model has no moved-units cap; its plan breaking the cap is 'no plan found'
    (with the model's bound, still valid), not a solver error."""
    from solvers.solve import solve

    problem = _moved_cap_realignment()
    res = solve_exact(problem, SolveOptions(time_limit_s=10), Clock(10))
    assert res.status == "no_solution" and res.stop_reason != "error", (res.status, res.stop_reason, res.message)
    assert "max_moved_share" in res.message and res.bound is not None
    auto = solve(problem, SolveOptions(time_limit_s=10)).result
    assert auto.status in ("optimal", "feasible") and auto.stop_reason != "error", (
        auto.status,
        auto.stop_reason,
        auto.message,
    )


def test_auto_capped_realignment_gives_the_heuristic_the_time(monkeypatch):
    """The exact model cannot enforce max_moved_share, so `auto` runs the heuristic first with
    the whole time limit (not a warm start's share: its fewest-moves phase, then compactness
    within the cap, solvers.realign), returns a plan within the cap and says why; the exact
    model only gets what the heuristic leaves, after it."""
    import solvers.auto as auto
    import solvers.realign as heuristic
    from solvers import solve

    problem = _moved_cap_realignment()
    assert auto.moved_cap_unenforced_by_exact(problem) == 1  # floor(0.1 * 16)
    events = []
    real_heuristic, real_exact = heuristic.solve_heuristic, auto.solve_exact

    def spy_heuristic(prob, options, clock, warm_start=None, params=None):
        events.append(("heuristic", clock.time_limit_s))
        return real_heuristic(prob, options, clock, warm_start, params)

    def spy_exact(prob, options, clock, warm_start=None, heuristic_params=None):
        events.append(("exact", clock.remaining()))
        return real_exact(prob, options, clock, warm_start, heuristic_params)

    monkeypatch.setattr(heuristic, "solve_heuristic", spy_heuristic)
    monkeypatch.setattr(auto, "solve_exact", spy_exact)
    tl = 6.0
    out = solve(problem, SolveOptions(time_limit_s=tl))
    res = out.result
    assert res.status in ("optimal", "feasible") and out.evaluation.feasible, (res.status, res.message)
    assert int(((res.labels != problem.current) & (problem.current >= 0)).sum()) <= 1
    assert res.status != "optimal"  # the cap-free optimum (left | right) moves half the units
    assert "max_moved_share" in res.message and res.details["auto_route"] == "heuristic_first"
    # the heuristic's phases keep the whole limit but the bound's share (BoundParams.after_share):
    # the fewest-moves phase a share of it, compactness within the cap what that phase leaves
    kinds = [e[0] for e in events]
    assert kinds in (["heuristic", "heuristic"], ["heuristic", "heuristic", "exact"]), events
    fewest, capped = events[0][1], events[1][1]
    assert fewest <= 0.5 * tl and fewest + capped >= 0.8 * tl, events


def test_auto_exact_route_when_cap_cannot_bind():
    """A cap that every plan meets (share 1) or a scenario without a current alignment keeps
    the usual exact route."""
    from solvers.auto import moved_cap_unenforced_by_exact

    problem = _moved_cap_realignment()
    assert moved_cap_unenforced_by_exact(problem.with_(max_moved_share=1.0)) is None
    assert moved_cap_unenforced_by_exact(problem.with_(current=np.full(problem.n, -1))) is None
    assert moved_cap_unenforced_by_exact(problem.with_(max_moved_share=None)) is None


def test_auto_without_any_plan_returns_the_least_violating_attempt(monkeypatch):
    """When neither the warm start nor the exact method finds a plan in time, `auto` hands back
    the warm start's least violating attempt, what it breaks and the exact method's bound,
    not an empty plan (Pennsylvania's counties, k = 5, workload +-5 %, potential +-10 %:
    nothing found in 120 s, and the plan was empty)."""
    import solvers.auto as auto
    from solvers import solve
    from solvers.result import SolveResult

    units = [
        {"id": f"u{i}", "lat": 40.0, "lon": -90 + i * 0.01, "workload": w, "potential": p}
        for i, (w, p) in enumerate([(1, 5), (1, 1), (1, 5), (1, 1), (1, 5), (1, 1)])
    ]
    sc = {
        "name": "path",
        "units": units,
        "territories": 2,
        "adjacency": [[f"u{i}", f"u{i + 1}"] for i in range(5)],
        "balance": [{"measure": "workload", "tolerance": 0.0}, {"measure": "potential", "tolerance": 0.0}],
    }
    problem = build_problem(Scenario.model_validate(sc))  # 3 + 3 along a path: potential 11 vs 7

    def no_plan(prob, options, clock, warm_start=None, heuristic_params=None):
        return SolveResult("no_solution", "time_limit", "exact/scip", bound=1.0, bound_source="SCIP branch-and-cut")

    monkeypatch.setattr(auto, "solve_exact", no_plan)
    res = solve(problem, SolveOptions(time_limit_s=3)).result
    assert res.status == "no_solution" and res.labels is not None and len(res.labels) == 6
    assert "potential" in res.message and "exact method found no plan either" in res.message
    assert res.bound >= 1.0 and res.stop_reason == "time_limit"  # the larger of the two bounds
