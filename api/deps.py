"""Request dependencies as Annotated aliases: a database session and the caller's tenant."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.settings import Settings
from scenarios import repository
from scenarios.repository import TenantRef

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A key from `territoria apikey create --tenant NAME`."
)


# Dependencies and routes that write are sync (they run in the thread pool): a writer may wait
# for SQLite's lock (up to its busy timeout), which must never stall the event loop.
#
# Short reads go through `read_db` instead. On SQLite in WAL mode a reader never waits for a
# lock (writers append to the WAL; only a checkpoint that truncates it, which this service never
# asks for, or crash recovery could hold readers back), and a read of an indexed row takes tens
# of microseconds, less than the hand-over to a worker thread and back, which under load is the
# main cost of a request. So on SQLite `read_db` runs on the event loop; on a database across a
# network (PostgreSQL) a query waits for a round trip, so it runs on one of a few threads of
# its own (api.app.READ_THREADS), each with its own connection.

T = TypeVar("T")


def _on_connection(engine: Engine, fn: Callable[..., T], args, kwargs) -> T:
    try:
        with engine.connect() as connection:
            return fn(connection, *args, **kwargs)
    except DBAPIError as e:
        if not e.connection_invalidated:  # not a dropped connection (the database restarted, ...)
            raise
    with engine.connect() as connection:  # once more, on a new connection: reads are safe to repeat
        return fn(connection, *args, **kwargs)


async def read_db(request: Request, fn: Callable[..., T], /, *args, **kwargs) -> T:
    """`fn(connection, *args, **kwargs)` on a connection of the read pool (read only: it is rolled back)."""
    state = request.app.state
    if state.read_executor is None:  # SQLite
        return _on_connection(state.read_engine, fn, args, kwargs)
    return await asyncio.get_running_loop().run_in_executor(
        state.read_executor, _on_connection, state.read_engine, fn, args, kwargs
    )


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


ApiKeyDep = Annotated[str | None, Security(api_key_header)]


def require_key(api_key: str | None) -> str:
    """The key sent, or 401 when none was."""
    if not api_key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send it in the X-API-Key header",
            headers={"WWW-Authenticate": "APIKey"},
        )
    return api_key


def invalid_key() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid API key", headers={"WWW-Authenticate": "APIKey"})


async def get_tenant(request: Request, api_key: ApiKeyDep) -> TenantRef:
    """The tenant owning the X-API-Key; 401 when the key is missing, wrong or revoked.

    Looked up in the database on every request (one indexed query, see `read_db`), never cached,
    so a revoked key stops working at once whichever process revoked it.
    """
    tenant = await read_db(request, repository.tenant_for_key, key=require_key(api_key))
    if tenant is None:
        raise invalid_key()
    return tenant


TenantDep = Annotated[TenantRef, Depends(get_tenant)]


# -- multipart forms -------------------------------------------------------------------------
# Parsed with the standard library's MIME parser, so CSV upload needs no extra package
# (FastAPI's File/Form parameters require python-multipart).


@dataclass(frozen=True)
class FormPart:
    content: bytes
    filename: str | None = None  # set for file parts

    def text(self) -> str:
        return self.content.decode("utf-8-sig")


async def read_multipart(request: Request, settings: SettingsDep) -> dict[str, FormPart]:
    """The parts of a multipart/form-data body by field name; 413 past `max_upload_mb`."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"content-type: expected multipart/form-data, got '{content_type or 'none'}'",
        )
    limit = int(settings.max_upload_mb * 1024 * 1024)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body: larger than {settings.max_upload_mb:g} MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body: larger than {settings.max_upload_mb:g} MB")
        chunks.append(chunk)
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + b"".join(chunks))
    if not message.is_multipart() or message.defects:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "body: malformed multipart/form-data")
    parts: dict[str, FormPart] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "body: a form part has no name")
        if name in parts:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"form.{name}: given more than once")
        payload = part.get_payload(decode=True)
        parts[name] = FormPart(content=payload if isinstance(payload, bytes) else b"", filename=part.get_filename())
    return parts


MultipartDep = Annotated[dict[str, FormPart], Depends(read_multipart)]
