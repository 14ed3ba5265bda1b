"""Reading and writing tenants, API keys, saved scenarios, runs and plans. Keyword-only functions.

Every query on user data filters on `tenant_id`: another tenant's id is simply not found.
Write functions commit; callers hand in a validated `models.Scenario`.

The run manager's functions (section "run lifecycle") take a run id without a tenant: they
are called by the server and its worker processes for runs they created, never with an id
from a request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import typing
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, Text, and_, bindparam, cast, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, defer

from models import Scenario, ScenarioError
from scenarios.tables import ACTIVE_STATES, ApiKey, Run, RunPlan, ScenarioRecord, ScenarioVersion, Tenant, utcnow

KEY_PREFIX = "terr_"
_LOOKUP_CHARS = 8  # of the random part, stored in clear to find the row


# -- tenants and API keys ------------------------------------------------------------------


def _write(session: Session, statement: Any) -> CursorResult:
    """Execute an UPDATE or DELETE; its result says how many rows it changed (`rowcount`)."""
    return typing.cast(CursorResult, session.execute(statement))


def get_or_create_tenant(session: Session, *, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        tenant = Tenant(name=name)
        session.add(tenant)
        session.commit()
    return tenant


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _lookup_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + _LOOKUP_CHARS]


@dataclass(frozen=True)
class NewApiKey:
    key: str  # shown once, never stored
    tenant: str
    prefix: str
    id: int


def create_api_key(session: Session, *, tenant_name: str) -> NewApiKey:
    """A new random key for the tenant (created when new); only its sha256 is stored."""
    tenant = get_or_create_tenant(session, name=tenant_name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(tenant_id=tenant.id, prefix=_lookup_prefix(key), key_hash=_hash_key(key))
    session.add(row)
    session.commit()
    return NewApiKey(key=key, tenant=tenant.name, prefix=row.prefix, id=row.id)


@dataclass(frozen=True)
class TenantRef:
    """Who a request acts for: a tenant's id and name (a plain value, no database session attached)."""

    id: int
    name: str


# Built once with bound parameters: SQLAlchemy then reuses the compiled SQL without rebuilding
# the statement and its cache key on every request.
_api_keys, _tenants = ApiKey.__table__, Tenant.__table__
_KEY_LOOKUP = (
    select(_api_keys.c.key_hash, _tenants.c.id, _tenants.c.name)
    .join_from(_api_keys, _tenants, _tenants.c.id == _api_keys.c.tenant_id)
    .where(_api_keys.c.prefix == bindparam("prefix"), _api_keys.c.revoked_at.is_(None))
)


def tenant_for_key(db: Session | Connection, *, key: str) -> TenantRef | None:
    """The tenant owning an active key, or None; the hash is compared in constant time.

    One indexed query per call, on a Session or a bare Connection, and nothing cached: a key
    revoked by any process (the CLI, another server) is refused from the next request on.
    """
    row = _row_for_key(db, _KEY_LOOKUP, key)
    return None if row is None else TenantRef(id=row[1], name=row[2])


def _row_for_key(db: Session | Connection, query, key: str, **params):
    """The row of `query` (selected by the key's lookup prefix, the key's hash first) whose
    hash is the key's, or None; malformed keys query nothing, hashes compare in constant time."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = _hash_key(key)
    for row in db.execute(query, {"prefix": _lookup_prefix(key), **params}).all():
        if hmac.compare_digest(row[0], digest):
            return row
    return None


def list_api_keys(session: Session, *, tenant_name: str | None = None) -> list[tuple[ApiKey, str]]:
    """(key row, tenant name) for every key, oldest first; hashes only, never the keys."""
    query = select(ApiKey, Tenant.name).join(Tenant).order_by(ApiKey.id)
    if tenant_name is not None:
        query = query.where(Tenant.name == tenant_name)
    return [(key, name) for key, name in session.execute(query).all()]


def revoke_api_key(session: Session, *, prefix: str) -> int:
    """Revoke the active keys starting with `prefix`; returns how many."""
    rows = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))).all()
    for row in rows:
        row.revoked_at = utcnow()
    session.commit()
    return len(rows)


# -- scenarios -----------------------------------------------------------------------------


def _stored_json(scenario: Scenario) -> dict[str, Any]:
    """The scenario as the user wrote it (fields they set), in plain JSON types."""
    return scenario.model_dump(mode="json", exclude_unset=True)


def _live_where(tenant_id: int) -> tuple:
    """The tenant's scenarios that are not deleted, as WHERE conditions."""
    return ScenarioRecord.tenant_id == tenant_id, ScenarioRecord.deleted_at.is_(None)


def _live(tenant_id: int):
    return select(ScenarioRecord).where(*_live_where(tenant_id))


NAME_MAX = 500  # the name columns' length


def _check_storable(scenario: Scenario) -> None:
    """What every database stores: PostgreSQL enforces column lengths and refuses NUL characters in text."""
    if len(scenario.name) > NAME_MAX:
        raise ScenarioError(f"name: at most {NAME_MAX} characters (got {len(scenario.name)})")
    if "\x00" in scenario.name:
        raise ScenarioError("name: must not contain NUL characters")


def create_scenario(session: Session, *, tenant_id: int, scenario: Scenario) -> ScenarioRecord:
    """Save a new scenario as version 1 (ScenarioError when its name cannot be stored)."""
    _check_storable(scenario)
    record = ScenarioRecord(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        name=scenario.name,
        latest_version=1,
        units=len(scenario.units),
        territories=scenario.territories,
    )
    session.add(record)
    session.flush()
    session.add(_version_row(record, scenario))
    session.commit()
    return record


def _version_row(record: ScenarioRecord, scenario: Scenario) -> ScenarioVersion:
    return ScenarioVersion(
        scenario_id=record.id,
        version=record.latest_version,
        name=scenario.name,
        units=len(scenario.units),
        territories=scenario.territories,
        data=_stored_json(scenario),
    )


def get_scenario(session: Session, *, tenant_id: int, scenario_id: str) -> ScenarioRecord | None:
    return session.scalar(_live(tenant_id).where(ScenarioRecord.id == scenario_id))


def list_scenarios(
    session: Session, *, tenant_id: int, offset: int = 0, limit: int = 50
) -> tuple[list[ScenarioRecord], int]:
    """One page of the tenant's scenarios, most recently updated first, and the total count."""
    count = session.scalar(select(func.count()).select_from(_live(tenant_id).subquery())) or 0
    rows = session.scalars(
        _live(tenant_id).order_by(ScenarioRecord.updated_at.desc(), ScenarioRecord.id).offset(offset).limit(limit)
    ).all()
    return list(rows), count


def add_version(session: Session, *, tenant_id: int, scenario_id: str, scenario: Scenario) -> ScenarioRecord | None:
    """Save `scenario` as the next version; earlier versions stay. None when not found.

    The version number is taken by an UPDATE ... RETURNING, which holds the write lock (SQLite)
    or the row lock (PostgreSQL) until the commit: PUTs at the same time get distinct numbers.
    (A SELECT ... FOR UPDATE first would not do on SQLite, which ignores FOR UPDATE.)
    """
    _check_storable(scenario)
    record = session.scalars(
        update(ScenarioRecord)
        .where(ScenarioRecord.id == scenario_id, *_live_where(tenant_id))
        .values(
            latest_version=ScenarioRecord.latest_version + 1,
            name=scenario.name,
            units=len(scenario.units),
            territories=scenario.territories,
            updated_at=utcnow(),
        )
        .returning(ScenarioRecord)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).one_or_none()
    if record is None:
        session.rollback()
        return None
    session.add(_version_row(record, scenario))
    session.commit()
    return record  # as this PUT left it (a later PUT may have moved on already)


def list_versions(session: Session, *, tenant_id: int, scenario_id: str) -> list[ScenarioVersion] | None:
    """All versions, oldest first, without their scenario JSON; None when not found."""
    if get_scenario(session, tenant_id=tenant_id, scenario_id=scenario_id) is None:
        return None
    return list(
        session.scalars(
            select(ScenarioVersion)
            .where(ScenarioVersion.scenario_id == scenario_id)
            .options(defer(ScenarioVersion.data, raiseload=True))
            .order_by(ScenarioVersion.version)
        ).all()
    )


def get_version(
    session: Session, *, tenant_id: int, scenario_id: str, version: int | None = None
) -> ScenarioVersion | None:
    """One version (the latest when `version` is None) of a live scenario of the tenant."""
    record = get_scenario(session, tenant_id=tenant_id, scenario_id=scenario_id)
    if record is None:
        return None
    return session.scalar(
        select(ScenarioVersion).where(
            ScenarioVersion.scenario_id == scenario_id,
            ScenarioVersion.version == (record.latest_version if version is None else version),
        )
    )


@dataclass(frozen=True)
class VersionText:
    """One scenario version with its scenario JSON as the stored text (not parsed)."""

    scenario_id: str
    version: int
    name: str
    units: int
    territories: int
    created_at: datetime
    data_json: str


_s, _v = ScenarioRecord.__table__, ScenarioVersion.__table__
# The caller's key rows (normally one) and, joined to them, the version asked for of a live
# scenario of the key's tenant: authentication and the read in one statement.
_VERSION_TEXT_FOR_KEY = (
    select(
        _api_keys.c.key_hash,
        _api_keys.c.tenant_id,
        _v.c.version,
        _v.c.name,
        _v.c.units,
        _v.c.territories,
        _v.c.created_at,
        cast(_v.c.data, Text),
    )
    .select_from(_api_keys)
    .outerjoin(
        _s,
        and_(_s.c.tenant_id == _api_keys.c.tenant_id, _s.c.id == bindparam("scenario_id"), _s.c.deleted_at.is_(None)),
    )
    .outerjoin(
        _v,
        and_(
            _v.c.scenario_id == _s.c.id,
            # the version asked for, or the latest when it is NULL
            _v.c.version == func.coalesce(bindparam("version", type_=Integer), _s.c.latest_version),
        ),
    )
    .where(_api_keys.c.prefix == bindparam("prefix"), _api_keys.c.revoked_at.is_(None))
)


def version_text_for_key(
    db: Session | Connection,
    *,
    key: str,
    scenario_id: str,
    version: int | None = None,
) -> tuple[int | None, VersionText | None]:
    """(tenant id, version) for an API key: (None, None) when the key is not an active one,
    (tenant id, None) when its tenant has no such live scenario or version.

    `get_version` (the latest when `version` is None) and `tenant_for_key` in one query, for
    reads that hand the scenario straight back to a client: the JSON stays text (no parsing),
    no ORM objects. Nothing is cached: a revoked key or a deleted scenario is refused at once.
    """
    row = _row_for_key(db, _VERSION_TEXT_FOR_KEY, key, scenario_id=scenario_id, version=version)
    if row is None:
        return None, None
    _, tenant_id, *found = row
    return tenant_id, (None if found[0] is None else VersionText(scenario_id, *found))


def delete_scenario(session: Session, *, tenant_id: int, scenario_id: str) -> bool:
    """Mark deleted (the rows stay, so runs that used it keep their input). False when not found."""
    record = get_scenario(session, tenant_id=tenant_id, scenario_id=scenario_id)
    if record is None:
        return False
    record.deleted_at = utcnow()
    session.commit()
    return True


# -- runs (tenant-scoped) ------------------------------------------------------------------


def create_run(
    session: Session,
    *,
    tenant_id: int,
    scenario_id: str,
    version: int | None = None,
    method: str,
    time_limit_s: float,
    seed: int,
) -> Run | None:
    """Queue a run of a version (the latest when None) of a live scenario; None when not found."""
    row = get_version(session, tenant_id=tenant_id, scenario_id=scenario_id, version=version)
    if row is None:
        return None
    run = Run(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        scenario_id=scenario_id,
        version_id=row.id,
        scenario_version=row.version,
        method=method,
        time_limit_s=time_limit_s,
        seed=seed,
        state="queued",
        elapsed_s=0.0,
        cancel_requested=False,
    )
    session.add(run)
    session.commit()
    return run


def get_run(session: Session, *, tenant_id: int, run_id: str) -> Run | None:
    return session.scalar(select(Run).where(Run.tenant_id == tenant_id, Run.id == run_id))


def get_runs(session: Session, *, tenant_id: int, run_ids: list[str]) -> dict[str, Run]:
    """The tenant's runs among `run_ids`, by id (missing and foreign ids are left out)."""
    rows = session.scalars(select(Run).where(Run.tenant_id == tenant_id, Run.id.in_(run_ids))).all()
    return {r.id: r for r in rows}


def list_runs(
    session: Session,
    *,
    tenant_id: int,
    scenario_id: str | None = None,
    state: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Run], int]:
    """One page of the tenant's runs, newest first, and the total count."""
    query = select(Run).where(Run.tenant_id == tenant_id)
    if scenario_id is not None:
        query = query.where(Run.scenario_id == scenario_id)
    if state is not None:
        query = query.where(Run.state == state)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Run.created_at.desc(), Run.id).offset(offset).limit(limit)).all()
    return list(rows), count


def get_plan(session: Session, *, tenant_id: int, run_id: str) -> RunPlan | None:
    return session.scalar(select(RunPlan).where(RunPlan.tenant_id == tenant_id, RunPlan.run_id == run_id))


def get_plans(session: Session, *, tenant_id: int, run_ids: list[str]) -> dict[str, RunPlan]:
    rows = session.scalars(select(RunPlan).where(RunPlan.tenant_id == tenant_id, RunPlan.run_id.in_(run_ids))).all()
    return {r.run_id: r for r in rows}


def get_run_scenario(session: Session, *, tenant_id: int, run_id: str) -> ScenarioVersion | None:
    """The scenario version a run solved (still readable after the scenario was deleted)."""
    return session.scalar(
        select(ScenarioVersion)
        .join(Run, Run.version_id == ScenarioVersion.id)
        .where(Run.tenant_id == tenant_id, Run.id == run_id)
    )


def request_cancel(session: Session, *, tenant_id: int, run_id: str) -> Run | None:
    """A queued run ends cancelled at once; a running one is flagged for its worker. None when not found."""
    run = get_run(session, tenant_id=tenant_id, run_id=run_id)
    if run is None:
        return None
    now = utcnow()
    queued = _write(
        session,
        update(Run)
        .where(Run.id == run_id, Run.state == "queued")
        .values(
            state="cancelled",
            status="cancelled",
            stop_reason="cancelled",
            cancel_requested=True,
            message="cancelled before it started",
            finished_at=now,
            updated_at=now,
        ),
    )
    if not queued.rowcount:  # running (or claimed a moment ago): its worker stops and keeps the best plan
        session.execute(
            update(Run).where(Run.id == run_id, Run.state == "running").values(cancel_requested=True, updated_at=now)
        )
    session.commit()
    session.refresh(run)
    return run


# -- run lifecycle (the run manager and its workers; ids they created) ------------------------


def fail_active_runs(session: Session, *, message: str) -> int:
    """Mark every queued or running run failed (on startup: their server is gone); returns how many."""
    now = utcnow()
    result = _write(
        session,
        update(Run)
        .where(Run.state.in_(ACTIVE_STATES))
        .values(
            state="failed",
            message=message,
            finished_at=now,
            updated_at=now,
            worker_pid=None,
        ),
    )
    session.commit()
    return result.rowcount or 0


def claim_queued_runs(session: Session, *, limit: int) -> list[str]:
    """Move up to `limit` of the oldest queued runs to running; their ids."""
    ids = session.scalars(
        select(Run.id).where(Run.state == "queued").order_by(Run.created_at, Run.id).limit(limit)
    ).all()
    claimed = []
    now = utcnow()
    for run_id in ids:
        result = _write(
            session,
            update(Run)
            .where(Run.id == run_id, Run.state == "queued")
            .values(state="running", started_at=now, updated_at=now),
        )
        if result.rowcount:
            claimed.append(run_id)
    session.commit()
    return claimed


@dataclass(frozen=True)
class RunJob:
    """What a worker needs to solve a run."""

    run_id: str
    tenant_id: int
    scenario: dict[str, Any]
    method: str
    time_limit_s: float
    seed: int


def load_run_job(session: Session, *, run_id: str, worker_pid: int) -> RunJob | None:
    """The input of a running run (recording the worker's pid); None when it is no longer running."""
    row = session.execute(
        select(Run, ScenarioVersion.data)
        .join(ScenarioVersion, Run.version_id == ScenarioVersion.id)
        .where(Run.id == run_id)
    ).first()
    if row is None or row[0].state != "running":
        return None
    run, data = row
    run.worker_pid = worker_pid
    session.commit()
    return RunJob(
        run_id=run.id,
        tenant_id=run.tenant_id,
        scenario=data,
        method=run.method,
        time_limit_s=run.time_limit_s,
        seed=run.seed,
    )


def is_cancel_requested(session: Session, *, run_id: str) -> bool:
    return bool(session.scalar(select(Run.cancel_requested).where(Run.id == run_id)))


def record_progress(
    session: Session,
    *,
    run_id: str,
    elapsed_s: float,
    objective: float | None,
    bound: float | None,
    gap: float | None,
    message: str | None,
    plan: dict[str, Any] | None = None,
    has_assignment: bool = False,
) -> bool:
    """Write the last known progress (and a best-so-far plan) of a running run; False when it is no longer running."""
    values: dict[str, Any] = dict(
        elapsed_s=elapsed_s,
        objective=objective,
        bound=bound,
        gap=gap,
        progress_message=(message or None) and message[:500],
        updated_at=utcnow(),
    )
    if objective is not None:
        values["status"] = "feasible"  # progress reports only plans that keep every rule
    result = _write(session, update(Run).where(Run.id == run_id, Run.state == "running").values(**values))
    if result.rowcount and plan is not None:
        _put_plan(session, run_id=run_id, plan=plan, final=False, has_assignment=has_assignment)
    session.commit()
    return bool(result.rowcount)


def _put_plan(session: Session, *, run_id: str, plan: dict[str, Any], final: bool, has_assignment: bool) -> None:
    row = session.get(RunPlan, run_id)
    if row is None:
        tenant_id = session.scalar(select(Run.tenant_id).where(Run.id == run_id))
        session.add(
            RunPlan(
                run_id=run_id,
                tenant_id=tenant_id,
                final=final,
                has_assignment=has_assignment,
                data=plan,
                updated_at=utcnow(),
            )
        )
    else:
        row.final, row.has_assignment, row.data, row.updated_at = final, has_assignment, plan, utcnow()


def finish_run(
    session: Session,
    *,
    run_id: str,
    state: str,
    status: str | None,
    stop_reason: str | None = None,
    objective: float | None = None,
    bound: float | None = None,
    gap: float | None = None,
    elapsed_s: float | None = None,
    message: str | None = None,
    plan: dict[str, Any] | None = None,
    has_assignment: bool = False,
) -> bool:
    """End a running run (with its final plan); False when it had already ended (e.g. marked failed)."""
    now = utcnow()
    values: dict[str, Any] = dict(
        state=state,
        status=status,
        stop_reason=stop_reason,
        objective=objective,
        bound=bound,
        gap=gap,
        message=message,
        finished_at=now,
        updated_at=now,
        worker_pid=None,
    )
    if elapsed_s is not None:
        values["elapsed_s"] = elapsed_s
    result = _write(session, update(Run).where(Run.id == run_id, Run.state == "running").values(**values))
    if result.rowcount and plan is not None:
        _put_plan(session, run_id=run_id, plan=plan, final=True, has_assignment=has_assignment)
    session.commit()
    return bool(result.rowcount)


def end_run_if_active(session: Session, *, run_id: str, state: str, message: str) -> bool:
    """End a run whose worker is gone without ending it (crash, kill); its progress and plan stay."""
    now = utcnow()
    result = _write(
        session,
        update(Run)
        .where(Run.id == run_id, Run.state.in_(ACTIVE_STATES))
        .values(
            state=state,
            message=message,
            finished_at=now,
            updated_at=now,
            worker_pid=None,
            status=func.coalesce(Run.status, "cancelled" if state == "cancelled" else "error"),
        ),
    )
    if result.rowcount:
        session.execute(update(RunPlan).where(RunPlan.run_id == run_id).values(final=True))
    session.commit()
    return bool(result.rowcount)
