"""The FastAPI application. `create_app(settings)` builds everything; nothing is created at import.

The lifespan opens the database engine, applies the Alembic migrations, starts the run
manager (solver worker processes; runs a previous server left active are marked failed) and,
on shutdown, stops the workers and closes the engine. Routes live under /api/v1; OpenAPI docs at /docs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import errors, web
from api.routes import api_router
from api.runs import RunManager
from api.settings import Settings
from scenarios.db import is_sqlite, make_engine, make_sessionmaker, upgrade

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for `settings` (read from TERRITORIA_* environment variables when None)."""
    settings = settings if settings is not None else Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        # Reads on the event loop (api.deps.read_db, SQLite only) get a connection of their own.
        read_engine = make_engine(settings.database_url, single_connection=True) if is_sqlite(settings.database_url) else engine
        manager = None
        try:
            await run_in_threadpool(upgrade, engine)
            app.state.engine = engine
            app.state.read_engine = read_engine
            app.state.sessionmaker = make_sessionmaker(engine)
            manager = RunManager(database_url=settings.database_url, sessions=app.state.sessionmaker,
                                 max_workers=settings.max_workers)
            await run_in_threadpool(manager.start)
            app.state.run_manager = manager
            yield
        finally:
            if manager is not None:
                await run_in_threadpool(manager.shutdown)
            engine.dispose()
            read_engine.dispose()

    app = FastAPI(
        title="Territoria",
        summary="Sales territory design: contiguous, balanced, compact territories.",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    app.state.settings = settings
    errors.install(app)
    app.include_router(api_router, prefix=API_PREFIX)
    web.install(app, settings, api_prefix=API_PREFIX)

    @app.get(f"{API_PREFIX}/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness: the app is up and its database migrated."""
        return {"status": "ok"}

    return app
