"""Error responses: every client error is `{"detail": "<field: message naming the record>"}`.

FastAPI's own request validation (a bad scenario body, a bad query parameter) is reworded
with `models.errors.problem_line`, as the CLI's `models.format_validation_error` is:
`units[2] (id 'x').lat: Input should be ...`, so the API and the CLI say the same thing
about the same input.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from models import ScenarioError
from models.errors import MAX_PROBLEMS, error_location, error_message, join_problems, problem_line


class ErrorPublic(BaseModel):
    """Every error answer: one line naming the field (and the record) or the missing thing."""

    detail: str


# For routers: `APIRouter(..., responses=ERROR_RESPONSES)` documents the answers of api.deps and this module.
ERROR_RESPONSES: dict[int | str, dict] = {
    401: {"model": ErrorPublic, "description": "Missing, wrong or revoked X-API-Key."},
    404: {"model": ErrorPublic, "description": "Not found (or owned by another tenant)."},
    422: {"model": ErrorPublic, "description": "Invalid input: `field: message` naming the record."},
}


def _problem(error: dict, body: Any) -> str:
    loc = error_location(error)
    msg = error_message(error)
    kind = error.get("type", "")
    source, rest = (loc[0], loc[1:]) if loc else ("body", ())
    if source == "body" and kind == "json_invalid":
        where = f"body (character {rest[0]})" if rest else "body"
        reason = (error.get("ctx") or {}).get("error", msg)
        return f"{where}: invalid JSON: {reason}"
    if source == "body":
        if not rest:
            # A whole-scenario check already names its field; a wrong body type does not.
            return msg if kind == "value_error" else f"body: {msg}"
        return problem_line(error, body, rest)
    return f"{source}.{'.'.join(map(str, rest))}: {msg}" if rest else f"{source}: {msg}"


def validation_message(errors: list[dict], body: Any = None) -> str:
    return join_problems([_problem(e, body) for e in errors[:MAX_PROBLEMS]], len(errors))


async def _request_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": validation_message(list(exc.errors()), getattr(exc, "body", None))},
    )


async def _scenario_error(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={"detail": str(exc)})


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(ScenarioError, _scenario_error)
