"""A/B runs of the heuristic on a fixed instance set (same seed, same time limit):
AL, IA, LA county districting instances (ratio to the published optimum) and US places
1k/20 and 5k/20. One line per instance and setting: objective, time, feasibility, plan hash.

    .venv/bin/python benchmarks/heuristic_ab.py [--time-limit 60] [--only AL,IA] [--seed 0]
        [--a '{"jump_rounds": 10}'] [--b '{"jump_rounds": 5}']

--a and --b are HeuristicParams fields as JSON (A defaults to the defaults); with --b, each
instance runs under both settings, one after the other.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.evaluate import evaluate  # noqa: E402
from engine.problem import build_problem  # noqa: E402
from models import Scenario, SolveOptions  # noqa: E402
from solvers.clock import Clock  # noqa: E402
from solvers.heuristic import HeuristicParams, solve_heuristic  # noqa: E402
from tests.instances import DISTRICTING  # noqa: E402
from tests.instances.customers import us_places  # noqa: E402

DATA = DISTRICTING / "scenarios"


def instances(only: list[str] | None):
    exp = json.loads((DATA / "expected.json").read_text())
    out = []
    for st in ("AL", "IA", "LA"):
        out.append((st, lambda st=st: json.loads((DATA / f"{st}.json").read_text()), exp[st]["obj"] * 1e6))
    for n, k in ((200, 8), (1000, 20), (5000, 20)):
        out.append((f"us{n / 1000:g}k/{k}", lambda n=n, k=k: us_places(n, k), None))
    return [x for x in out if not only or x[0] in only]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=None)
    ap.add_argument("--a", default="{}", help="HeuristicParams fields as JSON (setting A)")
    ap.add_argument("--b", default=None, help="HeuristicParams fields as JSON (setting B)")
    args = ap.parse_args()
    only = args.only.split(",") if args.only else None
    settings = {"A": HeuristicParams(**json.loads(args.a))}
    if args.b is not None:
        settings["B"] = HeuristicParams(**json.loads(args.b))
    for name, make, opt in instances(only):
        problem = build_problem(Scenario.model_validate(make()))
        for label, params in settings.items():
            t0 = time.monotonic()
            res = solve_heuristic(
                problem,
                SolveOptions(method="heuristic", time_limit_s=args.time_limit, seed=args.seed),
                Clock(args.time_limit),
                params=params,
            )
            dt = time.monotonic() - t0
            ev = evaluate(problem, res.labels)
            h = hashlib.sha1(ev.labels.tobytes()).hexdigest()[:8]
            ratio = f" ratio {ev.objective / opt:.4f}" if opt else ""
            print(
                f"{name:8s} {label} n={problem.n:5d} k={problem.k:3d} obj {ev.objective:,.1f}{ratio} "
                f"t {dt:5.1f}s {res.stop_reason} feasible={ev.feasible} hash {h}",
                flush=True,
            )


if __name__ == "__main__":
    main()
