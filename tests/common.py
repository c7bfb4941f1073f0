"""Helpers for integration tests: an entry against the simulator, time travel, states."""

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
import logging
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.helpers import event
from homeassistant.util import dt as dt_util
from homeassistant.util.async_ import get_scheduled_timer_handles
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.octopus_home_mini.const import (
    CONF_ACCOUNT_NUMBER,
    CONF_API_URL,
    CONF_DEVICE_ID,
    CONF_MPAN,
    CONF_SERIAL_NUMBER,
    DOMAIN,
)
from tests.simulator import SINGLE, KrakenSimulator
from tests.simulator.fixtures import Fixture

#: A served simulator and its base URL (the ``frozen_sim`` fixture).
type Sim = tuple[KrakenSimulator, str]
#: The single meter's sensors (SINGLE's serial) start with this.
PREFIX = "sensor.home_mini_21e1234567_"


def value(hass: HomeAssistant, key: str, prefix: str = PREFIX) -> Decimal:
    """A sensor's state as a Decimal."""
    state = hass.states.get(prefix + key)
    assert state is not None, prefix + key
    return Decimal(state.state)


def newest_read_at(hass: HomeAssistant) -> datetime:
    """The newest sample the (only) meter's integration holds."""
    (entry,) = hass.config_entries.async_entries(DOMAIN)
    newest = entry.runtime_data.coordinator.data.newest
    assert newest is not None
    return newest.read_at


def entry_for(url: str, fixture: Fixture = SINGLE, index: int = 0) -> MockConfigEntry:
    """A config entry as the config flow would create it for one meter of a fixture."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Home Mini {fixture.serials[index]}",
        unique_id=fixture.device_ids[index],
        data={
            CONF_API_KEY: fixture.api_key,
            CONF_ACCOUNT_NUMBER: fixture.account_number,
            CONF_API_URL: url,
            CONF_DEVICE_ID: fixture.device_ids[index],
            CONF_MPAN: fixture.mpans[index],
            CONF_SERIAL_NUMBER: fixture.serials[index],
        },
    )


async def setup_entry(
    hass: HomeAssistant, url: str, fixture: Fixture = SINGLE, index: int = 0
) -> MockConfigEntry:
    """Add and set up an entry; returns it whatever state it ends in."""
    entry = entry_for(url, fixture, index)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


_RESOLUTION = time.get_clock_info("monotonic").resolution


def fire_time_changed(hass: HomeAssistant, now: datetime) -> None:
    """The test harness's ``async_fire_time_changed``, at a fraction of its cost.

    The same timers fire, seeing the same time (``now`` plus the half second Home Assistant
    spreads timers over); the time trackers' clock is swapped once per call instead of being
    patched with two mocks for each timer that fires (a tenth of a simulated day's time).
    """
    now += timedelta(microseconds=event.RANDOM_MICROSECOND_MAX)
    timestamp = now.timestamp()
    saved = event.time_tracker_utcnow, event.time_tracker_timestamp
    event.time_tracker_utcnow = lambda: now  # type: ignore[assignment]
    event.time_tracker_timestamp = lambda: timestamp  # type: ignore[assignment]
    try:
        for handle in list(get_scheduled_timer_handles(hass.loop)):
            if not isinstance(handle, asyncio.TimerHandle) or handle.cancelled():
                continue
            ahead = handle.when() - (hass.loop.time() + _RESOLUTION)
            if timestamp - time.time() >= ahead:
                handle._run()  # as the harness does
                handle.cancel()
    finally:
        event.time_tracker_utcnow, event.time_tracker_timestamp = saved


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    """Move the frozen clock and let every timer due by then fire."""
    freezer.tick(timedelta(seconds=seconds))
    fire_time_changed(hass, dt_util.utcnow())
    # Coordinator refreshes run as background tasks; a poll left in flight would see the
    # next tick fire its request timeout.
    await hass.async_block_till_done(wait_background_tasks=True)


async def settle(hass: HomeAssistant, freezer: FrozenDateTimeFactory, limit: int = 240) -> int:
    """Slot by slot until no meter has work but live (the back-fill done); the slots taken.

    Until then the account's cadence lends two slots in three to the back-fill; tests of the
    live path start from the steady state.
    """
    for slot in range(limit):
        links = {id(e.runtime_data.link): e.runtime_data.link for e in _loaded(hass)}
        now = dt_util.utcnow()
        if not any(
            link.discovery_due() or any(m.due(now) for m in link.coordinators)
            for link in links.values()
        ):
            return slot
        await advance(hass, freezer, 30)
    raise AssertionError(f"still busy after {limit} slots")


def _loaded(hass: HomeAssistant) -> list[Any]:
    return [
        entry
        for entry in hass.config_entries.async_entries("octopus_home_mini")
        if getattr(entry, "runtime_data", None) is not None
    ]


def max_requests_in_any_hour(sim: KrakenSimulator, account_number: str) -> int:
    """The most requests the account made in any sliding hour (by the simulator's record)."""
    times = [r.at for r in sim.requests if r.account_number == account_number]
    most = 0
    first = 0
    for last, at in enumerate(times):
        while at - times[first] >= timedelta(hours=1):
            first += 1
        most = max(most, last - first + 1)
    return most


def ours_loud(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The test body's records from this integration at WARNING or above."""
    return [
        r.getMessage()
        for r in caplog.get_records("call")
        if r.name.startswith("custom_components.octopus_home_mini") and r.levelno >= logging.WARNING
    ]


@pytest.fixture(name="recorder_config")
def statistics_only() -> dict[str, Any]:
    """For modules that read only the statistics the integration writes (external ones, by
    its own statistic ids): the recorder keeps no entity states. Recording every state of
    thousands of polls took 40 % of a simulated day's time. Imported like
    :func:`recorder_first`; tests of Home Assistant's own use of the states (the Energy
    panel's validation, compiled statistics) do not import it.
    """
    return {"exclude": {"domains": ["sensor", "binary_sensor", "button"]}}


@pytest.fixture(name="auto_enable_custom_integrations")
def recorder_first(recorder_mock: Recorder, enable_custom_integrations: None) -> None:
    """For modules that check statistics: the recorder must start before `hass`.

    Imported into such a module, it takes the place of conftest's autouse fixture of the same
    name there (and only there).
    """
