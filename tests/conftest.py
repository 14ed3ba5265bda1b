"""Fixtures shared by every test folder. Instance generators live in tests/instances."""

import json

import pytest

from tests.instances import EXAMPLE, SHARED_DATA


@pytest.fixture
def example_dict() -> dict:
    """The bundled Iowa example as a scenario dict."""
    return json.loads(EXAMPLE.read_text())


@pytest.fixture
def shared_data():
    """The shared data sets (../shared/data beside the checkout); the test is skipped without them."""
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data not found: {SHARED_DATA}")
    return SHARED_DATA
