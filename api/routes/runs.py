"""Solver runs: submit (202), poll, list, plans (JSON, CSV, GeoJSON), cancel, live progress (SSE)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import SessionDep, TenantDep
from api.errors import ERROR_RESPONSES, ErrorPublic
from api.runs_export import evaluation_of, plan_geojson, problem_of
from engine.report import plan_csv
from models.options import Method
from scenarios import repository
from scenarios.tables import ACTIVE_STATES, Run, utcnow

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)

RunId = Annotated[str, PathParam(description="Run id, as returned on submit.")]
RunState = Literal["queued", "running", "finished", "failed", "cancelled"]
MAX_PAGE = 500
CANCEL_WAIT_S = 10.0  # how long POST /cancel waits for the worker to hand over its best plan
EVENTS_POLL_S = 0.5
EVENTS_KEEPALIVE_S = 15.0
MAX_TIME_LIMIT_S = 7 * 24 * 3600


class RunCreate(BaseModel):
    """How to solve: method, time limit and seed (the same seed gives the same plan)."""

    model_config = ConfigDict(extra="forbid")

    method: Method = "auto"
    time_limit_s: float = Field(default=60.0, gt=0, le=MAX_TIME_LIMIT_S, strict=True, allow_inf_nan=False)
    seed: int = Field(default=0, ge=0, le=2**31 - 1, strict=True)
    version: int | None = Field(
        default=None, ge=1, le=2**31 - 1, strict=True, description="Scenario version to solve; the latest when absent."
    )


class RunAccepted(BaseModel):
    id: str
    state: RunState
    scenario_id: str
    scenario_version: int


class RunPublic(BaseModel):
    """A run's lifecycle `state` and its plan's `status` (optimal, feasible, infeasible, no_solution, ...)."""

    id: str
    scenario_id: str
    scenario_version: int
    method: str
    time_limit_s: float
    seed: int
    state: RunState
    status: str | None
    stop_reason: str | None
    objective: float | None
    bound: float | None
    gap: float | None
    elapsed_s: float
    message: str | None
    progress: str | None = Field(description="The solver's last progress note.")
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, run: Run) -> RunPublic:
        elapsed = run.elapsed_s
        if run.state == "running" and run.started_at is not None:
            elapsed = max(elapsed, (utcnow() - run.started_at).total_seconds())  # live while it runs
        return cls(
            id=run.id,
            scenario_id=run.scenario_id,
            scenario_version=run.scenario_version,
            method=run.method,
            time_limit_s=run.time_limit_s,
            seed=run.seed,
            state=run.state,
            status=run.status,
            stop_reason=run.stop_reason,
            objective=run.objective,
            bound=run.bound,
            gap=run.gap,
            elapsed_s=round(elapsed, 3),
            message=run.message,
            progress=run.progress_message,
            cancel_requested=run.cancel_requested,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
        )


class RunsPublic(BaseModel):
    data: list[RunPublic]
    count: int


class CancelPublic(BaseModel):
    """The run after cancel, and the best plan it found (null when none)."""

    run: RunPublic
    plan: dict[str, Any] | None


def _run_not_found(run_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"run '{run_id}' not found")


def _get_run(session, tenant_id: int, run_id: str) -> Run:
    run = repository.get_run(session, tenant_id=tenant_id, run_id=run_id)
    if run is None:
        raise _run_not_found(run_id)
    return run


def run_scenario_data(session, tenant_id: int, run_id: str) -> dict[str, Any]:
    """The scenario a run solved, as stored (404 if there is none: a run always has one)."""
    version = repository.get_run_scenario(session, tenant_id=tenant_id, run_id=run_id)
    if version is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"run '{run_id}': its scenario is not found")
    return version.data


def _plan_or_404(session, tenant_id: int, run: Run, *, need_assignment: bool = False):
    plan = repository.get_plan(session, tenant_id=tenant_id, run_id=run.id)
    if plan is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"run '{run.id}' has no plan yet (state {run.state})")
    if need_assignment and not plan.has_assignment:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"run '{run.id}' has no assignment to export (status {plan.data.get('status')})"
        )
    return plan


@router.post("/scenarios/{scenario_id}/runs", status_code=status.HTTP_202_ACCEPTED, response_model=RunAccepted)
def submit_run(
    scenario_id: Annotated[str, PathParam(description="Scenario id.")],
    body: RunCreate,
    request: Request,
    session: SessionDep,
    tenant: TenantDep,
) -> RunAccepted:
    """Queue a solve of the scenario (its latest version unless `version`); poll GET /runs/{id}."""
    run = repository.create_run(
        session,
        tenant_id=tenant.id,
        scenario_id=scenario_id,
        version=body.version,
        method=body.method,
        time_limit_s=body.time_limit_s,
        seed=body.seed,
    )
    if run is None:
        what = f"scenario '{scenario_id}'"
        if body.version is not None and repository.get_scenario(session, tenant_id=tenant.id, scenario_id=scenario_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"version: {what} has no version {body.version}")
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found")
    request.app.state.run_manager.submitted()
    return RunAccepted(id=run.id, state=run.state, scenario_id=run.scenario_id, scenario_version=run.scenario_version)


@router.get("/runs", response_model=RunsPublic)
def list_runs(
    session: SessionDep,
    tenant: TenantDep,
    scenario_id: Annotated[str | None, Query(description="Only runs of this scenario.")] = None,
    state: Annotated[RunState | None, Query(description="Only runs in this state.")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> RunsPublic:
    """The caller's runs, newest first; `count` is the total."""
    rows, count = repository.list_runs(
        session, tenant_id=tenant.id, scenario_id=scenario_id, state=state, offset=offset, limit=limit
    )
    return RunsPublic(data=[RunPublic.of(r) for r in rows], count=count)


@router.get("/runs/{run_id}", response_model=RunPublic)
def get_run(run_id: RunId, session: SessionDep, tenant: TenantDep) -> RunPublic:
    """State, status, objective, bound, gap and elapsed time (live while running)."""
    return RunPublic.of(_get_run(session, tenant.id, run_id))


@router.get("/runs/{run_id}/plan", responses={200: {"description": "The plan JSON (docs/scenario.md)."}})
def get_plan(run_id: RunId, session: SessionDep, tenant: TenantDep) -> JSONResponse:
    """The final plan, or the best so far while the run is going; header X-Plan-Final says which."""
    run = _get_run(session, tenant.id, run_id)
    plan = _plan_or_404(session, tenant.id, run)
    return JSONResponse(
        plan.data, headers={"X-Plan-Final": "true" if plan.final else "false", "X-Run-State": run.state}
    )


@router.get(
    "/runs/{run_id}/plan.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row a unit."}},
)
def get_plan_csv(run_id: RunId, session: SessionDep, tenant: TenantDep) -> Response:
    """The plan's assignment as CSV: id, territory, center, measures, distance to the center."""
    run = _get_run(session, tenant.id, run_id)
    plan = _plan_or_404(session, tenant.id, run, need_assignment=True)
    problem = problem_of(run_scenario_data(session, tenant.id, run.id))
    text = plan_csv(problem, evaluation_of(problem, plan.data))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="plan-{run.id}.csv"'},
    )


@router.get(
    "/runs/{run_id}/plan.geojson",
    response_class=Response,
    responses={
        200: {
            "content": {"application/geo+json": {}},
            "description": "A FeatureCollection of units: their polygons when the scenario has them, else points.",
        }
    },
)
def get_plan_geojson(run_id: RunId, session: SessionDep, tenant: TenantDep) -> Response:
    """Units as GeoJSON (polygons when the scenario gives unit geometry, else points), with
    territory, rep and measures."""
    run = _get_run(session, tenant.id, run_id)
    plan = _plan_or_404(session, tenant.id, run, need_assignment=True)
    scenario = run_scenario_data(session, tenant.id, run.id)
    problem = problem_of(scenario)
    names = {u["id"]: u["name"] for u in scenario["units"] if u.get("name")}
    geometries = {u["id"]: u["geometry"] for u in scenario["units"] if u.get("geometry")}
    body = plan_geojson(problem, evaluation_of(problem, plan.data), plan.data, names, geometries)
    return Response(json.dumps(body), media_type="application/geo+json")


@router.post(
    "/runs/{run_id}/cancel",
    response_model=CancelPublic,
    responses={202: {"model": CancelPublic, "description": "Cancel requested; the worker has not stopped yet."}},
)
def cancel_run(run_id: RunId, request: Request, session: SessionDep, tenant: TenantDep) -> Any:
    """Stop a run and keep the best plan found so far: 200 with the plan once stopped (202 if still stopping)."""
    run = repository.request_cancel(session, tenant_id=tenant.id, run_id=run_id)
    if run is None:
        raise _run_not_found(run_id)
    if run.state == "running":
        request.app.state.run_manager.cancel(run_id)
        deadline = time.monotonic() + CANCEL_WAIT_S
        while run.state in ACTIVE_STATES and time.monotonic() < deadline:
            time.sleep(0.1)
            session.refresh(run)
    plan = repository.get_plan(session, tenant_id=tenant.id, run_id=run.id)
    body = CancelPublic(run=RunPublic.of(run), plan=plan.data if plan is not None else None)
    code = status.HTTP_202_ACCEPTED if run.state in ACTIVE_STATES else status.HTTP_200_OK
    return JSONResponse(body.model_dump(mode="json"), status_code=code)


@router.get(
    "/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Server-sent events: `progress` (a run's fields) while it runs, `end` when it ends.",
        }
    },
)
def run_events(run_id: RunId, request: Request, session: SessionDep, tenant: TenantDep) -> StreamingResponse:
    """Live progress as server-sent events (elapsed, objective, bound, gap, state); the stream ends with the run."""
    _get_run(session, tenant.id, run_id)
    sessions, tenant_id = request.app.state.sessionmaker, tenant.id
    session.close()  # the stream may last minutes: give the connection back now, each poll takes its own
    return StreamingResponse(
        _event_stream(request, sessions, tenant_id, run_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _read_run(sessions, tenant_id: int, run_id: str) -> RunPublic | None:
    with sessions() as session:
        run = repository.get_run(session, tenant_id=tenant_id, run_id=run_id)
        return None if run is None else RunPublic.of(run)


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


async def _event_stream(request: Request, sessions, tenant_id: int, run_id: str):
    yield "retry: 2000\n\n"
    last_key, last_sent = None, time.monotonic()
    while True:
        run = await run_in_threadpool(_read_run, sessions, tenant_id, run_id)
        if run is None:
            yield _sse("error", ErrorPublic(detail=f"run '{run_id}' not found").model_dump())
            return
        data = run.model_dump(
            mode="json",
            include={
                "id",
                "state",
                "status",
                "elapsed_s",
                "objective",
                "bound",
                "gap",
                "message",
                "progress",
                "stop_reason",
            },
        )
        key = tuple(v for k, v in sorted(data.items()) if k != "elapsed_s")
        now = time.monotonic()
        if key != last_key or (run.state == "running" and now - last_sent >= 1.0):
            yield _sse("progress", data)
            last_key, last_sent = key, now
        elif now - last_sent >= EVENTS_KEEPALIVE_S:
            yield ": keep-alive\n\n"
            last_sent = now
        if run.state not in ACTIVE_STATES:
            yield _sse("end", data)
            return
        if await request.is_disconnected():
            return
        await asyncio.sleep(EVENTS_POLL_S)
