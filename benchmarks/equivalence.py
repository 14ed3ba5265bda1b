"""Same plans and bounds before and after a change that must not change them (a refactor).

Runs cases whose results do not depend on the machine's speed (searches that stop by
convergence, exact solves proved within their limit, the bound alone run to convergence, the
recursive split) and records status, stop reason, objective, bound and a hash of the plan.

    .venv/bin/python benchmarks/equivalence.py record OUT.json [--only SUBSTRING]
    .venv/bin/python benchmarks/equivalence.py compare BEFORE.json [--only SUBSTRING]
        [--out benchmarks/results/equivalence.md]

`compare` runs the cases again and writes a table of what differs. Cases that stop on the
clock (marked "timed") may differ in the bound's last digits; they are listed, not judged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models import SolveOptions  # noqa: E402
from solvers import Clock, solve  # noqa: E402
from tests.instances import (  # noqa: E402
    EXAMPLE,
    districting_scenario,
    graph_scenario,
    grid_scenario,
    perturbed_grid,
    problem_of,
    rep_grid,
    synthetic_scenario,
)
from tests.instances.paths import DISTRICTING  # noqa: E402

TIMED = {"iowa auto 30"}  # its exact phase stops at the time limit


def _with(data: dict, **changes) -> dict:
    return {**data, **changes}


def _iowa() -> dict:
    return json.loads(EXAMPLE.read_text())


def _county(fips: str, k: int, potential: str = "UPOP") -> dict:
    return graph_scenario(DISTRICTING / f"county/county{fips}.json", k, potential=potential)


# name: (scenario, method, time limit s, solve option overrides)
CASES = {
    "iowa auto 30": (_iowa, "auto", 30, {}),
    "iowa heuristic 20": (_iowa, "heuristic", 20, {}),
    "NM exact scip": (lambda: districting_scenario("NM"), "exact", 120, {}),
    "ID exact scip": (lambda: districting_scenario("ID"), "exact", 120, {}),
    "NE exact scip": (lambda: districting_scenario("NE"), "exact", 120, {}),
    "NM exact highs": (lambda: districting_scenario("NM"), "exact", 60, {"backend": "highs"}),
    "OR exact infeasible": (lambda: districting_scenario("OR"), "exact", 60, {}),
    "LA heuristic lns": (lambda: districting_scenario("LA"), "heuristic", 90, {}),
    "GA county heuristic 2 measures": (lambda: _county("13", 4), "heuristic", 60, {}),
    "KY county anneal": (lambda: _county("21", 3, "RURALPOP"), "heuristic", 60, {}),
    "GA county auto": (lambda: _county("13", 4), "auto", 40, {}),
    "synthetic 1000/8": (lambda: synthetic_scenario(1000, 8, seed=1000), "heuristic", 90, {}),
    "synthetic 2000/12": (lambda: synthetic_scenario(2000, 12, seed=2000), "heuristic", 120, {}),
    "rep grid heuristic": (lambda: rep_grid(0, 4), "heuristic", 40, {}),
    "rep grid capped": (lambda: _with(rep_grid(1, 4), disruption={"max_moved_share": 0.2}), "heuristic", 40, {}),
    "rep grid exact 10x10": (lambda: rep_grid(2, 3, side=10), "exact", 60, {}),
    "perturbed moved exact": (
        lambda: _with(
            perturbed_grid(), objective={"minimize": "moved"}, balance=[{"measure": "workload", "tolerance": 0.1}]
        ),
        "auto",
        30,
        {},
    ),
    "perturbed capped auto": (
        lambda: _with(
            perturbed_grid(), disruption={"max_moved_share": 0.2}, balance=[{"measure": "workload", "tolerance": 0.1}]
        ),
        "auto",
        30,
        {},
    ),
    "perturbed weight heuristic": (
        lambda: _with(
            perturbed_grid(), objective={"disruption_weight": 5.0}, balance=[{"measure": "workload", "tolerance": 0.0}]
        ),
        "heuristic",
        30,
        {},
    ),
    "regions grid": (
        lambda: _with(grid_scenario(8, 8, 4), regions=2, balance=[{"measure": "workload", "tolerance": 0.1}]),
        "auto",
        40,
        {},
    ),
}
KEYS = ("status", "stop", "objective", "bound", "plan", "iterations")


def _digest(labels) -> str | None:
    if labels is None:
        return None
    return hashlib.sha1(np.asarray(labels, dtype=np.int64).tobytes()).hexdigest()[:12]


def _run_case(name: str) -> dict:
    make, method, limit, overrides = CASES[name]
    problem = problem_of(make())
    t0 = time.monotonic()
    r = solve(problem, SolveOptions(method=method, time_limit_s=limit, seed=0, **overrides)).result
    return {
        "status": r.status,
        "stop": r.stop_reason,
        "method": r.method,
        "objective": r.objective,
        "bound": r.bound,
        "plan": _digest(r.labels),
        "seconds": round(time.monotonic() - t0, 1),
    }


def _bound_alone(n: int, k: int) -> dict:
    from solvers.bound import lagrangian_bound

    t0 = time.monotonic()
    b = lagrangian_bound(problem_of(synthetic_scenario(n, k, seed=n)), Clock(300.0))
    return {"bound": b.bound, "iterations": b.iterations, "seconds": round(time.monotonic() - t0, 1)}


def _split(n: int, k: int) -> dict:
    from solvers.heuristic.instance import Instance
    from solvers.heuristic.split import recursive_split

    t0 = time.monotonic()
    labels = recursive_split(
        Instance(problem_of(synthetic_scenario(n, k, seed=n))), np.random.default_rng(0), Clock(300.0)
    )
    return {"plan": _digest(labels), "seconds": round(time.monotonic() - t0, 1)}


RUNS = {
    **{name: (lambda name=name: _run_case(name)) for name in CASES},
    "bound alone 1000/8": lambda: _bound_alone(1000, 8),
    "bound alone 2000/12": lambda: _bound_alone(2000, 12),
    "split 20000/100": lambda: _split(20000, 100),
}


def run(only: str | None) -> dict:
    out = {}
    for name, fn in RUNS.items():
        if only and only not in name:
            continue
        out[name] = fn()
        print(name, out[name], flush=True)
    return out


def compare(before: dict, after: dict) -> tuple[list[str], int]:
    lines = ["| case | same | seconds before / after | what differs |", "|---|---|---|---|"]
    differ = 0
    for name, now in after.items():
        was = before.get(name)
        if was is None:
            lines.append(f"| {name} | (no record) | - / {now.get('seconds')} | |")
            continue
        diffs = [f"{k}: {was.get(k)} -> {now.get(k)}" for k in KEYS if was.get(k) != now.get(k)]
        timed = name in TIMED
        differ += bool(diffs) and not timed
        same = "yes" if not diffs else ("timed" if timed else "NO")
        lines.append(f"| {name} | {same} | {was.get('seconds')} / {now.get('seconds')} | {'; '.join(diffs)} |")
    return lines, differ


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=["record", "compare"])
    ap.add_argument("file")
    ap.add_argument("--only")
    ap.add_argument("--out", default=None, help="with compare: write the table here too")
    args = ap.parse_args()
    if args.action == "record":
        path = Path(args.file)
        old = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**old, **run(args.only)}, indent=1) + "\n")
        return
    lines, differ = compare(json.loads(Path(args.file).read_text()), run(args.only))
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text(
            "# Same plans and bounds\n\n`benchmarks/equivalence.py compare` against "
            f"`{args.file}`\n\n" + "\n".join(lines) + "\n"
        )
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
