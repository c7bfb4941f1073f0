"""Never silently wrong: 24 simulated hours with faults injected in turn, and two meters."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest

from custom_components.octopus_home_mini.account import LIVE_MAX_WAIT
from tests.common import Sim, advance, max_requests_in_any_hour, settle, setup_entry
from tests.simulator import SINGLE, TWOMETERS, KrakenSimulator

DEVICE = SINGLE.device_ids[0]
MIDNIGHT = datetime(2026, 3, 14, tzinfo=UTC)
CONSUMPTION = "sensor.home_mini_21e1234567_consumption"
COST_TODAY = "sensor.home_mini_21e1234567_cost_today"
ONLINE = "binary_sensor.home_mini_21e1234567_online"


pytestmark = pytest.mark.usefixtures("london")


@pytest.fixture
def sim_start() -> datetime:
    """The day starts at midnight (London is on GMT in mid-March)."""
    return MIDNIGHT + timedelta(seconds=30)


@dataclass
class Fault:
    """One entry of the matrix: when, what, for how long."""

    name: str
    at: timedelta
    inject: Callable[[KrakenSimulator, datetime], None]
    lasts: timedelta = timedelta(minutes=10)
    restart: bool = False


def timed(
    kind: str, minutes: float, **kwargs: object
) -> Callable[[KrakenSimulator, datetime], None]:
    """A fault that stops by itself after some minutes."""

    def inject(sim: KrakenSimulator, now: datetime) -> None:
        sim.set_fault(kind, until=now + timedelta(minutes=minutes), **kwargs)

    return inject


def glitches(sim: KrakenSimulator, now: datetime) -> None:
    """Register glitches: 0, a decrease and nulls on samples not yet readable."""
    base = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for offset, kind in enumerate(["zero", "decrease", "null", "null", "decrease"]):
        sim.add_glitch(DEVICE, base + timedelta(seconds=10 * offset), kind)


def tokens(kind: str) -> Callable[[KrakenSimulator, datetime], None]:
    """Server-side token expiry faults act once."""
    return lambda sim, _now: sim.set_fault(kind)


def refresh_and_access(sim: KrakenSimulator, _now: datetime) -> None:
    """The refresh token dies with the access token: the API key is used again."""
    sim.set_fault("revoke_refresh_tokens")
    sim.set_fault("expire_tokens")


MATRIX = [
    Fault("rate limit KT-CT-1199", timedelta(hours=1), timed("rate_limit", 10)),
    Fault("rate limit KT-GB-4042", timedelta(hours=2), timed("rate_limit_telemetry", 10)),
    Fault("HTTP 429", timedelta(hours=2, minutes=40), timed("http_429", 5, seconds=120)),
    Fault("access token expiry", timedelta(hours=3), tokens("expire_tokens")),
    Fault("refresh token expiry", timedelta(hours=3, minutes=30), refresh_and_access),
    Fault("HTTP 502", timedelta(hours=4), timed("http_502", 10)),
    Fault("HTTP 403 HTML", timedelta(hours=5), timed("http_403_html", 10)),
    Fault("malformed JSON", timedelta(hours=6), timed("malformed_json", 10)),
    Fault("KT-GB-4043", timedelta(hours=6, minutes=30), timed("network", 5)),
    Fault("KT-GB-4039 for 2 h", timedelta(hours=7), timed("outage", 120), lasts=timedelta(hours=2)),
    Fault("stale Mini for 1 h", timedelta(hours=10), timed("stale", 60), lasts=timedelta(hours=1)),
    Fault("register glitches", timedelta(hours=12), glitches, lasts=timedelta(minutes=3)),
    Fault("restart during 502", timedelta(hours=14), timed("http_502", 10), restart=True),
]


def our_warnings(caplog: pytest.LogCaptureFixture, since: int) -> list[logging.LogRecord]:
    """Warnings and errors of this integration logged since record number `since`."""
    return [
        r
        for r in caplog.records[since:]
        if r.levelno >= logging.WARNING and r.name.startswith("custom_components.octopus")
    ]


async def test_fault_matrix(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every fault, from midnight to two hours after the last: no traceback, consumption
    monotonic and never past the meter, values back within a poll or two, at most one warning
    per outage, the hourly budget kept, and the cost of the day so far Octopus's own."""
    asyncio.get_running_loop().set_debug(False)  # thousands of polls
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    last_consumption = Decimal(0)
    schedule = list(MATRIX)
    active: tuple[Fault, datetime, int] | None = None
    # Two quiet hours after the last fault (ten more, to midnight, took 40 % of the time).
    end = MIDNIGHT + MATRIX[-1].at + timedelta(hours=2)
    while dt_util.utcnow() < end:
        await advance(hass, freezer, 30)
        now = dt_util.utcnow()
        state = hass.states.get(CONSUMPTION)
        if state is not None and state.state != STATE_UNAVAILABLE:
            consumption = Decimal(state.state)
            assert consumption >= last_consumption, now
            assert consumption * 1000 <= sim.register_wh(DEVICE, now), now
            last_consumption = consumption
        if active is None and schedule and now >= MIDNIGHT + schedule[0].at:
            fault = schedule.pop(0)
            fault.inject(sim, now)
            active = (fault, now, len(caplog.records))
            if fault.restart:
                await hass.config_entries.async_reload(entry.entry_id)
                await hass.async_block_till_done()
        if active is not None and now >= active[1] + active[0].lasts:
            fault, _started, logged_from = active
            # Back to normal within a poll or two (a backed-off poll may be pending).
            for _ in range(40):
                if _matches_meter(hass, sim):
                    break
                await advance(hass, freezer, 30)
            assert _matches_meter(hass, sim), fault.name
            assert len(our_warnings(caplog, logged_from)) <= 1 + (
                fault.name == "register glitches"
            ), fault.name
            active = None
    assert schedule == []
    assert entry.state is ConfigEntryState.LOADED
    # Home Assistant adds a traceback at DEBUG level only; nothing above it carries one.
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in loud if r.exc_info or "Traceback" in r.getMessage()] == []
    assert max_requests_in_any_hour(sim, SINGLE.account_number) <= 125
    # Cost of the day so far, outages included, is Octopus's own figure.
    (loaded,) = hass.config_entries.async_entries("octopus_home_mini")
    newest = loaded.runtime_data.coordinator.data.newest
    truth = sim.true_cost_pence(DEVICE, MIDNIGHT, newest.read_at + timedelta(seconds=1))
    assert abs(Decimal(hass.states.get(COST_TODAY).state) * 100 - truth) <= Decimal("0.5")


def _matches_meter(hass: HomeAssistant, sim: KrakenSimulator) -> bool:
    state = hass.states.get(CONSUMPTION)
    truth = sim.latest_readable(DEVICE)
    return (
        state is not None
        and state.state != STATE_UNAVAILABLE
        and truth is not None
        and Decimal(state.state) == Decimal(truth.register_wh) / 1000
    )


async def test_rate_limit_backs_off_and_recovers(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """A rate-limit storm: the account's requests spread out (exponentially, with jitter,
    ≤ 15 min apart), then the cadence is back to a slot every 30 s."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    coordinator = entry.runtime_data.coordinator
    first = coordinator.data.samples[0].read_at
    sim.set_fault("rate_limit_telemetry", until=dt_util.utcnow() + timedelta(minutes=30))
    polls_before = sim.request_count(root_field="smartMeterTelemetry")
    for _ in range(60):
        await advance(hass, freezer, 30)
    during = sim.request_count(root_field="smartMeterTelemetry") - polls_before
    assert during < 40  # 60 polls at 30 s would be 60
    link = entry.runtime_data.link
    assert link.resume_at is None or link.resume_at - dt_util.utcnow() <= timedelta(minutes=15)
    for _ in range(60):
        await advance(hass, freezer, 30)
    assert (link.backoff_steps, link.resume_at) == (0, None)
    polls_before = sim.request_count(root_field="smartMeterTelemetry")
    requests_before = len(sim.requests)
    for _ in range(10):  # a request in every slot again (one may read Kraken's count)
        await advance(hass, freezer, 30)
    assert len(sim.requests) - requests_before == 10
    assert sim.request_count(root_field="smartMeterTelemetry") - polls_before >= 9
    for _ in range(LIVE_MAX_WAIT):  # the last slot may have been lent to a fill
        if _matches_meter(hass, sim):
            break
        await advance(hass, freezer, 30)
    assert _matches_meter(hass, sim)
    # Every 10-s sample of the storm was fetched afterwards: capture ratio 1.0.
    newest = coordinator.data.newest
    assert coordinator.samples_received == len(
        sim.samples(DEVICE, first, newest.read_at + timedelta(seconds=1))
    )


async def test_backend_too_many_requests_backs_off(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """OE-0002 (Kraken's backend, no errorType) is a rate limit: polls spread out, no reauth."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    coordinator = entry.runtime_data.coordinator
    sim.set_fault("rate_limit_backend", until=dt_util.utcnow() + timedelta(minutes=10))
    before = sim.request_count(root_field="smartMeterTelemetry")
    for _ in range(20):
        await advance(hass, freezer, 30)
    assert sim.request_count(root_field="smartMeterTelemetry") - before < 15  # 20 at 30 s
    assert hass.config_entries.flow.async_progress_by_handler("octopus_home_mini") == []
    for _ in range(60):
        await advance(hass, freezer, 30)
    assert (entry.runtime_data.link.backoff_steps, entry.runtime_data.link.resume_at) == (0, None)
    assert coordinator.last_update_success
    assert entry.state is ConfigEntryState.LOADED


async def test_stale_mini_raises_and_clears_a_repair(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """15 minutes without a sample: a repair issue; it clears when readings return."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    issues = ir.async_get(hass)
    issue_id = f"home_mini_not_reporting_{entry.entry_id}"
    sim.set_fault("stale")
    for _ in range(2 * 14):
        await advance(hass, freezer, 30)
    assert issues.async_get_issue("octopus_home_mini", issue_id) is None
    assert hass.states.get(ONLINE).state == "off"
    for _ in range(4):
        await advance(hass, freezer, 30)
    issue = issues.async_get_issue("octopus_home_mini", issue_id)
    assert issue is not None
    assert issue.translation_key == "home_mini_not_reporting"
    sim.clear_faults()
    for _ in range(3):
        await advance(hass, freezer, 30)
    assert issues.async_get_issue("octopus_home_mini", issue_id) is None
    assert hass.states.get(ONLINE).state == "on"


async def test_a_deleted_meter_leaves_no_repair(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """A repair raised for a meter goes with its entry (it named a meter that is gone)."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    issues = ir.async_get(hass)
    issue_id = f"home_mini_not_reporting_{entry.entry_id}"
    sim.set_fault("stale")
    for _ in range(2 * 16):
        await advance(hass, freezer, 30)
    assert issues.async_get_issue("octopus_home_mini", issue_id) is not None
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert [key for key in issues.issues if key[0] == "octopus_home_mini"] == []


async def test_two_meters_share_one_budget(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Two meters of one account: one token, one cadence, ≤ 121 requests in any hour."""
    sim, url = frozen_sim
    first = await setup_entry(hass, url, TWOMETERS, 0)
    second = await setup_entry(hass, url, TWOMETERS, 1)
    assert first.runtime_data.link is second.runtime_data.link
    for _ in range(3 * 120):
        await advance(hass, freezer, 30)
    assert max_requests_in_any_hour(sim, TWOMETERS.account_number) <= 121
    assert sim.request_count(root_field="obtainKrakenToken") <= 4
    for index, entry in enumerate((first, second)):
        coordinator = entry.runtime_data.coordinator
        newest = coordinator.data.newest
        assert newest is not None
        truth = sim.latest_readable(TWOMETERS.device_ids[index])
        # Each meter is read live at least every 4 slots (two meters; a slot may go to Kraken's
        # count), and Kraken publishes ~30 s late.
        assert dt_util.utcnow() - newest.read_at <= timedelta(seconds=30 * 4 + 30)
        assert coordinator.data.consumption_wh <= truth.register_wh
    await hass.config_entries.async_unload(second.entry_id)
    assert first.runtime_data.link.coordinators == [first.runtime_data.coordinator]
    polls_before = sim.request_count(grouping="TEN_SECONDS")
    requests_before = len(sim.requests)
    for _ in range(4):  # the meter left alone has every slot (but one for Kraken's count)
        await advance(hass, freezer, 30)
    assert sim.request_count(grouping="TEN_SECONDS") - polls_before >= 3
    assert len(sim.requests) - requests_before == 4


async def test_missing_mini_raises_and_clears_a_repair(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Kraken no longer knows the meter's Mini at runtime: a repair issue, never a reauth."""
    _, url = frozen_sim
    entry = await setup_entry(hass, url)
    await settle(hass, freezer)
    coordinator = entry.runtime_data.coordinator
    issues = ir.async_get(hass)
    issue_id = f"home_mini_missing_{entry.entry_id}"
    coordinator.device_id = "FF-FF-FF-FF-FF-FF-FF-FF"  # what Kraken answers KT-GB-4050 for
    await advance(hass, freezer, 30)
    issue = issues.async_get_issue("octopus_home_mini", issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {"meter": "Home Mini 21E1234567"}
    assert hass.states.get(CONSUMPTION).state == STATE_UNAVAILABLE
    assert hass.config_entries.flow.async_progress_by_handler("octopus_home_mini") == []
    coordinator.device_id = DEVICE
    await advance(hass, freezer, 60)
    assert issues.async_get_issue("octopus_home_mini", issue_id) is None
    assert hass.states.get(CONSUMPTION).state != STATE_UNAVAILABLE
