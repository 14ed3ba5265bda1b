"""Reading scenarios (JSON, or units.csv + reps.csv) and plans, with errors that name the record."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from engine.problem import Problem
from models import Scenario, ScenarioError, format_validation_error

_UNIT_COLUMNS = {"id", "name", "lat", "lon", "workload", "potential", "skills", "current", "lock"}
_REP_COLUMNS = {"id", "name", "lat", "lon", "skills", "current"}


def parse_scenario(data: Any) -> Scenario:
    """Validate a scenario dict; ScenarioError with `field: message` naming the record."""
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario: expected a JSON object, got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(format_validation_error(err, data)) from None


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory, expected a JSON file") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ScenarioError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None


def load_scenario(path: str | Path, **overrides: Any) -> Scenario:
    """A scenario from a JSON file, or from a units CSV (with `territories` etc. as overrides)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        data = scenario_dict_from_csv(path, overrides.pop("reps_csv", None))
    else:
        data = _read_json(path)
        if not isinstance(data, dict):
            raise ScenarioError(f"{path}: expected a JSON object with 'units' and 'territories'")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return parse_scenario(data)


def _num(value: str | None, where: str) -> float:
    if value is None:
        raise ScenarioError(f"{where}: missing value (the row has fewer columns than the header)")
    try:
        return float(value)
    except ValueError:
        raise ScenarioError(f"{where}: '{value}' is not a number") from None


def _read_csv(path: Path, required: set[str]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
            header = set(rows[0].keys()) if rows else set()
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    if not rows:
        raise ScenarioError(f"{path}: no rows")
    missing = required - header
    if missing:
        raise ScenarioError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    return rows


def scenario_dict_from_csv(units_csv: Path, reps_csv: Path | None = None) -> dict:
    """units.csv: one row a unit, columns id,lat,lon[,workload,potential,name,skills,current,lock,<measures>].

    `skills` is a `;`-separated list; any other numeric column becomes an attribute (a measure).
    """
    units = []
    for r, row in enumerate(_read_csv(units_csv, {"id", "lat", "lon"}), start=2):
        where = f"{units_csv.name} line {r} (id '{row.get('id', '')}')"
        unit: dict[str, Any] = {"id": row["id"], "lat": _num(row["lat"], f"{where}.lat"), "lon": _num(row["lon"], f"{where}.lon")}
        for col in ("workload", "potential"):
            if row.get(col, "") != "":
                unit[col] = _num(row[col], f"{where}.{col}")
        for col in ("name", "current", "lock"):
            if row.get(col):
                unit[col] = row[col]
        if row.get("skills"):
            unit["skills"] = [s.strip() for s in row["skills"].split(";") if s.strip()]
        attrs = {c: _num(v, f"{where}.{c}") for c, v in row.items() if c not in _UNIT_COLUMNS and c and v not in ("", None)}
        if attrs:
            unit["attributes"] = attrs
        units.append(unit)
    data: dict[str, Any] = {"name": units_csv.stem, "units": units}
    if reps_csv is not None:
        reps = []
        for r, row in enumerate(_read_csv(Path(reps_csv), {"id", "lat", "lon"}), start=2):
            where = f"{Path(reps_csv).name} line {r} (id '{row.get('id', '')}')"
            rep: dict[str, Any] = {"id": row["id"], "lat": _num(row["lat"], f"{where}.lat"), "lon": _num(row["lon"], f"{where}.lon")}
            for col in ("name", "current"):
                if row.get(col):
                    rep[col] = row[col]
            if row.get("skills"):
                rep["skills"] = [s.strip() for s in row["skills"].split(";") if s.strip()]
            cap = {c.removeprefix("capacity_"): _num(v, f"{where}.{c}") for c, v in row.items() if c.startswith("capacity_") and v}
            if cap:
                rep["capacity"] = cap
            reps.append(rep)
        data["reps"] = reps
    return data


def load_assignment(problem: Problem, path: str | Path) -> np.ndarray:
    """Territory index per unit from a plan JSON (`assignment`: unit id -> territory id)."""
    data = _read_json(Path(path))
    assignment = data.get("assignment") if isinstance(data, dict) else None
    if not isinstance(assignment, dict):
        raise ScenarioError(f"{path}: assignment: expected an object mapping unit id to territory id")
    tindex = {t: i for i, t in enumerate(problem.territory_ids)}
    labels = np.full(problem.n, -1, dtype=np.int64)
    index = {u: i for i, u in enumerate(problem.ids)}
    for uid, tid in assignment.items():
        if uid not in index:
            raise ScenarioError(f"{path}: assignment['{uid}']: unknown unit id")
        if tid not in tindex:
            raise ScenarioError(
                f"{path}: assignment['{uid}']: unknown territory '{tid}' (territories: {', '.join(problem.territory_ids)})"
            )
        labels[index[uid]] = tindex[tid]
    missing = np.flatnonzero(labels < 0)
    if len(missing):
        raise ScenarioError(f"{path}: assignment: unit '{problem.ids[missing[0]]}' is not assigned ({len(missing)} missing)")
    return labels
