"""Turning validation failures into one clear line naming the field and the record."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class ScenarioError(ValueError):
    """Invalid input: the message names the field and the record."""


def _record_label(data: Any, loc: tuple) -> str:
    """units[3] -> units[3] (id '13001') when the raw record has an id."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and 0 <= item < len(node):
                node = node[item]
                if isinstance(node, dict) and "id" in node:
                    label += f" (id '{node['id']}')"
            else:
                node = None
            parts.append(label)
        else:
            if item in ("function-after", "function-before", "tuple"):
                continue
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts)


def format_validation_error(err: ValidationError, data: Any = None) -> str:
    """One line per problem (first five), each `field: message`."""
    lines = []
    for e in err.errors()[:5]:
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        where = _record_label(data, loc) if data is not None else ".".join(map(str, loc))
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if e["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        lines.append(f"{where}: {msg}" if where else msg)
    more = len(err.errors()) - 5
    if more > 0:
        lines.append(f"... and {more} more")
    return "; ".join(lines)
