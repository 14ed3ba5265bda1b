"""Storage without HTTP: migrations, tenants and keys, scenario versions, tenant scoping, the run lifecycle.

Every test runs on SQLite and on PostgreSQL (`database_url`, tests/scenarios/postgres.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from engine.io import parse_scenario
from models import ScenarioError
from scenarios import repository as repo
from scenarios.db import current_revision, make_engine, make_sessionmaker, upgrade
from scenarios.tables import Base
from tests.instances import grid_scenario


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_a_sqlite_file_gets_its_folder(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db' / 'test.db'}")
    upgrade(engine)
    engine.dispose()
    assert (tmp_path / "db" / "test.db").exists()


@pytest.fixture
def session(engine):
    with make_sessionmaker(engine)() as session:
        yield session


def test_migrations_create_the_schema_in_wal_mode_and_match_the_tables(engine):
    assert current_revision(engine) is not None
    assert {"tenants", "api_keys", "scenarios", "scenario_versions", "runs", "run_plans"} <= set(
        inspect(engine).get_table_names()
    )
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
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
    ((row, tenant),) = repo.list_api_keys(session)
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


def test_version_text_for_key_authenticates_and_reads_in_one_query(session, engine):
    a = repo.create_api_key(session, tenant_name="a")
    b = repo.create_api_key(session, tenant_name="b")
    tenant_a = repo.tenant_for_key(session, key=a.key)
    record = repo.create_scenario(session, tenant_id=tenant_a.id, scenario=parse_scenario(grid_scenario(1, 2, 1)))
    repo.add_version(
        session, tenant_id=tenant_a.id, scenario_id=record.id, scenario=parse_scenario(grid_scenario(2, 2, 2))
    )
    with engine.connect() as conn:
        tenant_id, latest = repo.version_text_for_key(conn, key=a.key, scenario_id=record.id)
        assert (
            tenant_id == tenant_a.id and latest.version == 2 and json.loads(latest.data_json) == grid_scenario(2, 2, 2)
        )
        assert latest.created_at.tzinfo is UTC and (latest.name, latest.units, latest.territories) == (
            "grid 2x2",
            4,
            2,
        )
        first = repo.version_text_for_key(conn, key=a.key, scenario_id=record.id, version=1)[1]
        assert json.loads(first.data_json) == grid_scenario(1, 2, 1)
        assert repo.version_text_for_key(conn, key=a.key, scenario_id=record.id, version=3) == (tenant_a.id, None)
        assert repo.version_text_for_key(conn, key=a.key, scenario_id="nope") == (tenant_a.id, None)
        # Another tenant's key finds nothing; a wrong or unknown key is not a key.
        assert repo.version_text_for_key(conn, key=b.key, scenario_id=record.id)[1] is None
        assert repo.version_text_for_key(
            conn, key=a.key[:-1] + ("A" if a.key[-1] != "A" else "B"), scenario_id=record.id
        ) == (None, None)
        assert repo.version_text_for_key(conn, key="terr_nothing", scenario_id=record.id) == (None, None)
    repo.delete_scenario(session, tenant_id=tenant_a.id, scenario_id=record.id)
    repo.revoke_api_key(session, prefix=b.prefix)
    with engine.connect() as conn:
        assert repo.version_text_for_key(conn, key=a.key, scenario_id=record.id) == (tenant_a.id, None)
        assert repo.version_text_for_key(conn, key=b.key, scenario_id=record.id) == (None, None)


def test_times_come_back_in_utc(session, engine):
    tenant = repo.get_or_create_tenant(session, name="a")
    before = datetime.now(UTC)
    record = repo.create_scenario(session, tenant_id=tenant.id, scenario=parse_scenario(grid_scenario(1, 2, 1)))
    session.expire_all()
    read = repo.get_scenario(session, tenant_id=tenant.id, scenario_id=record.id)
    assert read.created_at.tzinfo is UTC and abs(read.created_at - before) < timedelta(minutes=1)


def test_names_that_no_database_stores_are_refused(session):
    tenant = repo.get_or_create_tenant(session, name="a")
    with pytest.raises(ScenarioError, match="name: at most 500"):
        repo.create_scenario(
            session, tenant_id=tenant.id, scenario=parse_scenario(grid_scenario(1, 2, 1, name="x" * 501))
        )
    with pytest.raises(ScenarioError, match="NUL"):
        repo.create_scenario(
            session, tenant_id=tenant.id, scenario=parse_scenario(grid_scenario(1, 2, 1, name="a\x00b"))
        )
    # NUL inside the scenario JSON is fine: it is stored escaped.
    data = grid_scenario(1, 2, 1, name="x" * 500)
    data["units"][0]["name"] = "nul \x00 inside"
    record = repo.create_scenario(session, tenant_id=tenant.id, scenario=parse_scenario(data))
    assert repo.get_version(session, tenant_id=tenant.id, scenario_id=record.id).data == data


def test_run_lifecycle_claims_progress_plans_and_interrupted_runs(session):
    tenant = repo.get_or_create_tenant(session, name="a")
    other = repo.get_or_create_tenant(session, name="b")
    record = repo.create_scenario(session, tenant_id=tenant.id, scenario=parse_scenario(grid_scenario(2, 2, 2)))
    runs = [
        repo.create_run(
            session, tenant_id=tenant.id, scenario_id=record.id, method="heuristic", time_limit_s=5.0, seed=seed
        ).id
        for seed in range(4)
    ]
    assert (
        repo.create_run(
            session, tenant_id=other.id, scenario_id=record.id, method="heuristic", time_limit_s=5.0, seed=0
        )
        is None
    )
    assert repo.get_run(session, tenant_id=other.id, run_id=runs[0]) is None

    assert repo.claim_queued_runs(session, limit=2) == runs[:2]
    job = repo.load_run_job(session, run_id=runs[0], worker_pid=4242)
    assert job.scenario == grid_scenario(2, 2, 2) and job.tenant_id == tenant.id and job.time_limit_s == 5.0
    assert repo.is_cancel_requested(session, run_id=runs[0]) is False
    plan = {"status": "feasible", "assignment": {"0-0": "T1"}, "nested": {"x": [1.5, None, True]}}
    assert repo.record_progress(
        session,
        run_id=runs[0],
        elapsed_s=1.5,
        objective=10.0,
        bound=8.0,
        gap=0.2,
        message="m" * 600,
        plan=plan,
        has_assignment=True,
    )
    row = repo.get_plan(session, tenant_id=tenant.id, run_id=runs[0])
    assert row.data == plan and row.final is False and row.has_assignment is True
    assert repo.get_plan(session, tenant_id=other.id, run_id=runs[0]) is None
    assert len(repo.get_run(session, tenant_id=tenant.id, run_id=runs[0]).progress_message) == 500

    assert repo.finish_run(
        session,
        run_id=runs[0],
        state="finished",
        status="optimal",
        objective=9.0,
        bound=9.0,
        gap=0.0,
        elapsed_s=2.0,
        plan={**plan, "status": "optimal"},
        has_assignment=True,
    )
    assert not repo.finish_run(session, run_id=runs[0], state="failed", status="error")  # already ended
    session.expire_all()
    done = repo.get_run(session, tenant_id=tenant.id, run_id=runs[0])
    assert (done.state, done.status, done.worker_pid, done.cancel_requested) == ("finished", "optimal", None, False)
    assert done.finished_at.tzinfo is UTC and done.finished_at >= done.started_at >= done.created_at
    assert repo.get_plan(session, tenant_id=tenant.id, run_id=runs[0]).final is True

    cancelled = repo.request_cancel(session, tenant_id=tenant.id, run_id=runs[2])  # queued: ends at once
    assert (cancelled.state, cancelled.cancel_requested) == ("cancelled", True)
    assert (
        repo.request_cancel(session, tenant_id=tenant.id, run_id=runs[1]).cancel_requested is True
    )  # running: flagged
    assert repo.is_cancel_requested(session, run_id=runs[1]) is True

    # A restarted server: runs left running or queued end failed, progress kept.
    assert repo.record_progress(
        session, run_id=runs[1], elapsed_s=3.0, objective=12.0, bound=None, gap=None, message="x"
    )
    assert repo.fail_active_runs(session, message="server stopped during the run") == 2
    session.expire_all()
    states = {r.id: (r.state, r.objective) for r in repo.list_runs(session, tenant_id=tenant.id)[0]}
    assert states == {
        runs[0]: ("finished", 9.0),
        runs[1]: ("failed", 12.0),
        runs[2]: ("cancelled", None),
        runs[3]: ("failed", None),
    }
    assert repo.list_runs(session, tenant_id=tenant.id, state="failed")[1] == 2
    assert not repo.end_run_if_active(session, run_id=runs[1], state="failed", message="again")


def test_plain_postgresql_urls_get_the_installed_driver():
    from scenarios.db import database_url as parse

    assert (
        parse("postgresql://u:p@db.example:5432/terr").render_as_string(hide_password=False)
        == "postgresql+psycopg://u:p@db.example:5432/terr"
    )
    assert parse("postgres://u@h/terr").drivername == "postgresql+psycopg"
    assert parse("postgresql+psycopg2://u@h/terr").drivername == "postgresql+psycopg2"  # an explicit driver is kept
    assert parse("sqlite:///x.db").drivername == "sqlite"


def test_concurrent_new_versions_get_distinct_numbers(engine):
    """PUTs of one scenario at once: each gets its own version number (row lock on PostgreSQL,
    the write lock on SQLite)."""
    from concurrent.futures import ThreadPoolExecutor

    sessions = make_sessionmaker(engine)
    with sessions() as session:
        tenant = repo.get_or_create_tenant(session, name="a")
        sid = repo.create_scenario(session, tenant_id=tenant.id, scenario=parse_scenario(grid_scenario(1, 2, 1))).id

    def put(i: int) -> int:
        with sessions() as session:
            scenario = parse_scenario(grid_scenario(1, 2, 1, name=f"v{i}"))
            return repo.add_version(session, tenant_id=tenant.id, scenario_id=sid, scenario=scenario).latest_version

    with ThreadPoolExecutor(8) as pool:
        versions = list(pool.map(put, range(16)))
    assert sorted(versions) == list(range(2, 18))
    with sessions() as session:
        assert [v.version for v in repo.list_versions(session, tenant_id=tenant.id, scenario_id=sid)] == list(
            range(1, 18)
        )
