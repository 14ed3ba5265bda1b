"""Fixtures shared by every test folder. Instance generators live in tests/instances."""

import json

import pytest

from tests.instances import EXAMPLE


@pytest.fixture
def example_dict() -> dict:
    """The bundled Iowa example as a scenario dict."""
    return json.loads(EXAMPLE.read_text())
