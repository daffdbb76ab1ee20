"""Fixtures for the gateway suites beyond those in tests/conftest.py."""

from __future__ import annotations

import pytest

from tests.conftest import Gateway
from tests.integration.api.hostile import GatewayFactory


@pytest.fixture
async def api(gateway_factory: GatewayFactory) -> Gateway:
    """The API without the dispatcher, for tests that never need a batch run."""
    return await gateway_factory(dispatch=False)
