"""Malformed bodies against every POST that takes JSON: always a 4xx naming the field, never a 5xx.

Hypothesis takes a valid body for each endpoint and breaks it one way: a value of the wrong
JSON type, a value out of range or referring to nothing, a required field removed, an unknown
field added, a body that is not an object, or bytes that are not JSON. The answer must be a
4xx whose `detail` names the broken field (or `body`). ~100 examples run by default; the slow
test runs 1,250.
"""

from __future__ import annotations

import copy
import json
import math

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.settings import Settings
from tests.api.helpers import API, new_key

SCENARIO = {
    "name": "fuzz",
    "territories": 2,
    "units": [
        {
            "id": "a",
            "name": "A",
            "lat": 40.0,
            "lon": -90.0,
            "workload": 1.0,
            "potential": 2.0,
            "attributes": {"accounts": 3.0},
            "skills": ["med"],
            "current": "T1",
        },
        {"id": "b", "lat": 40.1, "lon": -90.0, "workload": 2.0, "potential": 1.0, "current": "T1"},
        {"id": "c", "lat": 40.2, "lon": -90.0, "workload": 1.0, "potential": 1.0, "current": "T2"},
        {"id": "d", "lat": 40.3, "lon": -90.0, "workload": 2.0, "potential": 2.0, "current": "T2", "lock": "T2"},
    ],
    "adjacency": [["a", "b"], ["b", "c"], ["c", "d"]],
    "reps": [
        {"id": "r1", "lat": 40.0, "lon": -90.0, "skills": ["med"], "capacity": {"workload": 10.0}},
        {"id": "r2", "lat": 40.3, "lon": -90.0, "skills": ["med"]},
    ],
    "balance": [{"measure": "workload", "tolerance": 0.5}],
    "contiguity": True,
    "objective": {"distance_power": 1, "disruption_weight": 0.0},
    "disruption": {"max_moved_share": 0.5},
}
INF, NAN = math.inf, math.nan

# Values out of range or referring to nothing, by path in the scenario.
SCENARIO_BAD = {
    ("units", 0, "lat"): [90.5, -1000.0, INF, NAN],
    ("units", 2, "lon"): [180.5, -181.0, -INF],
    ("units", 1, "workload"): [-1.0, -0.001, INF, NAN],
    ("units", 0, "attributes", "accounts"): [-3.0, NAN],
    ("units", 1, "id"): ["", "x" * 201, "a"],
    ("units", 3, "lock"): ["T9", ""],
    ("units",): [[]],
    ("territories",): [0, -3, 5, 1.5],
    ("balance", 0, "tolerance"): [-0.1, 11.0, NAN],
    ("balance", 0, "measure"): [""],
    ("adjacency", 0, 0): ["zz", ""],
    ("objective", "distance_power"): [3, 0],
    ("objective", "disruption_weight"): [-1.0],
    ("disruption", "max_moved_share"): [1.5, -0.1],
    ("reps", 0, "capacity", "workload"): [-5.0],
    ("reps", 1, "lat"): [95.0],
}
RUN = {"method": "heuristic", "time_limit_s": 5.0, "seed": 0, "version": 1}
RUN_BAD = {
    ("method",): ["fast", "", "AUTO"],
    ("time_limit_s",): [0, -1.0, 1e9, NAN, INF, "5"],
    ("seed",): [-1, 2**31, 1.5, "3", True],
    ("version",): [0, -1, 1.5, "1", 99],
}
COMPARE = {"run_ids": ["run-a", "run-b"], "match_territories": True}
COMPARE_BAD = {
    ("run_ids",): [[], ["x"], [f"r{i}" for i in range(21)], ["a", "a"], [1, 2]],
    ("run_ids", 0): ["", "no-such-run"],
    ("match_territories",): ["yes", 1, 0],
}
ANALYZE = {"scenario": SCENARIO, "plan": {"assignment": {"a": "T1", "b": "T1", "c": "T2", "d": "T2"}}}
ANALYZE_BAD = {
    ("plan", "assignment"): [
        {},
        {"a": "T1", "b": "T1", "c": "T2", "d": "T2", "zz": "T1"},
        {"a": "T9", "b": "T1", "c": "T2", "d": "T2"},
    ],
    ("plan", "assignment", "a"): ["", "T3"],
    ("plan", "reps"): [{"T1": "r9", "T2": "r2"}, {"T1": "r1"}],
    ("version",): [1, 0],
    ("scenario_id",): ["some-id"],
    **{("scenario", *path): values for path, values in SCENARIO_BAD.items()},
}
REQUIRED = {
    "scenario": [
        ("units",),
        ("territories",),
        ("units", 0, "id"),
        ("units", 1, "lat"),
        ("units", 2, "lon"),
        ("reps", 0, "id"),
        ("balance", 0, "measure"),
    ],
    "runs": [],
    "compare": [("run_ids",)],
    "analyze": [("plan",), ("scenario",), ("plan", "assignment"), ("scenario", "units")],
}
# Where an unknown field is refused (objects whose model forbids extra fields).
STRICT_OBJECTS = {
    "scenario": [(), ("units", 1), ("reps", 0), ("balance", 0), ("objective",)],
    "runs": [()],
    "compare": [()],
    "analyze": [(), ("scenario",), ("scenario", "units", 2)],
}

ENDPOINTS = {
    "scenarios": ("/scenarios", SCENARIO, SCENARIO_BAD, "scenario"),
    "validate": ("/scenarios/validate", SCENARIO, SCENARIO_BAD, "scenario"),
    "runs": ("/scenarios/{sid}/runs", RUN, RUN_BAD, "runs"),
    "compare": ("/compare", COMPARE, COMPARE_BAD, "compare"),
    "analyze": ("/analyze", ANALYZE, ANALYZE_BAD, "analyze"),
}


def _paths(node, prefix=()):
    """Every path to a value inside a JSON document (dict keys and list indexes)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield prefix + (key,)
        yield from _paths(child, prefix + (key,))


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def _set(doc, path, value):
    _get(doc, path[:-1])[path[-1]] = value


def _name(path) -> str:
    names = [p for p in path if isinstance(p, str)]
    return names[-1] if names else "body"


_JUNK_SCALARS = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=5), st.booleans())
_JUNK_CONTAINERS = st.one_of(
    st.just([]),
    st.just({}),
    st.lists(_JUNK_SCALARS, min_size=1, max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=3), _JUNK_SCALARS, min_size=1, max_size=2),
)


@st.composite
def malformed(draw, endpoint: str):
    """(body bytes, the field the answer must name) for one way of breaking the endpoint's valid body."""
    _, base, bad, kind = ENDPOINTS[endpoint]
    body = copy.deepcopy(base)
    how = draw(
        st.sampled_from(
            ["wrong_type", "wrong_type", "bad_value", "bad_value", "missing", "extra", "not_object", "not_json"]
        )
    )
    if how == "missing" and not REQUIRED[kind]:
        how = "bad_value"
    if how == "wrong_type":
        path = draw(st.sampled_from(sorted(_paths(body), key=repr)))
        old = _get(body, path)
        if isinstance(old, dict):
            value = draw(st.one_of(st.lists(_JUNK_SCALARS, max_size=3), st.text(max_size=5), st.integers()))
        elif isinstance(old, list):
            value = draw(
                st.one_of(
                    st.dictionaries(st.text(min_size=1, max_size=3), _JUNK_SCALARS, max_size=2),
                    st.text(max_size=5),
                    st.integers(),
                )
            )
        else:  # no scalar is ever read from a container
            value = draw(_JUNK_CONTAINERS)
        _set(body, path, value)
        return json.dumps(body).encode(), _name(path)
    if how == "bad_value":
        path = draw(st.sampled_from(sorted(bad, key=repr)))
        _set(body, path, draw(st.sampled_from(bad[path])))
        return json.dumps(body).encode(), _name(path)  # json.dumps writes NaN/Infinity, which the server parses
    if how == "missing":
        path = draw(st.sampled_from(REQUIRED[kind]))
        del _get(body, path[:-1])[path[-1]]
        return json.dumps(body).encode(), _name(path)
    if how == "extra":
        where = draw(st.sampled_from(STRICT_OBJECTS[kind]))
        key = draw(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
                lambda k: k not in _get(body, where) and k not in ("name", "id", "plan", "scenario", "version")
            )
        )
        _get(body, where)[key] = draw(st.one_of(_JUNK_SCALARS, _JUNK_CONTAINERS))
        return json.dumps(body).encode(), key
    if how == "not_object":
        return json.dumps(
            draw(st.one_of(_JUNK_SCALARS, st.lists(_JUNK_SCALARS, max_size=3), st.none()))
        ).encode(), "body"
    text = json.dumps(body)
    cut = draw(st.integers(min_value=0, max_value=len(text) - 1))
    broken = text[:cut] + draw(st.sampled_from(["", "}", "{", ",", "'", "\x00", "\\"]))
    assume(not _parses(broken))  # '{' + '}' is the valid body {}: not a broken one
    return broken.encode("utf-8"), "body"


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'api.db'}"))
    with TestClient(app) as client:
        app.state.run_manager.max_workers = 0  # bodies that slip through queue a run that never starts
        client.headers["X-API-Key"] = new_key(app, "fuzz")
        r = client.post(f"{API}/scenarios", json=SCENARIO)
        assert r.status_code == 201, r.text
        client.sid = r.json()["id"]
        for endpoint in ("validate", "analyze"):
            path, base, _, _ = ENDPOINTS[endpoint]
            assert client.post(API + path, json=base).status_code == 200, endpoint
        yield client


COUNTS: dict[str, int] = {}


def _check(client, endpoint: str, body: bytes, field: str) -> None:
    path = ENDPOINTS[endpoint][0].format(sid=client.sid)
    r = client.post(API + path, content=body, headers={"Content-Type": "application/json"})
    COUNTS[f"{endpoint} {r.status_code}"] = COUNTS.get(f"{endpoint} {r.status_code}", 0) + 1
    assert 400 <= r.status_code < 500, (r.status_code, r.text, body[:300])
    detail = r.json()["detail"]
    assert isinstance(detail, str) and field in detail, (field, detail, body[:300])


def _fuzz(endpoint: str, examples: int):
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(case=malformed(endpoint))
    def run(client, case):
        _check(client, endpoint, *case)

    return run


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_malformed_bodies_are_4xx_naming_the_field(fuzz_client, endpoint):
    _fuzz(endpoint, 20)(fuzz_client)


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_malformed_bodies_are_4xx_naming_the_field_1250_examples(fuzz_client, endpoint):
    before = sum(v for k, v in COUNTS.items() if k.startswith(endpoint + " "))
    _fuzz(endpoint, 250)(fuzz_client)
    after = sum(v for k, v in COUNTS.items() if k.startswith(endpoint + " "))
    assert after - before >= 250
    print(endpoint, {k: v for k, v in sorted(COUNTS.items()) if k.startswith(endpoint + " ")})
