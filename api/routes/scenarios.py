"""Saved scenarios: create, list, read, new versions, delete, validate; JSON or CSV upload."""

from __future__ import annotations

import csv
import json
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi import Path as PathParam
from pydantic import BaseModel

from api.deps import ApiKeyDep, FormPart, MultipartDep, SessionDep, TenantDep, invalid_key, read_db, require_key
from api.errors import ERROR_RESPONSES
from engine.io import parse_scenario, scenario_dict_from_csv
from engine.problem import build_problem
from models import Scenario, ScenarioError
from scenarios import repository
from scenarios.tables import ScenarioRecord, ScenarioVersion
from solvers.precheck import infeasibility_reasons

router = APIRouter(prefix="/scenarios", tags=["scenarios"], responses=ERROR_RESPONSES)

# The body of POST /scenarios and PUT /scenarios/{id}: the scenario JSON of docs/scenario.md.
ScenarioCreate = Scenario
ScenarioUpdate = Scenario
ScenarioId = Annotated[str, PathParam(description="Scenario id, as returned on create.")]
MAX_PAGE = 500


class ScenarioPublic(BaseModel):
    id: str
    version: int
    name: str
    units: int
    territories: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: ScenarioRecord) -> ScenarioPublic:
        return cls(
            id=record.id,
            version=record.latest_version,
            name=record.name,
            units=record.units,
            territories=record.territories,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class ScenariosPublic(BaseModel):
    data: list[ScenarioPublic]
    count: int


class VersionPublic(BaseModel):
    id: str
    version: int
    name: str
    units: int
    territories: int
    created_at: datetime

    @classmethod
    def of(cls, row: ScenarioVersion | repository.VersionText) -> VersionPublic:
        return cls(
            id=row.scenario_id,
            version=row.version,
            name=row.name,
            units=row.units,
            territories=row.territories,
            created_at=row.created_at,
        )


class VersionsPublic(BaseModel):
    data: list[VersionPublic]
    count: int


class ScenarioVersionPublic(VersionPublic):
    """A version with its scenario JSON."""

    scenario: dict[str, Any]


# GET of a scenario version answers with the stored scenario JSON as it is (it was validated and
# serialized when saved), spliced into the small envelope: parsing and re-serializing it on every
# read was most of a read's cost. A version never changes once saved, so (scenario id, version)
# is a strong ETag: a client sending it back in If-None-Match gets 304 while it is still the
# version asked for (the scenario and the key are checked on every request all the same).
_VERSION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"headers": {"ETag": {"description": "Changes with every new version.", "schema": {"type": "string"}}}},
    304: {"description": "Not modified: If-None-Match holds the current ETag."},
}


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


async def _read_version(request: Request, api_key: str | None, scenario_id: str, version: int | None) -> Response:
    """The reads of a version authenticate with the same query that reads it (the hottest route: one query)."""
    tenant_id, row = await read_db(
        request, repository.version_text_for_key, key=require_key(api_key), scenario_id=scenario_id, version=version
    )
    if tenant_id is None:
        raise invalid_key()
    if row is None:
        raise _not_found(scenario_id, version)
    return _version_response(request, row)


def _version_response(request: Request, row: repository.VersionText) -> Response:
    etag = f'"{row.scenario_id}.{row.version}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    envelope = VersionPublic.of(row).model_dump_json().encode()
    body = b"".join((envelope[:-1], b',"scenario":', row.data_json.encode(), b"}"))
    return Response(body, media_type="application/json", headers=headers)


class ScenarioCheck(BaseModel):
    """What the service understood of a scenario, and reasons no plan can exist (when found cheaply)."""

    valid: bool
    name: str
    units: int
    territories: int
    reps: int
    measures: list[str]
    balanced_measures: list[str]
    adjacency_edges: int
    adjacency_derived: bool
    infeasible_reasons: list[str]


def _not_found(scenario_id: str, version: int | None = None) -> HTTPException:
    what = f"scenario '{scenario_id}'" + (f" version {version}" if version is not None else "")
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found")


def _check(scenario: Scenario) -> ScenarioCheck:
    problem = build_problem(scenario)
    return ScenarioCheck(
        valid=True,
        name=scenario.name,
        units=problem.n,
        territories=problem.k,
        reps=len(scenario.reps),
        measures=list(problem.measure_names),
        balanced_measures=[r.measure for r in scenario.balance],
        adjacency_edges=int(problem.adj.nnz // 2),
        adjacency_derived=problem.adjacency_derived,
        infeasible_reasons=infeasibility_reasons(problem),
    )


# -- CSV upload --------------------------------------------------------------------------------

_FILE_FIELDS = ("units", "reps")
_JSON_FIELDS = ("balance", "objective", "disruption", "adjacency", "distances")
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}

_CSV_FORM = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["units", "territories"],
                "properties": {
                    "units": {
                        "type": "string",
                        "format": "binary",
                        "description": "units.csv: id,lat,lon[,workload,potential,name,skills,current,lock,<measures>]",
                    },
                    "reps": {
                        "type": "string",
                        "format": "binary",
                        "description": "reps.csv: id,lat,lon[,name,skills,current,capacity_<measure>]",
                    },
                    "territories": {"type": "integer", "minimum": 1},
                    "name": {"type": "string"},
                    "contiguity": {"type": "boolean"},
                    **{
                        f: {"type": "string", "description": f"JSON, as the scenario's '{f}' field"}
                        for f in _JSON_FIELDS
                    },
                },
            }
        }
    },
}


def _safe_filename(part: FormPart, default: str) -> str:
    name = Path(part.filename or default).name
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    return name or default


def _scenario_from_form(form: dict[str, FormPart]) -> Scenario:
    """units/reps CSV files plus settings as form fields -> a validated scenario."""
    unknown = set(form) - {*_FILE_FIELDS, *_JSON_FIELDS, "territories", "name", "contiguity"}
    if unknown:
        raise ScenarioError(
            f"form.{sorted(unknown)[0]}: unknown field (expected units, reps, territories, name, "
            f"contiguity, {', '.join(_JSON_FIELDS)})"
        )
    if "units" not in form:
        raise ScenarioError("form.units: a units CSV file is required")
    with tempfile.TemporaryDirectory(prefix="territoria-upload-") as tmp:
        paths: dict[str, Path] = {}
        for field in _FILE_FIELDS:
            if field in form and form[field].content:
                filename = _safe_filename(form[field], f"{field}.csv")
                try:
                    form[field].text()
                except UnicodeDecodeError:
                    raise ScenarioError(f"{filename}: not UTF-8 text") from None
                paths[field] = Path(tmp) / field / filename  # one folder each: the names may clash
                paths[field].parent.mkdir()
                paths[field].write_bytes(form[field].content)
        if "units" not in paths:
            raise ScenarioError("form.units: the units CSV file is empty")
        try:
            data = scenario_dict_from_csv(paths["units"], paths.get("reps"))
        except ScenarioError as e:
            raise ScenarioError(str(e).replace(f"{tmp}/units/", "").replace(f"{tmp}/reps/", "")) from None
        except (ValueError, TypeError, csv.Error) as e:
            raise ScenarioError(
                f"{paths['units'].name}: could not read the CSV ({e}); check that every row "
                "has as many columns as the header"
            ) from None
    for field in _JSON_FIELDS:
        if field in form:
            try:
                data[field] = json.loads(form[field].text())
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise ScenarioError(f"form.{field}: not valid JSON ({e})") from None
    if "territories" in form:
        text = form["territories"].text().strip()
        if not text.lstrip("-").isdigit():
            raise ScenarioError(f"form.territories: '{text}' is not a whole number")
        data["territories"] = int(text)
    if "name" in form and form["name"].text().strip():
        data["name"] = form["name"].text().strip()
    if "contiguity" in form:
        text = form["contiguity"].text().strip().lower()
        if text not in _TRUE | _FALSE:
            raise ScenarioError(f"form.contiguity: '{text}' is not true or false")
        data["contiguity"] = text in _TRUE
    return parse_scenario(data)


# -- routes ---------------------------------------------------------------------------------


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ScenarioPublic)
def create_scenario(scenario: ScenarioCreate, session: SessionDep, tenant: TenantDep) -> ScenarioPublic:
    """Save a scenario as version 1."""
    return ScenarioPublic.of(repository.create_scenario(session, tenant_id=tenant.id, scenario=scenario))


@router.post(
    "/csv", status_code=status.HTTP_201_CREATED, response_model=ScenarioPublic, openapi_extra={"requestBody": _CSV_FORM}
)
def create_scenario_from_csv(tenant: TenantDep, form: MultipartDep, session: SessionDep) -> ScenarioPublic:
    """Save a scenario from a units CSV (and optional reps CSV); territories and settings as form fields."""
    scenario = _scenario_from_form(form)
    return ScenarioPublic.of(repository.create_scenario(session, tenant_id=tenant.id, scenario=scenario))


@router.post("/validate", response_model=ScenarioCheck)
def validate_scenario(scenario: ScenarioCreate, _tenant: TenantDep) -> ScenarioCheck:
    """Check a scenario without saving it: 200 with counts, or 422 naming the field and record."""
    return _check(scenario)


@router.post("/validate/csv", response_model=ScenarioCheck, openapi_extra={"requestBody": _CSV_FORM})
def validate_scenario_csv(_tenant: TenantDep, form: MultipartDep) -> ScenarioCheck:
    """Check a CSV upload without saving it."""
    return _check(_scenario_from_form(form))


@router.get("", response_model=ScenariosPublic)
def list_scenarios(
    session: SessionDep,
    tenant: TenantDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> ScenariosPublic:
    """The caller's scenarios, most recently updated first; `count` is the total."""
    rows, count = repository.list_scenarios(session, tenant_id=tenant.id, offset=offset, limit=limit)
    return ScenariosPublic(data=[ScenarioPublic.of(r) for r in rows], count=count)


@router.get("/{scenario_id}", response_model=ScenarioVersionPublic, responses=_VERSION_RESPONSES)
async def get_scenario(scenario_id: ScenarioId, request: Request, api_key: ApiKeyDep) -> Response:
    """The latest version with its scenario JSON; sends an ETag, honours If-None-Match (304)."""
    return await _read_version(request, api_key, scenario_id, None)


@router.put("/{scenario_id}", response_model=ScenarioPublic)
def update_scenario(
    scenario_id: ScenarioId, scenario: ScenarioUpdate, session: SessionDep, tenant: TenantDep
) -> ScenarioPublic:
    """Save a new version; earlier versions stay readable."""
    record = repository.add_version(session, tenant_id=tenant.id, scenario_id=scenario_id, scenario=scenario)
    if record is None:
        raise _not_found(scenario_id)
    return ScenarioPublic.of(record)


@router.put("/{scenario_id}/csv", response_model=ScenarioPublic, openapi_extra={"requestBody": _CSV_FORM})
def update_scenario_from_csv(
    scenario_id: ScenarioId, tenant: TenantDep, session: SessionDep, form: MultipartDep
) -> ScenarioPublic:
    """Save a new version from a CSV upload."""
    if repository.get_scenario(session, tenant_id=tenant.id, scenario_id=scenario_id) is None:
        raise _not_found(scenario_id)
    record = repository.add_version(
        session, tenant_id=tenant.id, scenario_id=scenario_id, scenario=_scenario_from_form(form)
    )
    if record is None:
        raise _not_found(scenario_id)
    return ScenarioPublic.of(record)


@router.delete("/{scenario_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_scenario(scenario_id: ScenarioId, session: SessionDep, tenant: TenantDep) -> Response:
    """Delete a scenario (it disappears from the API; its versions are kept in the database)."""
    if not repository.delete_scenario(session, tenant_id=tenant.id, scenario_id=scenario_id):
        raise _not_found(scenario_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{scenario_id}/versions", response_model=VersionsPublic)
def list_versions(scenario_id: ScenarioId, session: SessionDep, tenant: TenantDep) -> VersionsPublic:
    """Every saved version, oldest first, without the scenario JSON."""
    rows = repository.list_versions(session, tenant_id=tenant.id, scenario_id=scenario_id)
    if rows is None:
        raise _not_found(scenario_id)
    return VersionsPublic(data=[VersionPublic.of(r) for r in rows], count=len(rows))


@router.get("/{scenario_id}/versions/{version}", response_model=ScenarioVersionPublic, responses=_VERSION_RESPONSES)
async def get_version(
    scenario_id: ScenarioId,
    version: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    request: Request,
    api_key: ApiKeyDep,
) -> Response:
    """One saved version with its scenario JSON; sends an ETag, honours If-None-Match (304)."""
    return await _read_version(request, api_key, scenario_id, version)
