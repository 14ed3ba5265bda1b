"""Pydantic schemas of Territoria's data contract (DESIGN.md section 5). Data only."""

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
from models.plan import Plan, PlanKPIs, TerritoryKPIs, TerritoryPlan, Transfer
from models.options import SolveOptions
from models.errors import ScenarioError, format_validation_error

__all__ = [
    "AdjacencyRule",
    "BalanceRule",
    "Disruption",
    "Distances",
    "Objective",
    "Plan",
    "PlanKPIs",
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
    "format_validation_error",
]
