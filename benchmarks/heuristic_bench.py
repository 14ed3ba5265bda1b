"""Benchmark of the heuristic solver: county/tract graphs, synthetic customer sets and the
published districting scenarios. Writes benchmarks/results/heuristic_bench.md.

    .venv/bin/python benchmarks/heuristic_bench.py [--quick] [--time-limit 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.evaluate import evaluate  # noqa: E402
from engine.problem import build_problem  # noqa: E402
from models import Scenario, SolveOptions  # noqa: E402
from solvers.clock import Clock  # noqa: E402
from solvers.heuristic.solve import solve_heuristic  # noqa: E402
from tests.instances import DISTRICTING as DATA  # noqa: E402
from tests.instances import graph_scenario, synthetic_scenario  # noqa: E402


def run(problem, time_limit: float, seed: int = 0, method: str = "heuristic"):
    t0 = time.monotonic()
    if method == "heuristic":
        res = solve_heuristic(
            problem, SolveOptions(method="heuristic", time_limit_s=time_limit, seed=seed), Clock(time_limit)
        )
    else:
        from solvers.solve import solve

        res = solve(problem, SolveOptions(method=method, time_limit_s=time_limit, seed=seed)).result
    dt = time.monotonic() - t0
    ev = evaluate(problem, res.labels)
    return res, ev, dt


def row(name, problem, res, ev, dt, ratio=None):
    devs = []
    for r in np.flatnonzero(problem.balanced):
        devs.append(float(np.abs(ev.deviation[:, r]).max()))
    dev_s = " / ".join(f"{d:.2%}" for d in devs)
    rs = "" if ratio is None else f"{ratio:.4f}"
    return f"| {name} | {problem.n} | {problem.k} | {dt:.1f} | {'yes' if ev.feasible else 'NO'} | {dev_s} | {ev.objective:,.6g} | {rs} |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--only", default=None, help="substring filter on instance names")
    ap.add_argument("--out", default=None, help="default benchmarks/results/heuristic_bench.md (or <method>_bench.md)")
    ap.add_argument(
        "--method",
        default="heuristic",
        choices=["heuristic", "auto"],
        help="auto = what a planner gets by default: exact up to 150 units, warm-started",
    )
    args = ap.parse_args()
    if args.out is None:
        args.out = str(ROOT / "benchmarks/results" / f"{args.method}_bench.md")

    instances: list[tuple[str, dict, float | None]] = []
    # published districting scenarios (one measure, +-0.5 %, p=2, explicit distances)
    exp = json.loads((DATA / "scenarios/expected.json").read_text())
    for st, e in exp.items():
        if e["status"] != "optimal":
            continue
        d = json.loads((DATA / f"scenarios/{st}.json").read_text())
        instances.append((f"districting {st}", d, e["obj"]))
    instances += [
        ("county GA (UPOP)", graph_scenario(DATA / "county/county13.json", 4), None),
        ("county KY (RURALPOP)", graph_scenario(DATA / "county/county21.json", 3, potential="RURALPOP"), None),
        ("county TX (UPOP)", graph_scenario(DATA / "county/county48.json", 4), None),
        ("tract NM (UPOP)", graph_scenario(DATA / "tract/tract35.json", 8), None),
        ("tract ME (VAP)", graph_scenario(DATA / "tract/tract23.json", 6, potential="VAP"), None),
    ]
    sizes = [(1000, 8), (2000, 12), (5000, 20)] if not args.quick else [(1000, 8)]
    for n, k in sizes:
        instances.append((f"synthetic {n}/{k}", synthetic_scenario(n, k, seed=n), None))
    if not args.quick:
        instances.append(("synthetic 5000/4", synthetic_scenario(5000, 4, seed=7), None))

    lines = [
        f"# {'Heuristic' if args.method == 'heuristic' else 'Auto (default method)'} benchmark",
        "",
        f"method {args.method}, time limit {args.time_limit:g} s, seed 0, 2 cores. max dev = largest |total - mean| / mean over",
        "territories, per balanced measure (workload / potential). Ratio = our objective * 1e-6 /",
        "published optimum (Validi, Buchanan & Lykhovyd 2022).",
        "",
        "| instance | n | k | time s | feasible | max dev | objective | ratio to optimum |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for name, d, opt in instances:
        if args.only and args.only not in name:
            continue
        problem = build_problem(Scenario.model_validate(d))
        res, ev, dt = run(problem, args.time_limit, method=args.method)
        ratio = ev.objective * 1e-6 / opt if (opt and ev.feasible) else None
        line = row(name, problem, res, ev, dt, ratio)
        lines.append(line)
        print(line, flush=True)
        if not ev.feasible:
            print("   ", res.message, flush=True)
    if not args.only or args.method != "heuristic":
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
