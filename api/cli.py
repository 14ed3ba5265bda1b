"""The `territoria` command line: solve and evaluate scenarios."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.evaluate import evaluate
from engine.io import load_assignment, load_scenario
from engine.problem import Problem, build_problem
from engine.report import plan_csv, plan_json, to_plan
from models import Plan, ScenarioError, SolveOptions
from solvers.result import ProgressEvent
from solvers.solve import solve

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Territoria: sales territory design.")
out = Console()
err = Console(stderr=True)

EXIT_FEASIBLE, EXIT_NO_PLAN, EXIT_INVALID = 0, 1, 2


def _fail_input(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_INVALID)


def _load(path: Path, territories: int | None, reps_csv: Path | None, settings: Path | None = None) -> Problem:
    if path.suffix.lower() == ".csv" and territories is None and settings is None:
        _fail_input("territories: give --territories K (or 'territories' in --settings) when solving a units CSV")
    try:
        scenario = load_scenario(path, territories=territories, reps_csv=reps_csv, settings=settings)
    except ScenarioError as e:
        _fail_input(str(e))
    return build_problem(scenario)


SettingsOption = Annotated[
    Path | None,
    typer.Option(
        "--settings",
        help="With a units CSV: a JSON file of the scenario's other fields (territories, balance, tiers, ...).",
    ),
]


def _fmt_num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def kpi_table(plan: Plan) -> Table:
    table = Table(
        title=f"{plan.scenario}: {plan.status}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
    )
    has_reps = any(t.rep for t in plan.territories)
    distance = "home km" if plan.travel_from == "rep_home" else "mean km"
    cols = ("territory", "rep", "units", "workload", "dev", "potential", "dev", distance, "contig")
    for col in (cols if has_reps else cols[:1] + cols[2:]) + (("unserved",) if plan.skills else ()):
        table.add_column(col, justify="left" if col in ("territory", "rep") else "right", no_wrap=True)
    for t in plan.territories:
        k = t.kpis
        table.add_row(
            t.id,
            *([t.rep or "-"] if has_reps else []),
            str(k.units),
            _fmt_num(k.workload),
            f"{k.workload_dev:+.1%}",
            _fmt_num(k.potential),
            f"{k.potential_dev:+.1%}",
            f"{k.mean_distance_km:,.1f}",
            "yes" if k.contiguous else "[red]NO[/]",
            *([str(getattr(k, "unserved_skills", 0))] if plan.skills else []),
        )
    return table


def _notes(plan: Plan) -> list[str]:
    """What the planner should know besides the table: how travel and contiguity were measured,
    which skills go unserved."""
    lines = []
    if plan.travel_from == "rep_home" and plan.territories:
        lines.append("travel is measured from each rep's home (a territory's center is its median unit, for the map)")
    if plan.adjacency is not None:
        lines += [f"adjacency ({plan.adjacency.source}): {note}" for note in plan.adjacency.notes]
    skills = plan.skills
    if skills is not None and (skills.unserved_count or skills.mode == "soft"):
        shown = ", ".join(f"'{u.unit}' needs {u.skill} ({u.territory}, rep {u.rep})" for u in skills.unserved[:5])
        more = f" and {skills.unserved_count - 5} more" if skills.unserved_count > 5 else ""
        penalty = f", penalty {skills.penalty_total:,.6g}" if skills.mode == "soft" else ""
        lines.append(
            f"skills ({skills.mode}): {skills.unserved_count} unserved{penalty}" + (f": {shown}{more}" if shown else "")
        )
    return lines


def print_summary(plan: Plan) -> None:
    if plan.territories:
        table = kpi_table(plan)
        if out.is_terminal:
            out.print(table)
        else:  # piped output has no width to respect: print the table whole, not cut to 80 columns
            width = max(out.width, Measurement.get(out, out.options.update_width(1000), table).maximum)
            Console(file=out.file, width=width).print(table)
    line = f"status [bold]{plan.status}[/]"
    if plan.stop_reason:
        line += f" ({plan.stop_reason})"
    if plan.objective is not None:
        line += f"  objective {plan.objective:,.6g}"
    if plan.bound is not None:
        line += f"  bound {plan.bound:,.6g}"
    if plan.gap is not None:
        line += f"  gap {plan.gap:.2%}"
    if plan.kpis is not None:
        line += f"  max dev workload {plan.kpis.max_workload_dev:.1%} potential {plan.kpis.max_potential_dev:.1%}"
    line += f"  {plan.runtime_s:.1f} s"
    out.print(line, highlight=False)
    if plan.message:
        out.print(f"[yellow]{plan.message}[/]", highlight=False, soft_wrap=True)
    for note in _notes(plan):
        out.print(note, highlight=False, soft_wrap=True, markup=False)
    for v in plan.violations[:10]:
        out.print(f"[red]violation:[/] {v}", highlight=False)


@app.command("solve")
def solve_cmd(
    scenario: Annotated[Path, typer.Argument(help="Scenario JSON, or a units CSV (then --territories).")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Where to write the plan JSON.")] = Path("plan.json"),
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds.", min=0.1)] = 60.0,
    method: Annotated[str, typer.Option(help="auto | exact | heuristic")] = "auto",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same plan.")] = 0,
    backend: Annotated[str | None, typer.Option(help="Exact backend (scip, highs, ...).")] = None,
    threads: Annotated[
        int,
        typer.Option(
            help="Cores the solve may use (the exact solver's threads; with 2 or more the "
            "bound of a large scenario runs beside the search).",
            min=1,
            max=256,
        ),
    ] = 2,
    territories: Annotated[int | None, typer.Option(help="Number of territories (overrides the scenario).")] = None,
    reps_csv: Annotated[Path | None, typer.Option("--reps", help="reps.csv when the scenario is a units CSV.")] = None,
    settings: SettingsOption = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write the assignment as CSV.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Solve a scenario and write the plan."""
    if method not in ("auto", "exact", "heuristic"):
        _fail_input(f"--method: '{method}' is not one of auto, exact, heuristic")
    problem = _load(scenario, territories, reps_csv, settings)
    options = SolveOptions(method=method, time_limit_s=time_limit, seed=seed, backend=backend, threads=threads)
    cancel = threading.Event()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=err,
        transient=True,
        disable=quiet or not err.is_terminal,
    ) as progress:
        task = progress.add_task(f"solving {problem.n} units, k={problem.k}", total=time_limit, info="")

        def on_progress(ev: ProgressEvent) -> None:
            info = []
            if ev.objective is not None:
                info.append(f"best {ev.objective:,.6g}")
            if ev.bound is not None:
                info.append(f"bound {ev.bound:,.6g}")
            if ev.message:
                info.append(ev.message)
            progress.update(task, completed=min(ev.elapsed_s, time_limit), info="  ".join(info))

        try:
            outcome = solve(problem, options, on_progress, cancel)
        except KeyboardInterrupt:
            cancel.set()
            err.print("cancelled")
            raise typer.Exit(EXIT_NO_PLAN) from None
    r = outcome.result
    plan = outcome.plan(problem)
    out_path.write_text(plan_json(plan))
    if csv_out is not None and outcome.evaluation is not None:
        csv_out.write_text(plan_csv(problem, outcome.evaluation))
    print_summary(plan)
    out.print(f"plan written to {out_path}", highlight=False)
    raise typer.Exit(EXIT_FEASIBLE if r.status in ("optimal", "feasible") else EXIT_NO_PLAN)


@app.command("evaluate")
def evaluate_cmd(
    scenario: Annotated[Path, typer.Argument(help="Scenario JSON.")],
    plan_path: Annotated[Path, typer.Argument(help="Plan JSON with an 'assignment'.")],
    territories: Annotated[int | None, typer.Option(help="Number of territories for a units CSV.")] = None,
    reps_csv: Annotated[Path | None, typer.Option("--reps", help="reps.csv when the scenario is a units CSV.")] = None,
    settings: SettingsOption = None,
) -> None:
    """Check a plan against a scenario: KPIs and every violated rule."""
    problem = _load(scenario, territories, reps_csv, settings)
    try:
        labels = load_assignment(problem, plan_path)
    except ScenarioError as e:
        _fail_input(str(e))
    ev = evaluate(problem, labels)
    plan = to_plan(problem, ev, status="feasible" if ev.feasible else "infeasible", method="evaluate")
    print_summary(plan)
    raise typer.Exit(EXIT_FEASIBLE if ev.feasible else EXIT_NO_PLAN)


# -- service: `territoria serve`, `territoria apikey ...` ------------------------------------

apikey_app = typer.Typer(no_args_is_help=True, help="API keys for the solver API (one tenant per key owner).")
app.add_typer(apikey_app, name="apikey")


def _service_settings(database_url: str | None):
    from api.settings import Settings

    return Settings(database_url=database_url) if database_url else Settings()


def _migrated_sessionmaker(database_url: str | None):
    from scenarios.db import make_engine, make_sessionmaker, upgrade

    engine = make_engine(_service_settings(database_url).database_url)
    upgrade(engine)
    return engine, make_sessionmaker(engine)


# The standard asyncio event loop, not uvloop even when installed: with uvloop, 50 keep-alive
# clients saw the same throughput but a p99 latency 5-10x higher (some connections wait for
# hundreds of ms; benchmarks/results/api_latency.md). HTTP parsing by httptools (a dependency).
SERVER_OPTIONS: dict = {"loop": "asyncio", "http": "httptools"}

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL (default: TERRITORIA_DATABASE_URL or ./territoria.db)."),
]


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.", min=1, max=65535)] = 8000,
    database_url: DatabaseOption = None,
) -> None:
    """Start the solver API (OpenAPI docs at /docs); migrations are applied on start."""
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(_service_settings(database_url)), host=host, port=port, **SERVER_OPTIONS)


@apikey_app.command("create")
def apikey_create_cmd(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant name (created when new).", min=1)],
    database_url: DatabaseOption = None,
) -> None:
    """Create an API key for a tenant and print it (it is stored hashed: keep it now)."""
    from scenarios import repository

    tenant = tenant.strip()
    if not tenant:
        _fail_input("--tenant: give a non-empty name")
    if len(tenant) > 200 or "\x00" in tenant:
        _fail_input("--tenant: at most 200 characters, no NUL")
    engine, sessions = _migrated_sessionmaker(database_url)
    try:
        with sessions() as session:
            new = repository.create_api_key(session, tenant_name=tenant)
    finally:
        engine.dispose()
    err.print(f"API key for tenant '{new.tenant}' (shown once; send it as X-API-Key):", highlight=False)
    typer.echo(new.key)


@apikey_app.command("list")
def apikey_list_cmd(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's keys.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """List API keys by prefix (the keys themselves are not stored)."""
    from scenarios import repository

    engine, sessions = _migrated_sessionmaker(database_url)
    try:
        with sessions() as session:
            rows = repository.list_api_keys(session, tenant_name=tenant)
    finally:
        engine.dispose()
    table = Table(title="API keys", title_justify="left")
    for col in ("tenant", "prefix", "created", "status"):
        table.add_column(col)
    for key, tenant_name in rows:
        table.add_row(
            tenant_name,
            key.prefix + "...",
            f"{key.created_at:%Y-%m-%d %H:%M}",
            "revoked" if key.revoked_at else "active",
        )
    out.print(table)


def _floats(text: str | None, option: str) -> list[float] | None:
    if not text:
        return None
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        _fail_input(f"{option}: '{text}' is not a comma-separated list of numbers")


@app.command("sweep")
def sweep_cmd(
    scenario: Annotated[Path, typer.Argument(help="Scenario JSON.")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where to write one plan JSON per frontier point.")] = Path(
        "sweep"
    ),
    tolerances: Annotated[
        str | None, typer.Option(help="Comma-separated tolerances for --measure, e.g. 0.02,0.05,0.1")
    ] = None,
    disruption_weights: Annotated[
        str | None, typer.Option(help="Comma-separated disruption weights, e.g. 0,10,100")
    ] = None,
    measure: Annotated[str, typer.Option(help="Measure whose tolerance is swept.")] = "workload",
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds for the whole sweep.", min=0.1)] = 120.0,
    method: Annotated[str, typer.Option(help="auto | exact | heuristic")] = "auto",
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Vary balance tolerance and/or disruption weight; print the balance-vs-disruption frontier."""
    from solvers.sweep import frontier, sweep

    if method not in ("auto", "exact", "heuristic"):
        _fail_input(f"--method: '{method}' is not one of auto, exact, heuristic")
    problem = _load(scenario, None, None)
    if measure not in problem.measure_names:
        _fail_input(f"--measure: unknown measure '{measure}' (known: {', '.join(problem.measure_names)})")
    tols, weights = _floats(tolerances, "--tolerances"), _floats(disruption_weights, "--disruption-weights")
    if not tols and not weights:
        _fail_input("give --tolerances and/or --disruption-weights")
    options = SolveOptions(method=method, time_limit_s=time_limit, seed=seed)
    points = sweep(problem, options, measure=measure, tolerances=tols, disruption_weights=weights)
    front = frontier(problem, points)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = Table(title=f"{problem.name}: balance vs disruption frontier", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("plan", "tolerance", "weight", "max dev", "moved", "compactness", "status"):
        table.add_column(col, justify="right", no_wrap=True)
    for p in points:
        on_front = p in front
        name = "-"
        if on_front and p.evaluation is not None:
            name = f"plan_{front.index(p) + 1}"
            (out_dir / f"{name}.json").write_text(plan_json(p.outcome.plan(problem)))
        ev = p.evaluation
        table.add_row(
            name,
            "-" if p.tolerance is None else f"{p.tolerance:.1%}",
            f"{p.disruption_weight:g}",
            f"{p.max_deviation(problem):.1%}" if ev is not None else "-",
            str(p.moved_units()) if ev is not None else "-",
            f"{ev.compactness:,.6g}" if ev is not None else "-",
            p.outcome.result.status,
        )
    out.print(table)
    out.print(f"{len(front)} plan(s) on the frontier written to {out_dir}", highlight=False)
    raise typer.Exit(EXIT_FEASIBLE if front else EXIT_NO_PLAN)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(EXIT_NO_PLAN)


if __name__ == "__main__":
    main()
