"""The scenario a planner writes: units, reps, rules, objective (docs/scenario.md).

Field names are part of the public contract; keep them stable. Cross-record checks
(unique ids, references between records) live in one place: `Scenario._check_references`.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Id = Annotated[str, Field(min_length=1, max_length=200)]
FiniteNonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitGeometry(_Strict):
    """A unit's boundary: a GeoJSON Polygon or MultiPolygon (RFC 7946), positions in lon/lat order.

    Drawn on maps and exported; when the scenario gives no `adjacency`, shared borders decide
    which units are neighbours (engine.adjacency.derive_from_units). Distances use `lat`/`lon`.
    Checked: the type, nesting, at least 4 positions a ring, closed rings (last position equals
    the first), numeric coordinates with lon in [-180, 180] and lat in [-90, 90]. Ring
    orientation and self-intersection are not checked (RFC 7946 asks parsers not to reject them).
    """

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list
    bbox: list[float] | None = None

    @model_validator(mode="before")
    @classmethod
    def _check_shape(cls, data: object) -> object:
        if not isinstance(data, dict):
            raise ValueError(f"expected a GeoJSON Polygon or MultiPolygon object, got {_json_type(data)}")
        kind = data.get("type")
        if kind not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"type must be 'Polygon' or 'MultiPolygon', got {kind!r}")
        if "coordinates" not in data:
            raise ValueError("coordinates: missing")
        coords = data["coordinates"]
        if kind == "Polygon":
            return {**data, "coordinates": _check_polygon(coords, "coordinates")}
        if not isinstance(coords, list) or not coords:
            raise ValueError(
                f"coordinates: a MultiPolygon needs a non-empty list of polygons, got {_json_type(coords)}"
            )
        return {**data, "coordinates": [_check_polygon(poly, f"coordinates[{p}]") for p, poly in enumerate(coords)]}


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return {dict: "an object", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _check_polygon(rings: object, where: str) -> list[list[list[float]]]:
    """A polygon's rings (outer first, then holes), as lists of [lon, lat] floats."""
    if not isinstance(rings, list) or not rings:
        raise ValueError(f"{where}: a polygon needs a non-empty list of rings, got {_json_type(rings)}")
    out = []
    for r, ring in enumerate(rings):
        at = f"{where}[{r}]"
        if not isinstance(ring, list) or not all(isinstance(pos, list) for pos in ring):
            raise ValueError(
                f"{at}: a ring is a list of [lon, lat] positions, got {json.dumps(ring)[:60]} "
                "(check the nesting: Polygon [ring, ...], MultiPolygon [[ring, ...], ...])"
            )
        if len(ring) < 4:
            raise ValueError(f"{at}: a ring needs at least 4 positions (the last repeats the first), got {len(ring)}")
        positions = [_check_position(pos, f"{at}[{p}]") for p, pos in enumerate(ring)]
        if positions[0][:2] != positions[-1][:2]:
            raise ValueError(
                f"{at}: the ring is not closed: the last position {positions[-1]} must equal the first {positions[0]}"
            )
        out.append(positions)
    return out


def _check_position(pos: object, where: str) -> list[float]:
    if not isinstance(pos, list) or len(pos) not in (2, 3):
        raise ValueError(f"{where}: a position is [lon, lat] (or [lon, lat, altitude]), got {pos!r:.60}")
    for value in pos:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{where}: coordinates must be finite numbers, got {value!r:.30}")
    lon, lat = float(pos[0]), float(pos[1])
    if not -180 <= lon <= 180:
        raise ValueError(f"{where}: longitude {lon:g} is outside [-180, 180] (positions are [lon, lat])")
    if not -90 <= lat <= 90:
        raise ValueError(f"{where}: latitude {lat:g} is outside [-90, 90] (positions are [lon, lat])")
    return [float(v) for v in pos]


class Unit(_Strict):
    """A customer account or basic area (ZIP, county): the thing assigned to a territory."""

    id: Id
    name: str | None = None
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    workload: FiniteNonNeg = 1.0
    potential: FiniteNonNeg = 0.0
    attributes: dict[str, FiniteNonNeg] = Field(default_factory=dict)
    skills: list[Id] = Field(default_factory=list)
    current: Id | None = None
    lock: Id | None = None
    tier: Id | None = None  # customer grade (A/B/C); derives workload when workload is not given
    geometry: UnitGeometry | None = None  # boundary (GeoJSON, lon/lat): maps, exports, derived adjacency


class Rep(_Strict):
    """A salesperson with a home base, skills and optional capacity per measure."""

    id: Id
    name: str | None = None
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    skills: list[Id] = Field(default_factory=list)
    capacity: dict[str, FiniteNonNeg] = Field(default_factory=dict)
    current: Id | None = None


class BalanceRule(_Strict):
    """Bounds on a measure's total per territory.

    Either `tolerance` (a fraction of the mean: 0.05 is +-5 %) or absolute `min`/`max`.
    """

    measure: Id
    tolerance: float | None = Field(default=None, ge=0, le=10, allow_inf_nan=False)
    min: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_kind(self) -> BalanceRule:
        if self.tolerance is None and self.min is None and self.max is None:
            raise ValueError("give either 'tolerance' or 'min'/'max'")
        if self.tolerance is not None and (self.min is not None or self.max is not None):
            raise ValueError("give either 'tolerance' or 'min'/'max', not both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min:g}) is larger than 'max' ({self.max:g})")
        return self


class Distances(_Strict):
    """An explicit distance matrix (road km or minutes from any routing engine)."""

    ids: list[Id] = Field(min_length=1)
    values: list[list[Annotated[float, Field(ge=0, allow_inf_nan=False)]]]

    @model_validator(mode="after")
    def _square(self) -> Distances:
        n = len(self.ids)
        if len(self.values) != n:
            raise ValueError(f"'values' has {len(self.values)} rows but 'ids' has {n} entries")
        for r, row in enumerate(self.values):
            if len(row) != n:
                raise ValueError(f"row {r} ('{self.ids[r]}') has {len(row)} values, expected {n}")
        return self


class Tier(_Strict):
    """Visit pattern of a customer grade:
    workload = visits_per_year x (hours_per_visit + travel_hours_per_visit).

    `travel_hours_per_visit` is the planner's estimate of the driving time a visit costs
    (0 when travel is left out of the workload).
    """

    visits_per_year: float = Field(ge=0, allow_inf_nan=False)
    hours_per_visit: float = Field(ge=0, allow_inf_nan=False)
    travel_hours_per_visit: float = Field(default=0.0, ge=0, allow_inf_nan=False)

    def workload_hours(self) -> float:
        """Hours a year one customer of this grade takes, travel included."""
        return self.visits_per_year * (self.hours_per_visit + self.travel_hours_per_visit)


class SkillRule(_Strict):
    """How a unit's skills bind the rep serving it.

    mode "hard" (default): the rep must hold every skill the unit needs.
    mode "soft": a rep may lack some; each skill a unit needs that its rep lacks adds
    `penalty` to the objective (in objective units: workload x km^distance_power).
    """

    mode: Literal["hard", "soft"] = "hard"
    penalty: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _penalty_with_soft(self) -> SkillRule:
        if self.mode == "soft" and self.penalty is None:
            raise ValueError("mode 'soft' needs 'penalty' (the cost of each skill a unit needs that its rep lacks)")
        if self.mode == "hard" and self.penalty is not None:
            raise ValueError("'penalty' applies only with mode 'soft' (hard skills cannot be broken)")
        return self


class AdjacencyRule(_Strict):
    """How unit boundaries decide neighbours when `adjacency` is derived (not given).

    rule "rook" (default): two units are neighbours when they share a border longer than
    `tolerance_m`; "queen": a shared corner suffices. Borders within `tolerance_m` metres of
    each other count as shared (boundary files do not always snap exactly).
    """

    rule: Literal["rook", "queen"] = "rook"
    tolerance_m: float = Field(default=10.0, ge=0, le=10_000, allow_inf_nan=False)


class Objective(_Strict):
    distance_power: Literal[1, 2] = 1
    disruption_weight: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    # "moved": realignment that moves the fewest units (compactness breaks ties)
    minimize: Literal["compactness", "moved"] = "compactness"


class Disruption(_Strict):
    max_moved_share: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    frozen: list[Id] = Field(default_factory=list)  # territories that keep exactly their current units


class Scenario(_Strict):
    """Everything needed to solve: units, adjacency, reps, rules, objective."""

    name: str = "scenario"
    units: list[Unit] = Field(min_length=1)
    adjacency: list[tuple[Id, Id]] | None = None
    adjacency_rule: AdjacencyRule | None = None  # rook/queen and tolerance when adjacency comes from boundaries
    territories: int = Field(ge=1)
    reps: list[Rep] = Field(default_factory=list)
    balance: list[BalanceRule] = Field(default_factory=list)
    distances: Distances | None = None
    contiguity: bool = True
    objective: Objective = Field(default_factory=Objective)
    disruption: Disruption = Field(default_factory=Disruption)
    tiers: dict[Id, Tier] = Field(default_factory=dict)
    regions: int | None = Field(default=None, ge=1)  # group territories into regions, solved top-down
    skills: SkillRule = Field(default_factory=SkillRule)  # hard, or soft with a penalty per unserved skill

    @field_validator("balance")
    @classmethod
    def _unique_measures(cls, rules: list[BalanceRule]) -> list[BalanceRule]:
        seen: set[str] = set()
        for r, rule in enumerate(rules):
            if rule.measure in seen:
                raise ValueError(f"balance[{r}]: measure '{rule.measure}' appears twice")
            seen.add(rule.measure)
        return rules

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        ids: dict[str, int] = {}
        for i, unit in enumerate(self.units):
            if unit.id in ids:
                raise ValueError(f"units[{i}].id: duplicate unit id '{unit.id}' (first at units[{ids[unit.id]}])")
            ids[unit.id] = i
        k = self.territories
        if k > len(self.units):
            raise ValueError(
                f"territories: {k} territories but only {len(self.units)} units; "
                "every territory needs at least one unit"
            )
        if self.regions is not None and (self.regions > k or k % self.regions):
            raise ValueError(
                f"regions: {self.regions} regions must divide the {k} territories evenly (each region gets k / regions)"
            )
        if self.reps and len(self.reps) != k:
            raise ValueError(f"reps: {len(self.reps)} reps given but territories is {k}; give one rep per territory")
        rep_ids: set[str] = set()
        for r, rep in enumerate(self.reps):
            if rep.id in rep_ids:
                raise ValueError(f"reps[{r}].id: duplicate rep id '{rep.id}'")
            rep_ids.add(rep.id)
        if self.adjacency is not None and self.adjacency_rule is not None:
            raise ValueError(
                "adjacency_rule: applies only when adjacency is derived from unit boundaries, but this scenario "
                "gives 'adjacency' explicitly; remove one of them"
            )
        if self.adjacency is not None:
            for e, (a, b) in enumerate(self.adjacency):
                for end, uid in (("0", a), ("1", b)):
                    if uid not in ids:
                        raise ValueError(f"adjacency[{e}][{end}]: unknown unit id '{uid}'")
                if a == b:
                    raise ValueError(f"adjacency[{e}]: unit '{a}' is adjacent to itself")
        if self.distances is not None:
            dist_ids = set()
            for d, uid in enumerate(self.distances.ids):
                if uid not in ids:
                    raise ValueError(f"distances.ids[{d}]: unknown unit id '{uid}'")
                if uid in dist_ids:
                    raise ValueError(f"distances.ids[{d}]: duplicate unit id '{uid}'")
                dist_ids.add(uid)
            missing = [u.id for u in self.units if u.id not in dist_ids]
            if missing:
                raise ValueError(f"distances.ids: unit '{missing[0]}' has no row ({len(missing)} units missing)")
        measures = self.measure_names()
        for r, rep in enumerate(self.reps):
            for measure in rep.capacity:
                if measure not in measures:
                    raise ValueError(f"reps[{r}].capacity: rep '{rep.id}' has capacity for unknown measure '{measure}'")
        for r, rule in enumerate(self.balance):
            if rule.measure not in measures:
                raise ValueError(
                    f"balance[{r}].measure: unknown measure '{rule.measure}' (known: {', '.join(sorted(measures))})"
                )
        territory_ids = self.territory_ids()
        known = set(territory_ids) | rep_ids
        for i, unit in enumerate(self.units):
            if unit.lock is not None and unit.lock not in known:
                raise ValueError(
                    f"units[{i}].lock: unit '{unit.id}' is locked to unknown territory '{unit.lock}' "
                    f"(territories: {', '.join(territory_ids[:10])}{' ...' if len(territory_ids) > 10 else ''})"
                )
        for i, unit in enumerate(self.units):
            if unit.tier is not None and unit.tier not in self.tiers:
                raise ValueError(
                    f"units[{i}].tier: unit '{unit.id}' has tier '{unit.tier}' but 'tiers' defines "
                    f"{', '.join(sorted(self.tiers)) or 'none'}"
                )
        for f, tid in enumerate(self.disruption.frozen):
            if tid not in territory_ids:
                raise ValueError(
                    f"disruption.frozen[{f}]: unknown territory '{tid}' "
                    f"(territories: {', '.join(territory_ids[:10])}{' ...' if len(territory_ids) > 10 else ''})"
                )
        current = {u.current for u in self.units if u.current is not None}
        if len(current) > k:
            raise ValueError(
                f"units.current: the current alignment has {len(current)} territories but territories is {k}"
            )
        return self

    def unit_workload(self, unit: Unit) -> float:
        """Workload as given, else derived from the unit's tier (visits a year x (hours a visit +
        travel hours a visit))."""
        if "workload" in unit.model_fields_set or unit.tier is None:
            return unit.workload
        return self.tiers[unit.tier].workload_hours()

    def measure_names(self) -> set[str]:
        names = {"workload", "potential"}
        for unit in self.units:
            names.update(unit.attributes)
        return names

    def territory_ids(self) -> list[str]:
        """Stable territory ids: the current alignment's (sorted naturally) padded with T1..Tk."""
        k = self.territories
        current = sorted({u.current for u in self.units if u.current is not None}, key=_natural_key)
        current += sorted({r.current for r in self.reps if r.current is not None} - set(current), key=_natural_key)
        ids = current[:k]
        t = 1
        while len(ids) < k:
            if f"T{t}" not in ids:
                ids.append(f"T{t}")
            t += 1
        return ids


def _natural_key(s: str) -> tuple:
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", s))


def mean_of(total: float, k: int) -> float:
    return total / k if k else math.nan
