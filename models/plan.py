"""The plan Territoria returns (docs/scenario.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["optimal", "feasible", "infeasible", "no_solution", "cancelled", "error"]
StopReason = Literal["converged", "time_limit", "gap_limit", "cancelled", "proved_infeasible", "error"]


class TerritoryKPIs(BaseModel):
    model_config = ConfigDict(extra="allow")

    units: int
    workload: float
    potential: float
    workload_dev: float
    potential_dev: float
    mean_distance_km: float
    contiguous: bool


class TerritoryPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    rep: str | None = None
    region: str | None = None
    center: str | None = None
    kpis: TerritoryKPIs


class PlanKPIs(BaseModel):
    model_config = ConfigDict(extra="allow")

    max_workload_dev: float
    max_potential_dev: float
    compactness: float
    moved_units: int = 0
    moved_workload_share: float = 0.0


class Transfer(BaseModel):
    """A unit that moves from its current territory to another one."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, serialize_by_alias=True)

    unit: str
    from_territory: str = Field(alias="from")
    to_territory: str = Field(alias="to")
    workload: float
    potential: float


class PlanAdjacency(BaseModel):
    """Where the contiguity graph came from, and what its derivation assumed."""

    model_config = ConfigDict(extra="forbid")

    # "given" (the scenario's `adjacency`), or derived from "locations" (Delaunay, long edges
    # pruned), "polygons" (unit boundaries) or "polygons+locations" (some units lack a boundary)
    source: Literal["given", "locations", "polygons", "polygons+locations"]
    notes: list[str] = Field(default_factory=list)  # e.g. links added between units that do not touch


class UnservedSkill(BaseModel):
    """A skill a unit needs that the rep serving its territory lacks."""

    model_config = ConfigDict(extra="forbid")

    unit: str
    skill: str
    territory: str
    rep: str


class PlanSkills(BaseModel):
    """How the plan serves the skills units need (only when units need skills and reps are known)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["hard", "soft"]
    penalty_per_skill: float | None = None  # soft mode: objective units per unserved skill
    unserved_count: int = 0
    penalty_total: float = 0.0  # part of the objective (soft mode)
    unserved: list[UnservedSkill] = Field(default_factory=list)


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: str
    status: Status
    stop_reason: StopReason | None = None
    method: str | None = None
    objective: float | None = None
    bound: float | None = None
    bound_source: str | None = None
    gap: float | None = None
    runtime_s: float = 0.0
    message: str | None = None
    violations: list[str] = Field(default_factory=list)
    assignment: dict[str, str] = Field(default_factory=dict)
    territories: list[TerritoryPlan] = Field(default_factory=list)
    kpis: PlanKPIs | None = None
    transfers: list[Transfer] = Field(default_factory=list)
    # where each territory's travel (mean_distance_km, compactness) is measured from: the home of
    # the territory's rep, or its `center` unit. With reps, `center` is only the median unit (for maps).
    travel_from: Literal["rep_home", "center"] | None = None
    adjacency: PlanAdjacency | None = None
    skills: PlanSkills | None = None
