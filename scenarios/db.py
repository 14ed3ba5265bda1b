"""Database engine, sessions and migrations. Nothing here runs at import time.

SQLite (a local file, in WAL mode so readers do not block the writer) by default;
PostgreSQL with a postgresql:// URL (driver psycopg 3: `pip install territoria[postgres]`). The schema is created and
upgraded by the Alembic migrations in scenarios/migrations, applied by `upgrade(engine)`.

    from scenarios.db import alembic_config
    from alembic import command
    command.revision(alembic_config("sqlite:///dev.db"), "add runs", autogenerate=True)
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(url: str) -> URL:
    """`url` parsed; plain postgresql:// (or postgres://) URLs get the psycopg 3 driver, the one installed."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str) -> bool:
    return database_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, echo: bool = False, connections: int | None = None) -> Engine:
    """An engine for `url`; for a SQLite file: the folder created, WAL, foreign keys, busy timeout.

    `connections`: a pool of exactly that many, for callers that use it from at most that many
    threads at once (the API's reads, api.deps.read_db), so they never wait for a connection.
    """
    parsed = database_url(url)
    if parsed.get_backend_name() != "sqlite":
        if connections is not None:
            # No ping before each use (a round trip per read): a read that meets a dropped
            # connection is retried once by its caller (api.deps.read_db), the pool having
            # discarded its connections.
            return create_engine(parsed, echo=echo, pool_size=connections, max_overflow=0)
        # As many connections as the server's thread pool runs requests at once (40), before they queue.
        return create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=30)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # SQLite connections are cheap; a pool as large as the server's thread pool keeps requests
    # from queueing on connections rather than on the database.
    pool = (
        dict(pool_size=10, max_overflow=40)
        if connections is None
        else dict(pool_size=connections, max_overflow=0, pool_timeout=5)
    )
    engine = create_engine(url, echo=echo, **pool, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> Config:
    """Alembic configured in code (no alembic.ini): the migrations folder and, optionally, a URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to `revision` on `engine` (idempotent)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
