"""Storage without HTTP: migrations, tenants and keys, scenario versions, tenant scoping."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from engine.io import parse_scenario
from scenarios import repository as repo
from scenarios.db import current_revision, make_engine, make_sessionmaker, upgrade
from scenarios.tables import Base
from tests.conftest import grid_scenario


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db' / 'test.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with make_sessionmaker(engine)() as session:
        yield session


def test_migrations_create_the_schema_in_wal_mode_and_match_the_tables(engine):
    assert current_revision(engine) is not None
    assert {"tenants", "api_keys", "scenarios", "scenario_versions"} <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], "tables.py and the migrations disagree; add a migration"


def test_upgrade_twice_is_a_no_op(engine):
    revision = current_revision(engine)
    upgrade(engine)
    assert current_revision(engine) == revision


def test_api_key_is_stored_hashed_and_authenticates(session):
    new = repo.create_api_key(session, tenant_name="acme")
    assert new.key.startswith(repo.KEY_PREFIX) and len(new.key) > 40
    (row, tenant), = repo.list_api_keys(session)
    assert tenant == "acme" and new.key not in (row.key_hash, row.prefix) and len(row.key_hash) == 64
    assert repo.tenant_for_key(session, key=new.key).name == "acme"
    assert repo.tenant_for_key(session, key=new.key[:-1] + ("A" if new.key[-1] != "A" else "B")) is None
    assert repo.tenant_for_key(session, key="nonsense") is None
    assert repo.revoke_api_key(session, prefix=new.prefix) == 1
    assert repo.tenant_for_key(session, key=new.key) is None


def test_versions_are_kept_and_scoped_to_the_tenant(session):
    a = repo.get_or_create_tenant(session, name="a")
    b = repo.get_or_create_tenant(session, name="b")
    record = repo.create_scenario(session, tenant_id=a.id, scenario=parse_scenario(grid_scenario(2, 2, 2)))
    changed = parse_scenario(grid_scenario(2, 3, 3, name="bigger"))
    assert repo.add_version(session, tenant_id=b.id, scenario_id=record.id, scenario=changed) is None
    updated = repo.add_version(session, tenant_id=a.id, scenario_id=record.id, scenario=changed)
    assert (updated.latest_version, updated.name, updated.units) == (2, "bigger", 6)
    assert repo.get_version(session, tenant_id=a.id, scenario_id=record.id, version=1).data["territories"] == 2
    assert repo.get_version(session, tenant_id=a.id, scenario_id=record.id).data["name"] == "bigger"
    assert [v.version for v in repo.list_versions(session, tenant_id=a.id, scenario_id=record.id)] == [1, 2]
    assert repo.list_versions(session, tenant_id=b.id, scenario_id=record.id) is None
    assert repo.list_scenarios(session, tenant_id=b.id) == ([], 0)
    assert not repo.delete_scenario(session, tenant_id=b.id, scenario_id=record.id)
    assert repo.delete_scenario(session, tenant_id=a.id, scenario_id=record.id)
    assert repo.get_scenario(session, tenant_id=a.id, scenario_id=record.id) is None
    assert repo.list_scenarios(session, tenant_id=a.id) == ([], 0)


def test_stored_json_is_what_the_user_set(session):
    tenant = repo.get_or_create_tenant(session, name="a")
    data = grid_scenario(1, 2, 1)
    record = repo.create_scenario(session, tenant_id=tenant.id, scenario=parse_scenario(data))
    stored = repo.get_version(session, tenant_id=tenant.id, scenario_id=record.id).data
    assert stored == data
