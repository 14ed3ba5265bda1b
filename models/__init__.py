"""Pydantic schemas of Territoria's data contract (docs/scenario.md). Data only."""

from models.errors import ScenarioError, format_validation_error
from models.options import SolveOptions
from models.plan import (
    Plan,
    PlanAdjacency,
    PlanKPIs,
    PlanSkills,
    TerritoryKPIs,
    TerritoryPlan,
    Transfer,
    UnservedSkill,
)
from models.scenario import (
    AdjacencyRule,
    BalanceRule,
    Disruption,
    Distances,
    Objective,
    Rep,
    Scenario,
    SkillRule,
    Tier,
    Unit,
)

__all__ = [
    "AdjacencyRule",
    "BalanceRule",
    "Disruption",
    "Distances",
    "Objective",
    "Plan",
    "PlanAdjacency",
    "PlanKPIs",
    "PlanSkills",
    "Rep",
    "Scenario",
    "ScenarioError",
    "SkillRule",
    "SolveOptions",
    "TerritoryKPIs",
    "TerritoryPlan",
    "Tier",
    "Transfer",
    "Unit",
    "UnservedSkill",
    "format_validation_error",
]
