"""Fixtures of the API tests: a signed-in TestClient on a fresh app, on a SQLite file and on a
fresh PostgreSQL database (`database_url`, tests/scenarios/postgres.py)."""

import pytest

from api.app import create_app
from api.settings import Settings
from tests.api.helpers import signed_in_client
from tests.scenarios.postgres import database_url, postgres_url  # noqa: F401  (fixtures: SQLite and PostgreSQL)


def _client_of(url: str, max_workers: int):
    client = signed_in_client(create_app(Settings(database_url=url, max_workers=max_workers)))
    yield client
    client.__exit__(None, None, None)


@pytest.fixture
def client(database_url):  # noqa: F811 (the fixture imported above)
    """A TestClient signed in as tenant acme, on an app running 2 solver workers."""
    yield from _client_of(database_url, max_workers=2)


@pytest.fixture
def one_worker(database_url):  # noqa: F811 (the fixture imported above)
    """The same on an app running 1 solver worker: further runs wait in the queue."""
    yield from _client_of(database_url, max_workers=1)
