"""Reading scenarios (JSON, or units.csv + reps.csv) and plans, with errors that name the record."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from engine.problem import Problem
from models import Scenario, ScenarioError, format_validation_error

_UNIT_COLUMNS = {"id", "name", "lat", "lon", "workload", "potential", "skills", "current", "lock", "tier", "geometry"}
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
    """A scenario from a JSON file, or from a units CSV (with `territories` etc. as overrides).

    For a units CSV, `reps_csv` names the reps file and `settings` a JSON file with the
    scenario's other fields (territories, balance, tiers, skills, objective, adjacency_rule, ...);
    the other overrides (e.g. the command line's --territories) win over the settings.
    """
    path = Path(path)
    reps_csv, settings = overrides.pop("reps_csv", None), overrides.pop("settings", None)
    if path.suffix.lower() == ".csv":
        lines: dict[str, list[int]] = {}
        data = scenario_dict_from_csv(path, reps_csv, lines)
        if settings is not None:
            data.update(_read_settings(Path(settings), reps_given=reps_csv is not None))
    else:
        if settings is not None:
            raise ScenarioError(f"{settings}: settings apply to a units CSV only; put these fields in {path.name}")
        data = _read_json(path)
        if not isinstance(data, dict):
            raise ScenarioError(f"{path}: expected a JSON object with 'units' and 'territories'")
    data.update({k: v for k, v in overrides.items() if v is not None})
    if path.suffix.lower() != ".csv":
        return parse_scenario(data)
    try:
        return parse_scenario(data)
    except ScenarioError as e:
        raise ScenarioError(
            csv_locations(str(e), data, lines, path.name, Path(reps_csv).name if reps_csv else None)
        ) from None


def _read_settings(path: Path, reps_given: bool) -> dict:
    settings = _read_json(path)
    if not isinstance(settings, dict):
        raise ScenarioError(f"{path}: expected a JSON object of scenario fields (territories, balance, tiers, ...)")
    if "units" in settings:
        raise ScenarioError(f"{path}: units: the units come from the units CSV; remove 'units' from the settings")
    if reps_given and "reps" in settings:
        raise ScenarioError(
            f"{path}: reps: the reps come from the reps CSV; remove 'reps' from the settings or the reps CSV"
        )
    return settings


def csv_locations(
    message: str, data: dict, lines: dict[str, list[int]], units_name: str, reps_name: str | None = None
) -> str:
    """Rewrite `units[3]` in a validation message of the scenario `data` read from CSV as
    `units.csv line 5 (id 'u')` (the record's line in the file, `lines` from
    scenario_dict_from_csv), and likewise for reps, so a CSV's errors name its row."""

    def line(name: str, key: str):
        records, at = data.get(key, []), lines.get(key, [])

        def label(m: re.Match) -> str:
            r = int(m.group(1))
            record_id = m.group(2) or (f" (id '{records[r]['id']}')" if r < len(records) else "")
            return f"{name} line {at[r] if r < len(at) else r + 2}{record_id}"

        return label

    id_label = r"( \(id '[^']*'\))?"
    message = re.sub(r"\bunits\[(\d+)\]" + id_label, line(units_name, "units"), message)
    if reps_name is not None:
        message = re.sub(r"\breps\[(\d+)\]" + id_label, line(reps_name, "reps"), message)
    return message


_DECIMAL_COMMA = re.compile(r"\s*[+-]?\d*,\d+\s*")


def _num(value: str | None, where: str) -> float:
    if value is None:
        raise ScenarioError(f"{where}: missing value (the row has fewer columns than the header)")
    try:
        return float(value)
    except ValueError:
        pass
    if _DECIMAL_COMMA.fullmatch(value) and value.count(",") == 1:
        return float(value.replace(",", "."))  # "50,1": a decimal comma (';'-separated CSV of a European spreadsheet)
    raise ScenarioError(f"{where}: '{value}' is not a number") from None


def _read_csv(path: Path, required: set[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV as (line number, dict). Spreadsheet exports are accepted: a UTF-8 byte order mark,
    Windows line ends, ';' or tab as the separator (when the header has no comma), and empty
    rows at the end; a file that is not UTF-8, or a row with more non-empty cells than the
    header has columns, is refused naming its line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory, expected a CSV file") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ScenarioError(
            f"{path} line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); save it as "
            f"'CSV UTF-8' or convert it to UTF-8"
        ) from None
    header_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in header_line:
        delimiter = max(";\t", key=header_line.count) if (";" in header_line or "\t" in header_line) else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))  # the file's own line: blank lines are skipped, not counted away
    except csv.Error as e:
        raise ScenarioError(f"{path} line {reader.line_num}: could not read the CSV ({e})") from None
    while rows and all(v in ("", None) for k, v in rows[-1][1].items() if k is not None):
        rows.pop()  # spreadsheets export trailing rows of empty cells
    header = reader.fieldnames or []
    if not rows:
        raise ScenarioError(f"{path}: no rows")
    missing = required - set(header)
    if missing:
        raise ScenarioError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    for line, row in rows:
        beyond: list[str] = row.get(None, [])  # type: ignore[call-overload]  # DictReader files cells beyond the header under None
        extra = [v for v in beyond if v.strip()]
        if extra:
            raise ScenarioError(
                f"{path} line {line} (id '{row.get('id', '')}'): {len(header) + len(beyond)} cells but "
                f"the header names {len(header)} columns (extra '{extra[0][:30]}'); a value with "
                f"'{delimiter}' in it needs quotes"
            )
    return rows


def _geometry(text: str, where: str) -> Any:
    """A unit boundary from a CSV cell: a GeoJSON object, or WKT (POLYGON / MULTIPOLYGON), lon/lat."""
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ScenarioError(f"{where}: not valid GeoJSON ({e.msg} at character {e.pos})") from None
    if re.match(r"(?i)(multi)?polygon\b", text):
        import shapely
        from shapely.geometry import mapping

        try:
            shape = shapely.from_wkt(text)
        except shapely.errors.ShapelyError as e:
            raise ScenarioError(f"{where}: not valid WKT ({e})") from None
        return json.loads(json.dumps(mapping(shape)))  # tuples -> lists, as GeoJSON reads
    raise ScenarioError(
        f"{where}: expected a GeoJSON Polygon/MultiPolygon object or WKT POLYGON/MULTIPOLYGON, got '{text[:30]}'"
    )


def scenario_dict_from_csv(
    units_csv: Path, reps_csv: Path | None = None, lines: dict[str, list[int]] | None = None
) -> dict:
    """units.csv: one row a unit, columns
    id,lat,lon[,workload,potential,name,skills,current,lock,tier,geometry,<measures>].

    `skills` is a `;`-separated list; `tier` names a tier of the scenario's `tiers` (from the
    settings); `geometry` is the unit's boundary as GeoJSON or WKT (lon/lat); any other numeric
    column becomes an attribute (a measure). `lines`, when given, receives each record's line
    in its file ("units", "reps").
    """
    units, unit_lines = [], []
    for r, row in _read_csv(units_csv, {"id", "lat", "lon"}):
        where = f"{units_csv.name} line {r} (id '{row.get('id', '')}')"
        unit: dict[str, Any] = {
            "id": row["id"],
            "lat": _num(row["lat"], f"{where}.lat"),
            "lon": _num(row["lon"], f"{where}.lon"),
        }
        for col in ("workload", "potential"):
            if row.get(col, "") != "":
                unit[col] = _num(row[col], f"{where}.{col}")
        for col in ("name", "current", "lock", "tier"):
            if row.get(col):
                unit[col] = row[col]
        if row.get("skills"):
            unit["skills"] = [s.strip() for s in row["skills"].split(";") if s.strip()]
        if row.get("geometry", "").strip():
            unit["geometry"] = _geometry(row["geometry"].strip(), f"{where}.geometry")
        attrs = {
            c: _num(v, f"{where}.{c}") for c, v in row.items() if c not in _UNIT_COLUMNS and c and v not in ("", None)
        }
        if attrs:
            unit["attributes"] = attrs
        units.append(unit)
        unit_lines.append(r)
    data: dict[str, Any] = {"name": units_csv.stem, "units": units}
    if lines is not None:
        lines["units"] = unit_lines
    if reps_csv is not None:
        reps, rep_lines = [], []
        for r, row in _read_csv(Path(reps_csv), {"id", "lat", "lon"}):
            where = f"{Path(reps_csv).name} line {r} (id '{row.get('id', '')}')"
            rep: dict[str, Any] = {
                "id": row["id"],
                "lat": _num(row["lat"], f"{where}.lat"),
                "lon": _num(row["lon"], f"{where}.lon"),
            }
            for col in ("name", "current"):
                if row.get(col):
                    rep[col] = row[col]
            if row.get("skills"):
                rep["skills"] = [s.strip() for s in row["skills"].split(";") if s.strip()]
            cap = {
                c.removeprefix("capacity_"): _num(v, f"{where}.{c}")
                for c, v in row.items()
                if c.startswith("capacity_") and v
            }
            if cap:
                rep["capacity"] = cap
            reps.append(rep)
            rep_lines.append(r)
        data["reps"] = reps
        if lines is not None:
            lines["reps"] = rep_lines
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
                f"{path}: assignment['{uid}']: unknown territory '{tid}' "
                f"(territories: {', '.join(problem.territory_ids)})"
            )
        labels[index[uid]] = tindex[tid]
    missing = np.flatnonzero(labels < 0)
    if len(missing):
        raise ScenarioError(
            f"{path}: assignment: unit '{problem.ids[missing[0]]}' is not assigned ({len(missing)} missing)"
        )
    return labels
