"""Compare the plans of two or more runs of one scenario."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import SessionDep, TenantDep
from api.errors import ERROR_RESPONSES, ErrorPublic
from api.routes.runs import RunPublic, run_scenario_data
from api.runs_export import problem_of
from engine.compare import compare_plans
from scenarios import repository

router = APIRouter(
    prefix="/compare",
    tags=["compare"],
    responses={**ERROR_RESPONSES, 409: {"model": ErrorPublic, "description": "A run has no plan yet."}},
)

MAX_RUNS = 20


class CompareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_ids: list[str] = Field(
        min_length=2,
        max_length=MAX_RUNS,
        description="Runs of one scenario; the first is the base the others are diffed against.",
    )
    match_territories: bool | None = Field(
        default=None,
        strict=True,
        description="Match territories across runs by shared workload before diffing; default: only when the "
        "scenario has no current alignment (then territory ids are arbitrary labels).",
    )

    @field_validator("run_ids")
    @classmethod
    def _distinct(cls, ids: list[str]) -> list[str]:
        seen = set()
        for i, run_id in enumerate(ids):
            if run_id in seen:
                raise ValueError(f"run '{run_id}' is given twice (at [{ids.index(run_id)}] and [{i}])")
            seen.add(run_id)
        return ids


class ComparisonPublic(BaseModel):
    """KPIs side by side, per-territory values and deltas against the base run, and which units move where."""

    base_run: str
    scenario_id: str
    matched_territories: bool
    runs: list[dict[str, Any]]
    kpis: dict[str, dict[str, Any]]
    territories: list[dict[str, Any]]
    diffs: list[dict[str, Any]]


def _check_same_units(session, tenant_id: int, base, others) -> None:
    """Runs of different versions compare when the versions have the same units and k (a
    planner changed a tolerance or the method, not the map); otherwise 422."""
    versions = {base.scenario_version}
    base_data = None
    for run in others:
        if run.scenario_version in versions:
            continue
        if base_data is None:
            base_data = run_scenario_data(session, tenant_id, base.id)
        data = run_scenario_data(session, tenant_id, run.id)
        same = data["territories"] == base_data["territories"] and sorted(u["id"] for u in data["units"]) == sorted(
            u["id"] for u in base_data["units"]
        )
        if not same:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"run_ids: run '{run.id}' solved version {run.scenario_version} and run '{base.id}' "
                f"version {base.scenario_version}, whose units or number of territories differ; "
                "compare runs of versions with the same units and territories",
            )
        versions.add(run.scenario_version)


@router.post("", response_model=ComparisonPublic)
def compare_runs(body: CompareRequest, session: SessionDep, tenant: TenantDep) -> ComparisonPublic:
    """KPIs side by side, per-territory deltas and the unit-level diff of runs of one scenario."""
    runs = repository.get_runs(session, tenant_id=tenant.id, run_ids=body.run_ids)
    for run_id in body.run_ids:
        if run_id not in runs:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"run_ids: run '{run_id}' not found")
    ordered = [runs[i] for i in body.run_ids]
    base = ordered[0]
    for run in ordered[1:]:
        if run.scenario_id != base.scenario_id:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"run_ids: run '{run.id}' solved scenario '{run.scenario_id}', not '{base.scenario_id}' "
                f"like run '{base.id}'; compare runs of one scenario",
            )
    _check_same_units(session, tenant.id, base, ordered[1:])
    plans = repository.get_plans(session, tenant_id=tenant.id, run_ids=body.run_ids)
    for run in ordered:
        plan = plans.get(run.id)
        if plan is None or not plan.has_assignment:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"run_ids: run '{run.id}' has no plan to compare (state {run.state}, status {run.status})",
            )
    scenario = run_scenario_data(session, tenant.id, base.id)
    problem = problem_of(scenario)
    match = body.match_territories
    if match is None:
        match = not any(u.get("current") for u in scenario["units"])
    result = compare_plans(
        problem,
        [RunPublic.of(r).model_dump(mode="json") for r in ordered],
        [plans[r.id].data for r in ordered],
        match=match,
    )
    return ComparisonPublic(scenario_id=base.scenario_id, **result)
