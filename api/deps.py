"""Request dependencies as Annotated aliases: a database session and the caller's tenant."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from api.settings import Settings
from scenarios import repository
from scenarios.tables import Tenant

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A key from `territoria apikey create --tenant NAME`."
)


# Dependencies that touch the database are sync (they run in the thread pool): a blocking
# SQLite call on the event loop stalls every request when the database is busy.


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_tenant(session: SessionDep, api_key: Annotated[str | None, Security(api_key_header)]) -> Tenant:
    """The tenant owning the X-API-Key; 401 when the key is missing, wrong or revoked."""
    if not api_key:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing API key: send it in the X-API-Key header",
                            headers={"WWW-Authenticate": "APIKey"})
    tenant = repository.tenant_for_key(session, key=api_key)
    # End the lookup's transaction at once so the connection goes back to the pool while the
    # route waits for its thread; the detached tenant keeps its loaded id and name.
    if tenant is not None:
        session.expunge(tenant)
    session.rollback()
    if tenant is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid API key", headers={"WWW-Authenticate": "APIKey"})
    return tenant


TenantDep = Annotated[Tenant, Depends(get_tenant)]


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
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            f"content-type: expected multipart/form-data, got '{content_type or 'none'}'")
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
