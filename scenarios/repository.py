"""Reading and writing tenants, API keys and saved scenarios. Keyword-only functions.

Every query on user data filters on `tenant_id`: another tenant's id is simply not found.
Write functions commit; callers hand in a validated `models.Scenario`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from models import Scenario
from scenarios.tables import ApiKey, ScenarioRecord, ScenarioVersion, Tenant, utcnow

KEY_PREFIX = "terr_"
_LOOKUP_CHARS = 8  # of the random part, stored in clear to find the row


# -- tenants and API keys ------------------------------------------------------------------


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


def tenant_for_key(session: Session, *, key: str) -> Tenant | None:
    """The tenant owning an active key, or None; the hash is compared in constant time."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = _hash_key(key)
    rows = session.scalars(
        select(ApiKey).where(ApiKey.prefix == _lookup_prefix(key), ApiKey.revoked_at.is_(None))
    ).all()
    for row in rows:
        if hmac.compare_digest(row.key_hash, digest):
            return row.tenant
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


def _live(tenant_id: int):
    return select(ScenarioRecord).where(ScenarioRecord.tenant_id == tenant_id, ScenarioRecord.deleted_at.is_(None))


def create_scenario(session: Session, *, tenant_id: int, scenario: Scenario) -> ScenarioRecord:
    """Save a new scenario as version 1."""
    record = ScenarioRecord(
        id=str(uuid.uuid4()), tenant_id=tenant_id, name=scenario.name, latest_version=1,
        units=len(scenario.units), territories=scenario.territories,
    )
    session.add(record)
    session.flush()
    session.add(_version_row(record, scenario))
    session.commit()
    return record


def _version_row(record: ScenarioRecord, scenario: Scenario) -> ScenarioVersion:
    return ScenarioVersion(
        scenario_id=record.id, version=record.latest_version, name=scenario.name, units=len(scenario.units),
        territories=scenario.territories, data=_stored_json(scenario),
    )


def get_scenario(session: Session, *, tenant_id: int, scenario_id: str) -> ScenarioRecord | None:
    return session.scalar(_live(tenant_id).where(ScenarioRecord.id == scenario_id))


def list_scenarios(session: Session, *, tenant_id: int, offset: int = 0, limit: int = 50) -> tuple[list[ScenarioRecord], int]:
    """One page of the tenant's scenarios, most recently updated first, and the total count."""
    count = session.scalar(select(func.count()).select_from(_live(tenant_id).subquery())) or 0
    rows = session.scalars(
        _live(tenant_id).order_by(ScenarioRecord.updated_at.desc(), ScenarioRecord.id).offset(offset).limit(limit)
    ).all()
    return list(rows), count


def add_version(session: Session, *, tenant_id: int, scenario_id: str, scenario: Scenario) -> ScenarioRecord | None:
    """Save `scenario` as the next version; earlier versions stay. None when not found."""
    record = session.scalar(_live(tenant_id).where(ScenarioRecord.id == scenario_id).with_for_update())
    if record is None:
        return None
    record.latest_version += 1
    record.name = scenario.name
    record.units = len(scenario.units)
    record.territories = scenario.territories
    record.updated_at = utcnow()
    session.add(_version_row(record, scenario))
    session.commit()
    return record


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


def get_version(session: Session, *, tenant_id: int, scenario_id: str, version: int | None = None) -> ScenarioVersion | None:
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


def delete_scenario(session: Session, *, tenant_id: int, scenario_id: str) -> bool:
    """Mark deleted (the rows stay, so runs that used it keep their input). False when not found."""
    record = get_scenario(session, tenant_id=tenant_id, scenario_id=scenario_id)
    if record is None:
        return False
    record.deleted_at = utcnow()
    session.commit()
    return True
