"""API latency under load while a solve runs: 50 concurrent clients GET a saved scenario.

Starts `uvicorn api.app:create_app --factory` on a free 127.0.0.1 port with a fresh SQLite
file, saves the Iowa example, then measures GET /api/v1/scenarios/{id} from N concurrent
keep-alive connections (`wrk` when installed, `apt-get install wrk`; else asyncio httpx
clients, which cost more CPU on the same machine), twice: with the server idle, and
while a heuristic solve of 1,000 random points runs in a worker process. Prints and writes
(--out) p50/p90/p99/max latency, throughput, errors and the server's CPU time per request.
The server runs with the options `territoria serve` uses (api.cli.SERVER_OPTIONS) unless
--loop/--http say otherwise.

    .venv/bin/python benchmarks/api_latency.py --clients 50 --seconds 15 --out benchmarks/results/api_latency.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from api.cli import SERVER_OPTIONS  # noqa: E402
from scenarios.db import database_url  # noqa: E402
from tests.api.server import Server, api_key_for  # noqa: E402
from tests.instances import long_points  # noqa: E402

API = "/api/v1"


async def _client(base: str, key: str, path: str, stop_at: float, latencies: list[float], errors: list[str]) -> None:
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            try:
                r = await client.get(path)
                if r.status_code != 200:
                    errors.append(str(r.status_code))
            except httpx.HTTPError as e:
                errors.append(type(e).__name__)
                continue
            latencies.append(time.perf_counter() - t0)


async def _load(base: str, key: str, path: str, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    start = time.monotonic()
    await asyncio.gather(*(_client(base, key, path, start + seconds, latencies, errors) for _ in range(clients)))
    wall = time.monotonic() - start
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "rps": len(latencies) / wall,
        **{f"p{q}": float(np.percentile(ms, q)) for q in (50, 90, 99)},
        "max": float(ms.max()),
    }


_WRK_LUA = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %f %f %f %f\\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def _wrk(base: str, key: str, path: str, clients: int, seconds: float, tmp: str) -> dict:
    script = Path(tmp) / "report.lua"
    script.write_text(_WRK_LUA)
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(clients),
            "-d",
            f"{seconds:g}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            "-H",
            f"X-API-Key: {key}",
            base + path,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests, errors, duration_us, p50, p90, p99, mx = re.search(r"RESULT (.*)", out).group(1).split()
    return {
        "requests": int(requests),
        "errors": int(errors),
        "rps": int(requests) / (int(duration_us) / 1e6),
        "p50": float(p50) / 1000,
        "p90": float(p90) / 1000,
        "p99": float(p99) / 1000,
        "max": float(mx) / 1000,
    }


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--tool",
        choices=("auto", "wrk", "httpx"),
        default="auto",
        help="Load generator: wrk when installed (auto), or asyncio httpx.",
    )
    parser.add_argument("--out", type=Path, default=None, help="Write the results as Markdown here.")
    parser.add_argument(
        "--database-url",
        default=None,
        help="An empty database to use (e.g. postgresql://...); default: a fresh SQLite file.",
    )
    parser.add_argument("--loop", default=SERVER_OPTIONS["loop"], help="uvicorn --loop (auto, asyncio, uvloop).")
    parser.add_argument("--http", default=SERVER_OPTIONS["http"], help="uvicorn --http (auto, h11, httptools).")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    tool = ("wrk" if shutil.which("wrk") else "httpx") if args.tool == "auto" else args.tool

    with tempfile.TemporaryDirectory(prefix="territoria-bench-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        key = api_key_for(url, "bench")
        server = Server(
            url,
            Path(tmp) / "server.log",
            uvicorn_args=("--no-access-log", "--loop", args.loop, "--http", args.http),
        ).start()
        base = server.url
        try:
            with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
                example = (REPO / "scenarios" / "examples" / "iowa_counties.json").read_text()
                sid = client.post(
                    f"{API}/scenarios", content=example, headers={"Content-Type": "application/json"}
                ).json()["id"]
                path = f"{API}/scenarios/{sid}"
                size = len(client.get(path).content)

                def load() -> dict:
                    cpu0 = _cpu_seconds(server.process.pid)
                    if tool == "wrk":
                        result = _wrk(base, key, path, args.clients, args.seconds, tmp)
                    else:
                        result = asyncio.run(_load(base, key, path, args.clients, args.seconds))
                    cpu1 = _cpu_seconds(server.process.pid)
                    result["cpu_us"] = None if cpu0 is None else (cpu1 - cpu0) / max(1, result["requests"]) * 1e6
                    result["cpu_share"] = None if cpu0 is None else (cpu1 - cpu0) / args.seconds
                    result["load"] = os.getloadavg()[0]
                    return result

                idle = load()

                long_sid = client.post(f"{API}/scenarios", json=long_points(1000, 16)).json()["id"]
                rid = client.post(
                    f"{API}/scenarios/{long_sid}/runs", json={"method": "heuristic", "time_limit_s": args.seconds + 60}
                ).json()["id"]
                while client.get(f"{API}/runs/{rid}").json()["state"] != "running":
                    time.sleep(0.1)
                busy = load()
                run = client.get(f"{API}/runs/{rid}").json()
                solving_throughout = run["state"] == "running"
                client.post(f"{API}/runs/{rid}/cancel")
        finally:
            server.stop()

    rows = [("idle", idle), ("while a solve runs", busy)]
    table = [
        "| server | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms | server CPU / request "
        "| server's share of a core | load avg after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        cpu = "-" if r["cpu_us"] is None else f"{r['cpu_us']:.0f} us"
        share = "-" if r["cpu_share"] is None else f"{r['cpu_share']:.2f}"
        table.append(
            f"| {name} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p90']:.1f} "
            f"| {r['p99']:.1f} | {r['max']:.1f} | {cpu} | {share} | {r['load']:.1f} |"
        )
    text = "\n".join(
        [
            "# API latency under load",
            "",
            f"`benchmarks/api_latency.py --clients {args.clients} --seconds {args.seconds:g} --tool {tool} --loop {args.loop} "
            f"--http {args.http}`: {args.clients} "
            f"concurrent keep-alive connections ({'wrk, 2 threads' if tool == 'wrk' else 'asyncio httpx clients'}) on 127.0.0.1 doing GET /api/v1/scenarios/{{id}} "
            f"(the Iowa example, {size:,} bytes of JSON) for {args.seconds:g} s, against one uvicorn process "
            f"({'SQLite in WAL mode' if url.startswith('sqlite') else database_url(url).get_backend_name()}), first idle, then while a heuristic solve of 1,000 points (16 territories) runs in a "
            f"worker process (still running at the end of the measurement: {solving_throughout}).",
            "",
            *table,
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores shared by the load generator, the server and the "
            f"solver worker (1-minute load average {load_before:.1f} before the run: other jobs were using the machine too); "
            f"Python {platform.python_version()}. With a closed loop of {args.clients} clients, latency is mostly queueing "
            "behind the server's throughput (one process, one event loop): mean latency ~ clients / req/s, so the share "
            "of a core the server gets decides the tail. The solver worker runs at nice 10.",
            "",
        ]
    )
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
