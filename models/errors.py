"""Turning validation failures into one clear line naming the field and the record.

The CLI (`format_validation_error`, via engine.io) and the API (api.errors) both word a
pydantic error with `problem_line`: `units[2] (id 'x').lat: Input should be ...`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

MAX_PROBLEMS = 5
UNKNOWN_FIELD = "unknown field (check the spelling)"
_VALUE_ERROR = "Value error, "
# Location parts that name a validation step or a schema, not a field of the input.
_STEPS = ("function-after", "function-before", "tuple")


class ScenarioError(ValueError):
    """Invalid input: the message names the field and the record."""


def error_location(error: Mapping) -> tuple:
    """A pydantic error's location without its validator steps ('function-after[...]', ...)."""
    return tuple(x for x in error.get("loc", ()) if not (isinstance(x, str) and x.startswith("function-")))


def error_message(error: Mapping) -> str:
    """A pydantic error's message for people: no "Value error, " prefix; an extra field is an unknown one."""
    if error.get("type") == "extra_forbidden":
        return UNKNOWN_FIELD
    msg = str(error.get("msg", "invalid"))
    return msg[len(_VALUE_ERROR) :] if msg.startswith(_VALUE_ERROR) else msg


def record_label(data: Any, loc: tuple) -> str:
    """('units', 2, 'lat') -> units[2] (id 'x').lat, naming the record by its id (a str or int)
    in the raw input `data`."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            node = node[item] if isinstance(node, list) and 0 <= item < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), (str, int)):
                label += f" (id '{node['id']}')"
            parts.append(label)
        elif item not in _STEPS:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts)


def problem_line(error: Mapping, data: Any, loc: tuple | None = None) -> str:
    """`field: message` for one pydantic error about the raw input `data`; `loc` (default: the
    error's location) is where in `data`."""
    where = record_label(data, error_location(error) if loc is None else loc)
    msg = error_message(error)
    return f"{where}: {msg}" if where else msg


def join_problems(lines: list[str], total: int) -> str:
    """The first lines of `total` problems on one line, saying how many more there are."""
    more = total - len(lines)
    return "; ".join(lines + ([f"... and {more} more"] if more > 0 else []))


def format_validation_error(err: ValidationError, data: Any = None) -> str:
    """One line per problem (first five), each `field: message`."""
    errors = err.errors()
    return join_problems([problem_line(e, data) for e in errors[:MAX_PROBLEMS]], len(errors))
