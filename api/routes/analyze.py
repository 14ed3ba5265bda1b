"""Check a plan against a scenario: KPIs and every violated rule, by rule and record.

The plan is checked, never trusted: the assignment is evaluated from scratch by the one
evaluator (engine.evaluate), exactly as a solver's plan is.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.deps import SessionDep, TenantDep
from api.errors import ERROR_RESPONSES
from engine.evaluate import evaluate
from engine.io import parse_scenario
from engine.problem import Problem, build_problem
from engine.report import to_plan
from models import ScenarioError
from scenarios import repository

router = APIRouter(prefix="/analyze", tags=["analyze"], responses=ERROR_RESPONSES)

MAX_LISTED = 10


class TerritoryRep(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    rep: str | None = None


class PlanInput(BaseModel):
    """A plan to check: at least its assignment. A plan JSON as the API returns it can be sent back as is."""

    model_config = ConfigDict(extra="ignore")

    assignment: dict[str, str] = Field(min_length=1, description="Unit id -> territory id, for every unit.")
    reps: dict[str, str] | None = Field(
        default=None, description="Territory id -> rep id; checks skills and capacities."
    )
    territories: list[TerritoryRep] | None = Field(
        default=None, description="Read for their `rep` when `reps` is absent."
    )


class AnalyzeRequest(BaseModel):
    """A scenario (inline, or a saved one by id and optional version) and a plan."""

    model_config = ConfigDict(extra="forbid")

    scenario: dict[str, Any] | None = Field(default=None, description="The scenario JSON (docs/scenario.md).")
    scenario_id: str | None = None
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, strict=True)
    plan: PlanInput

    @model_validator(mode="after")
    def _one_scenario(self) -> AnalyzeRequest:
        if (self.scenario is None) == (self.scenario_id is None):
            raise ValueError("scenario: give either 'scenario' (the JSON) or 'scenario_id', not both or neither")
        if self.version is not None and self.scenario_id is None:
            raise ValueError("version: only with 'scenario_id'")
        return self


class ViolationPublic(BaseModel):
    rule: str = Field(description="contiguity, balance, lock, empty, skills, capacity, disruption")
    record: dict[str, str] | None = Field(description="The territory, unit or rep that breaks it: {kind, id}.")
    message: str


class AnalysisPublic(BaseModel):
    feasible: bool
    objective: float
    violation_count: int
    violations_by_rule: dict[str, int]
    violations: list[ViolationPublic]
    kpis: dict[str, Any]
    territories: list[dict[str, Any]]


_RECORD = re.compile(r"\b(territory|unit|rep) (\S+?)(?=[\s,:]|$)")


def _violation(text: str) -> ViolationPublic:
    head, _, _ = text.partition(":")
    record = _RECORD.search(text)
    rule = "empty" if text.endswith(": empty") else head.strip()
    return ViolationPublic(
        rule=rule, record=None if record is None else {"kind": record.group(1), "id": record.group(2)}, message=text
    )


def _listed(ids: list[str]) -> str:
    shown = ", ".join(f"'{i}'" for i in ids[:MAX_LISTED])
    return shown + (f" and {len(ids) - MAX_LISTED} more" if len(ids) > MAX_LISTED else "")


def _labels(problem: Problem, assignment: dict[str, str]) -> np.ndarray:
    """Territory index per unit; 422 naming every unknown unit or territory id and every unassigned unit."""
    unit_index = {u: i for i, u in enumerate(problem.ids)}
    tindex = {t: i for i, t in enumerate(problem.territory_ids)}
    unknown_units = [u for u in assignment if u not in unit_index]
    unknown_territories = sorted({t for t in assignment.values() if t not in tindex})
    problems = []
    if unknown_units:
        problems.append(f"plan.assignment: unknown unit ids {_listed(unknown_units)}")
    if unknown_territories:
        problems.append(
            f"plan.assignment: unknown territory ids {_listed(unknown_territories)} "
            f"(territories: {', '.join(problem.territory_ids[:20])}{', ...' if problem.k > 20 else ''})"
        )
    missing = [u for u in problem.ids if u not in assignment]
    if missing:
        problems.append(f"plan.assignment: {len(missing)} units not assigned: {_listed(missing)}")
    if problems:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "; ".join(problems))
    return np.array([tindex[assignment[u]] for u in problem.ids], dtype=np.int64)


def _reps(problem: Problem, plan: PlanInput) -> np.ndarray | None:
    reps = plan.reps
    if reps is None and plan.territories and any(t.rep for t in plan.territories):
        reps = {t.id: t.rep for t in plan.territories if t.rep}
    if not reps:
        return None
    field = "plan.reps" if plan.reps is not None else "plan.territories"
    rindex = {r: i for i, r in enumerate(problem.rep_ids)}
    unknown_t = [t for t in reps if t not in problem.territory_ids]
    unknown_r = [r for r in reps.values() if r not in rindex]
    missing = [t for t in problem.territory_ids if t not in reps]
    problems = []
    if unknown_t:
        problems.append(f"{field}: unknown territory ids {_listed(unknown_t)}")
    if unknown_r:
        problems.append(
            f"{field}: unknown rep ids {_listed(unknown_r)}"
            + ("" if problem.rep_ids else " (the scenario has no reps)")
        )
    if missing and not problems:
        problems.append(f"{field}: territories without a rep: {_listed(missing)}")
    if problems:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "; ".join(problems))
    return np.array([rindex[reps[t]] for t in problem.territory_ids], dtype=np.int64)


def _scenario_data(body: AnalyzeRequest, session, tenant_id: int) -> dict[str, Any]:
    if body.scenario is not None:
        return body.scenario
    assert body.scenario_id is not None  # the request's validator asks for one or the other
    row = repository.get_version(session, tenant_id=tenant_id, scenario_id=body.scenario_id, version=body.version)
    if row is None:
        what = f"scenario '{body.scenario_id}'" + (f" version {body.version}" if body.version is not None else "")
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"scenario_id: {what} not found")
    return row.data


@router.post("", response_model=AnalysisPublic)
def analyze_plan(body: AnalyzeRequest, session: SessionDep, tenant: TenantDep) -> AnalysisPublic:
    """KPIs of a (hand-edited) plan and every rule it breaks, by rule and record."""
    data = _scenario_data(body, session, tenant.id)
    try:
        scenario = parse_scenario(data)
    except ScenarioError as e:
        raise ScenarioError(f"scenario.{e}" if body.scenario is not None else str(e)) from None
    problem = build_problem(scenario)
    labels = _labels(problem, body.plan.assignment)
    rep_of_territory = _reps(problem, body.plan)
    ev = evaluate(problem, labels, rep_of_territory=rep_of_territory)
    reps = [problem.rep_ids[r] for r in rep_of_territory] if rep_of_territory is not None else None
    plan = to_plan(problem, ev, status="feasible" if ev.feasible else "infeasible", method="analyze", reps=reps)
    violations = [_violation(v) for v in ev.violations]
    by_rule: dict[str, int] = {}
    for v in violations:
        by_rule[v.rule] = by_rule.get(v.rule, 0) + 1
    dumped = plan.model_dump(mode="json", exclude_none=True)
    return AnalysisPublic(
        feasible=ev.feasible,
        objective=ev.objective,
        violation_count=len(violations),
        violations_by_rule=by_rule,
        violations=violations,
        kpis=dumped.get("kpis", {}),
        territories=dumped.get("territories", []),
    )
