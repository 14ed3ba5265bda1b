"""Realignment of drifted alignments: a plan inside the cap, few moves, and how soon.

    .venv/bin/python benchmarks/realignment_drift.py [--sizes 300:4,2000:12,20000:40] [--seeds 0,1,2]
        [--time-limit 60] [--out benchmarks/results/realignment_drift.md]

Each instance is built the way real drift happens (tests.instances.realignment):
1. customers around four Midwest metros (workload by visit tier, lognormal potential), workload
   within +-5 % and potential within +-10 %; a plan designed by the heuristic (seed 0);
2. drifted: "edits" moves 2 % of the units to a neighbouring territory one at a time (a year of
   hand edits, each keeping both territories connected); "growth" multiplies the workload of
   the customers within 60 km of Indianapolis by 1.25; "both" does both;
3. realigned with the default method under a cap of twice the edited share (5 % for growth
   alone). After "edits" a plan inside the cap is known to exist: undoing the edits.

Reported per case: status, moved units against the cap, the fewest moves the heuristic found,
the seconds to the first plan inside the cap (from the progress events, each plan evaluated),
and, up to 300 units, the fewest moves the exact labelled model proves (`minimize: moved`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.align import align_to_current  # noqa: E402
from engine.evaluate import evaluate  # noqa: E402
from solvers import SolveOptions, solve  # noqa: E402
from tests.instances import problem_of  # noqa: E402
from tests.instances.realignment import MIDWEST, drift, grow_metro, metro_customers, with_current  # noqa: E402

EDITS = 0.02
GROWTH = 1.25
PROVE_UP_TO = 300


def drifted(n: int, k: int, seed: int, kind: str, design_s: float):
    """(scenario dict with `current`, the cap share, whether a plan inside the cap is known) or
    None when the design found no feasible plan."""
    data = metro_customers(n, k, seed=seed)
    problem = problem_of(data)
    design = solve(problem, SolveOptions(method="heuristic", time_limit_s=design_s, seed=0)).result
    if design.status != "feasible":
        return None
    current = design.labels
    if kind in ("edits", "both"):
        current = drift(problem, current, EDITS, seed=seed)
    if kind in ("growth", "both"):
        data = grow_metro(data, *MIDWEST["Indianapolis"], 60.0, GROWTH)
    cap = 2 * EDITS if kind != "growth" else 0.05
    return with_current(data, problem.territory_ids, current), cap, kind == "edits"


def realign(data: dict, cap: float, time_limit: float):
    problem = problem_of({**data, "disruption": {"max_moved_share": cap}})
    first_inside: list[float] = []
    t0 = time.monotonic()

    def progress(event) -> None:
        if first_inside or event.labels is None:
            return
        if evaluate(problem, align_to_current(problem, event.labels)).feasible:
            first_inside.append(time.monotonic() - t0)

    out = solve(problem, SolveOptions(time_limit_s=time_limit, seed=0), on_progress=progress)
    took = time.monotonic() - t0
    if out.evaluation is not None and out.evaluation.feasible and not first_inside:
        first_inside.append(took)
    moved = int(out.evaluation.moved.sum()) if out.evaluation is not None else None
    return problem, out.result, moved, took, (first_inside[0] if first_inside else None)


def proven_fewest(data: dict, time_limit: float) -> int | None:
    out = solve(
        problem_of({**data, "objective": {"minimize": "moved"}}), SolveOptions(method="exact", time_limit_s=time_limit)
    )
    r = out.result
    return int(r.objective) if r.status == "optimal" and r.details.get("moved_proved_minimal") else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="300:4,2000:12,20000:40")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--kinds", default="edits,growth,both")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/realignment_drift.md"))
    args = ap.parse_args()
    sizes = [tuple(int(x) for x in s.split(":")) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    lines = [
        "# Realignment of drifted alignments",
        "",
        f"`benchmarks/realignment_drift.py --sizes {args.sizes} --seeds {args.seeds} --time-limit {args.time_limit:g}`; "
        "2 shared cores; default method, seed 0. Cap: twice the edited share (5 % for growth alone). "
        "'inside known': a plan inside the cap exists (undo the edits). 'fewest found': the fewest moves "
        "the heuristic's first phase found; 'proved': the fewest the exact labelled model proves.",
        "",
        "| n | k | seed | drift | cap (units) | inside known | status | moved | fewest found | proved | "
        "first plan inside the cap s | time s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for n, k in sizes:
        limit = args.time_limit if n < 10_000 else 2 * args.time_limit
        for seed in seeds:
            for kind in args.kinds.split(","):
                case = drifted(n, k, seed, kind, design_s=limit)
                if case is None:
                    lines.append(f"| {n} | {k} | {seed} | {kind} | - | - | design found no feasible plan | | | | | |")
                    print(lines[-1], flush=True)
                    continue
                data, cap, known = case
                problem, result, moved, took, first = realign(data, cap, limit)
                fewest = result.details.get("fewest_moves_found")
                proved = proven_fewest(data, limit) if n <= PROVE_UP_TO else None
                lines.append(
                    f"| {n} | {k} | {seed} | {kind} | {problem.moved_cap} | {'yes' if known else '?'} | "
                    f"{result.status} | {moved} | {fewest if fewest is not None else '-'} | "
                    f"{proved if proved is not None else '-'} | {f'{first:.1f}' if first is not None else '-'} | "
                    f"{took:.1f} |"
                )
                print(lines[-1], flush=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
