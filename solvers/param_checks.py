"""The check every parameter dataclass runs on itself (HeuristicParams, BoundParams): each field
a number of its kind within its range, a tuple field of the right length with every value in
range, and pairs of fields in order; a bad value raises ValueError naming the class and field."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, fields

INF = float("inf")


@dataclass(frozen=True)
class Range:
    """A whole number or a number from `low` (excluded when `low_open`) to `high`."""

    whole: bool
    low: float
    high: float = INF
    low_open: bool = False

    def fits(self, value: object) -> bool:
        kind = numbers.Integral if self.whole else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind):
            return False
        number = float(value)  # a Real, checked above
        return number == number and (number > self.low if self.low_open else number >= self.low) and number <= self.high

    def describe(self) -> str:
        what = "a whole number" if self.whole else "a number"
        below = "" if self.high == INF else f" and <= {self.high:g}"
        return f"{what} {'>' if self.low_open else '>='} {self.low:g}{below}"


def whole(low: float, high: float = INF) -> Range:
    """A whole number from low to high."""
    return Range(True, low, high)


def number(low: float, high: float = INF, above: bool = False) -> Range:
    """A number from low (or above it, when `above`) to high."""
    return Range(False, low, high, above)


def check_fields(
    obj: object,
    ranges: dict[str, Range],
    tuple_sizes: dict[str, int | None] | None = None,
    ordered: tuple[tuple[str, str], ...] = (),
) -> None:
    """ValueError naming `obj`'s class and field unless every field fits its range (each value
    of a tuple field, of the size in `tuple_sizes`, None: any) and each (low, high) pair of
    `ordered` has low <= high."""
    owner = type(obj).__name__
    sizes = tuple_sizes or {}
    for f in fields(obj):  # type: ignore[arg-type]  # a dataclass instance
        value, rule = getattr(obj, f.name), ranges[f.name]
        if f.name in sizes:
            size = sizes[f.name]
            if not isinstance(value, tuple) or (size is not None and len(value) != size):
                count = "" if size is None else f"{size} "
                raise ValueError(
                    f"{owner}.{f.name} must be a tuple of {count}values, each {rule.describe()}, got {value!r}"
                )
            values = value
        else:
            values = (value,)
        if not all(rule.fits(v) for v in values):
            raise ValueError(f"{owner}.{f.name} must be {rule.describe()}, got {value!r}")
    for low, high in ordered:
        if getattr(obj, low) > getattr(obj, high):
            raise ValueError(f"{owner}.{low} ({getattr(obj, low)}) must not exceed {high} ({getattr(obj, high)})")
