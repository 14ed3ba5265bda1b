"""The FastAPI application. `create_app(settings)` builds everything; nothing is created at import.

The lifespan opens the database engine, applies the Alembic migrations, starts the run
manager (solver worker processes; runs a previous server left active are marked failed) and,
on shutdown, stops the workers and closes the engine. Routes live under /api/v1; OpenAPI docs at /docs.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import errors, web
from api.routes import api_router
from api.runs import RunManager
from api.settings import Settings
from scenarios.db import is_sqlite, make_engine, make_sessionmaker, upgrade

API_PREFIX = "/api/v1"
# Threads for short reads on a database across a network (api.deps.read_db): a few threads keep
# round trips overlapping without the contention of the 40-thread pool the sync routes use.
READ_THREADS = 4


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for `settings` (read from TERRITORIA_* environment variables when None)."""
    settings = settings if settings is not None else Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        # Short reads (api.deps.read_db) have connections of their own: one on the event loop for
        # SQLite, one per read thread otherwise; they never wait for connections other requests hold.
        sqlite = is_sqlite(settings.database_url)
        read_engine = make_engine(settings.database_url, connections=1 if sqlite else READ_THREADS)
        read_executor = None if sqlite else ThreadPoolExecutor(READ_THREADS, thread_name_prefix="territoria-read")
        manager = None
        try:
            await run_in_threadpool(upgrade, engine)
            app.state.engine = engine
            app.state.read_engine = read_engine
            app.state.read_executor = read_executor
            app.state.sessionmaker = make_sessionmaker(engine)
            manager = RunManager(
                database_url=settings.database_url, sessions=app.state.sessionmaker, max_workers=settings.max_workers
            )
            await run_in_threadpool(manager.start)
            app.state.run_manager = manager
            # Everything loaded so far (~140,000 objects: modules, the app, SQLAlchemy's and
            # pydantic's caches) lives as long as the server. Out of the cyclic garbage collector's
            # reach, a full collection takes well under 1 ms instead of ~100 ms (measured) during
            # which no request would be answered. (No collection first: it would cost every app
            # start, e.g. in tests, a full pass; startup leaves next to no cyclic garbage.)
            gc.freeze()
            yield
        finally:
            gc.unfreeze()
            if manager is not None:
                await run_in_threadpool(manager.shutdown)
            if read_executor is not None:
                read_executor.shutdown(wait=True)
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
