"""Shared fixtures: the Kraken simulator on loopback, a settable clock, and a secrets guard."""

from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
from unittest.mock import PropertyMock, patch

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

# Import our package before Home Assistant mounts phcc's testing_config/custom_components.
import custom_components.octopus_home_mini  # noqa: F401
from tests.simulator import ACCOUNTS, KrakenSimulator, run_simulator

# The harness's plugin turns on every SQL statement at INFO, written past pytest's capture.
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
# The recorder logs every event it processes and every pool checkout at DEBUG: nine records in
# ten of a long test, each formatted by caplog (a good part of the suite's time). Entity
# attributes are checked for secrets by their own tests; our own DEBUG records stay guarded.
logging.getLogger("homeassistant.components.recorder").setLevel(logging.INFO)

START = datetime(2026, 3, 14, 12, 0, 0, tzinfo=UTC)
#: Simulators of the running test, so the secrets guard can learn the tokens they issued.
_SIMULATORS: list[KrakenSimulator] = []


@dataclass
class FakeClock:
    """The tests' one hand-moved clock: the simulator and the client share it (tests in Home
    Assistant move time with its ``freezer`` instead)."""

    now: datetime = field(default=START)

    def __call__(self) -> datetime:
        """The current simulated time."""
        return self.now

    def advance(self, seconds: float = 0, **delta: float) -> None:
        """Move time forward by ``seconds`` and any other ``timedelta`` units."""
        self.now += timedelta(seconds=seconds, **delta)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components/."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots through Home Assistant's extension (stable ids, readable registry entries)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create every entity enabled, including those disabled by default."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
def clock() -> FakeClock:
    """A settable clock starting at a fixed instant."""
    return FakeClock()


@pytest.fixture
def simulator(clock: FakeClock) -> KrakenSimulator:
    """A simulator on the fake clock, with no hourly ceiling (client tests burst on purpose)."""
    sim = KrakenSimulator(clock=clock, rate_limit_per_hour=None)
    _SIMULATORS.append(sim)
    return sim


@pytest.fixture
async def sim_url(simulator: KrakenSimulator, socket_enabled: None) -> AsyncGenerator[str]:
    """The simulator served on 127.0.0.1; yields its base URL."""
    async with run_simulator(simulator) as base_url:
        yield base_url


@pytest.fixture
async def london(hass: HomeAssistant) -> None:
    """Home Assistant on UK time, as the users are."""
    await hass.config.async_set_time_zone("Europe/London")


@pytest.fixture
def sim_start() -> datetime:
    """When integration tests start (override in a module to start elsewhere)."""
    return START


@pytest.fixture
async def frozen_sim(
    freezer: FrozenDateTimeFactory, socket_enabled: None, sim_start: datetime
) -> AsyncGenerator[tuple[KrakenSimulator, str]]:
    """For integration tests: time frozen at `sim_start`, a simulator on it, and its URL."""
    freezer.move_to(sim_start)
    sim = KrakenSimulator()
    _SIMULATORS.append(sim)
    async with run_simulator(sim) as base_url:
        yield sim, base_url


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    """A real aiohttp session for client tests."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture(autouse=True)
def no_secrets_in_logs(caplog: pytest.LogCaptureFixture) -> Generator[None]:
    """Fail any test whose log records show an API key, access token or refresh token."""
    yield
    secrets = {account.api_key for account in ACCOUNTS}
    for sim in _SIMULATORS:
        secrets |= sim.issued_secrets()
    _SIMULATORS.clear()
    formatter = logging.Formatter()
    logged = "\n".join(
        record.getMessage()
        + (formatter.formatException(record.exc_info) if record.exc_info else "")
        # caplog.records holds only the current phase (teardown here): read setup and call too.
        for phase in ("setup", "call", "teardown")
        for record in caplog.get_records(phase)
    )
    leaked = [secret[:6] for secret in secrets if secret and secret in logged]
    assert not leaked, f"secrets in the log (prefixes): {leaked}"
    # Home Assistant reports our use of what it deprecated (a warning in a real instance).
    reported = [
        line for line in logged.splitlines() if "custom integration 'octopus_home_mini'" in line
    ]
    assert not reported, reported
