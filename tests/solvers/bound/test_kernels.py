"""The bound's compiled inner loop against the formula it computes (solvers/bound/kernels.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.bound.kernels import terms_exact, terms_fast
from tests.instances import REPO


def _reference(idx, gap, w, vt, level, sel):
    """rho_j = -sum_i w_i clip(v_i - level_j + gap_ij, 0, gap_ij) over the whole row, and the
    weight with 0 < s < gap, in float64 NumPy."""
    g = gap[sel].astype(float)
    s = vt[idx[sel]] - level[sel, None] + g
    wi = w[idx[sel]]
    rho = -(wi * np.clip(s, 0.0, g)).sum(axis=1)
    load = (wi * ((s > 0) & (s < g))).sum(axis=1)
    return rho, load


def _rows(seed: int, R: int, m: int, n: int, tops: int):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(R, m)).astype(np.int32)
    gap = np.sort(rng.random((R, m)).astype(np.float32) * 50, axis=1)[:, ::-1].copy()  # falling
    w = rng.random(n) * 3
    vt = rng.random(n) * 40
    vt[rng.choice(n, size=min(tops, n), replace=False)] = -1e30  # units summed elsewhere
    level = rng.random(R) * 80
    return idx, gap, w, vt, level


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    R=st.integers(1, 12),
    m=st.integers(1, 40),
    n=st.integers(1, 60),
    tops=st.integers(0, 5),
    subset=st.booleans(),
)
def test_terms_match_the_formula(seed, R, m, n, tops, subset):
    idx, gap, w, vt, level = _rows(seed, R, m, n, tops)
    sel = np.flatnonzero(np.random.default_rng(seed + 1).random(R) < 0.5) if subset else np.arange(R)
    ref_rho, ref_load = _reference(idx, gap, w, vt, level, sel)
    vmax = float(vt.max())
    rho, load = np.empty(len(sel)), np.empty(len(sel))
    terms_exact(idx, gap, w, vt, level, vmax, sel, rho, load)
    np.testing.assert_allclose(rho, ref_rho, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(load, ref_load, rtol=1e-12, atol=1e-9)
    # the float32 pass only steers: close, not exact
    terms_fast(
        idx,
        gap,
        w.astype(np.float32),
        vt.astype(np.float32),
        level.astype(np.float32),
        np.float32(vmax),
        sel,
        rho,
        load,
    )
    np.testing.assert_allclose(rho, ref_rho, rtol=1e-4, atol=1e-2 * (1 + np.abs(ref_rho).max(initial=0)))


def test_stored_rows_fall_where_demand_side_shrinks_unsort_them():
    """At distance power 2 the aggregated lists' distances are shrunk by each cluster's own
    radius, so a row sorted by distance to the representative need not be sorted by gap; the
    relaxation stores every row by falling gap (what the early stop needs), pairs unchanged."""
    from engine.problem import build_problem
    from models import Scenario
    from solvers.bound.aggregate import aggregate
    from solvers.bound.lists import down32, neighbour_lists, up32
    from solvers.bound.outside import make_blocks
    from solvers.bound.relaxation import Relaxation
    from solvers.clock import Clock

    rng = np.random.default_rng(3)
    n = 300
    lat, lon = 40 + rng.uniform(0, 1, n), -90 + rng.uniform(0, 1, n)
    units = [
        {"id": f"u{i}", "lat": float(lat[i]), "lon": float(lon[i]), "workload": float(rng.integers(1, 9))}
        for i in range(n)
    ]
    prob = build_problem(
        Scenario.model_validate(
            {
                "name": "t",
                "units": units,
                "territories": 4,
                "objective": {"distance_power": 2},
                "balance": [{"measure": "workload", "tolerance": 0.1}],
            }
        )
    )
    agg = aggregate(prob, 60)
    lists = neighbour_lists(agg, 4, Clock(10.0), max_list=30)
    rp = down32(lists.radius_p).astype(float)[:, None]
    gaps = up32(rp - np.minimum(lists.dp.astype(float), rp))
    assert ((gaps[:, 1:] > gaps[:, :-1]).any(axis=1)).any()  # some rows come unsorted
    pairs = [sorted(zip(lists.idx[r].tolist(), gaps[r].tolist(), strict=True)) for r in range(len(gaps))]
    relax = Relaxation(agg, lists, make_blocks(agg, 64))
    assert (relax.gap[:, 1:] <= relax.gap[:, :-1]).all()
    assert [sorted(zip(relax.idx[r].tolist(), relax.gap[r].tolist(), strict=True)) for r in range(relax.R)] == pairs


def test_solve_warms_the_kernels_once_in_a_thread_and_the_api_preload_compiles_them():
    """A solve whose bound runs after the search starts one thread per process that imports
    the bound and compiles both index types; the API's forkserver preload compiles them at
    import. Checked in fresh processes (this one may have compiled them already)."""
    import subprocess
    import sys

    solve_side = (
        "import threading\n"
        "from solvers.bound.schedule import warm_kernels_in_background as warm\n"
        "warm(); warm()\n"
        "ts = [t for t in threading.enumerate() if t.name == 'territoria-bound-warm']\n"
        "assert len(ts) == 1, ts\n"
        "ts[0].join(120)\n"
        "from solvers.bound.kernels import terms_exact, terms_fast\n"
        "assert len(terms_fast.signatures) == 2 and len(terms_exact.signatures) == 2\n"
    )
    preload = (
        "import api.worker_preload\n"
        "from solvers.bound.kernels import terms_exact, terms_fast\n"
        "assert len(terms_fast.signatures) == 2 and len(terms_exact.signatures) == 2\n"
    )
    for code in (solve_side, preload):
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
        assert p.returncode == 0, p.stderr
