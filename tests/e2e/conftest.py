"""Fixtures for the end-to-end test: Home Assistant runs as a subprocess, not in-process."""

from collections.abc import Generator

import pytest

from tests.e2e.harness import Processes


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the suite's autouse fixture, which would start an in-process `hass`."""


@pytest.fixture
def processes() -> Generator[Processes]:
    """Every subprocess the test starts; whatever still runs at teardown is killed by PID."""
    started = Processes()
    yield started
    started.kill_all()
