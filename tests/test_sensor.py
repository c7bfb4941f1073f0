"""Live sensors against the simulator, with time travel."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
import logging
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.octopus_home_mini.coordinator import HomeMiniCoordinator
from custom_components.octopus_home_mini.data import snapshot as meter_snapshot
from custom_components.octopus_home_mini.meter import MeterState
from custom_components.octopus_home_mini.sensor import cost_rate, demand_level, projected_month
from tests.common import Sim, advance, settle, setup_entry
from tests.simulator import SINGLE, SOLAR, KrakenSimulator

DEVICE = SINGLE.device_ids[0]
DEMAND = "sensor.home_mini_21e1234567_demand"
CONSUMPTION = "sensor.home_mini_21e1234567_consumption"
LEVEL = "sensor.home_mini_21e1234567_demand_level"
ONLINE = "binary_sensor.home_mini_21e1234567_online"
LAST_READING = "sensor.home_mini_21e1234567_last_reading"


def coordinator_of(hass: HomeAssistant) -> HomeMiniCoordinator:
    """The only entry's coordinator."""
    (entry,) = hass.config_entries.async_entries("octopus_home_mini")
    return entry.runtime_data.coordinator


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("platform", [Platform.SENSOR, Platform.BINARY_SENSOR, Platform.BUTTON])
async def test_entities_snapshot(
    hass: HomeAssistant,
    frozen_sim: Sim,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    """Entity registry entries and states at a frozen time, one platform at a time."""
    _, url = frozen_sim
    with patch("custom_components.octopus_home_mini.PLATFORMS", [platform]):
        entry = await setup_entry(hass, url)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


async def test_values_match_the_meter(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """Demand, consumption, level and last reading are the newest readable sample's."""
    sim, url = frozen_sim
    await setup_entry(hass, url)
    truth = sim.latest_readable(DEVICE)
    assert truth is not None
    assert Decimal(hass.states.get(DEMAND).state) == truth.demand_w
    assert Decimal(hass.states.get(CONSUMPTION).state) == Decimal(truth.register_wh) / 1000
    assert hass.states.get(LEVEL).state == demand_level(truth.demand_w)
    assert dt_util.parse_datetime(hass.states.get(LAST_READING).state) == truth.read_at
    assert hass.states.get(ONLINE).state == STATE_ON
    attributes = hass.states.get(CONSUMPTION).attributes
    assert attributes["unit_of_measurement"] == "kWh"
    assert attributes["state_class"] == "total_increasing"
    assert attributes["device_class"] == "energy"
    demand = hass.states.get(DEMAND).attributes
    assert demand["unit_of_measurement"] == "W"
    assert demand["device_class"] == "power"
    assert demand["state_class"] == "measurement"


async def test_ten_minutes_capture_every_sample_once(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Over 10 minutes: only live requests, at most one a slot (a slot now and then is left
    empty to make room for the setup's requests), every 10-s sample once and in order."""
    sim, url = frozen_sim
    await setup_entry(hass, url)
    coordinator = coordinator_of(hass)
    await settle(hass, freezer)  # the back-fill shares the cadence; every sample is still kept
    first = coordinator.data.samples[0].read_at
    received = coordinator.samples_received
    counted_from = coordinator.data.newest.read_at + timedelta(seconds=1)
    seen = {s.read_at: s for s in coordinator.data.samples}
    telemetry_before = sim.request_count(grouping="TEN_SECONDS")
    polls, requests, empty = 20, len(sim.requests), 0
    for _ in range(polls):
        await advance(hass, freezer, 30)
        for sample in coordinator.data.samples:
            assert seen.setdefault(sample.read_at, sample) is sample
        sent = sim.requests[requests:]
        requests = len(sim.requests)
        assert [r.grouping for r in sent] in ([], ["TEN_SECONDS"])
        if not sent:
            empty += 1
            continue
        truth = sim.latest_readable(DEVICE)
        assert truth is not None
        assert Decimal(hass.states.get(DEMAND).state) == truth.demand_w
    assert empty <= 3  # one slot in 8 at most, while the setup's requests are made room for
    assert sim.request_count(grouping="TEN_SECONDS") - telemetry_before == polls - empty
    newest = coordinator.data.newest
    assert newest is not None
    expected = [
        s.read_at for s in sim.samples(DEVICE, first, newest.read_at + timedelta(seconds=1))
    ]
    assert sorted(seen) == expected
    newly = sim.samples(DEVICE, counted_from, newest.read_at + timedelta(seconds=1))
    assert coordinator.samples_received - received == len(newly)
    # The last 30 minutes are held; the state carries no copy of them (the card's feed is a
    # websocket subscription).
    held = [s.read_at for s in coordinator.data.samples]
    assert held == expected[-len(held) :]
    assert held[-1] - held[0] == timedelta(minutes=30)
    assert "samples" not in hass.states.get(DEMAND).attributes


@pytest.mark.parametrize("kind", ["zero", "decrease", "null"])
async def test_register_glitch_is_ignored_once(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    """A glitched register never changes consumption, and is logged once."""
    sim, url = frozen_sim
    await setup_entry(hass, url)
    await settle(hass, freezer)
    before = Decimal(hass.states.get(CONSUMPTION).state)
    glitch_at = sim.latest_readable(DEVICE).read_at + timedelta(seconds=10)
    for offset in range(3):  # three glitched samples in a row, over one poll
        sim.add_glitch(DEVICE, glitch_at + timedelta(seconds=10 * offset), kind)
    history = []
    for _ in range(4):
        await advance(hass, freezer, 10)
        history.append(Decimal(hass.states.get(CONSUMPTION).state))
    assert history == sorted(history)
    assert all(value >= before for value in history)
    truth = sim.latest_readable(DEVICE)
    assert history[-1] <= Decimal(truth.register_wh) / 1000
    assert caplog.text.count("Ignoring meter register readings") == 1
    await advance(hass, freezer, 60)
    assert Decimal(hass.states.get(CONSUMPTION).state) == (
        Decimal(sim.latest_readable(DEVICE).register_wh) / 1000
    )


async def test_stale_mini_goes_offline(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """A frozen Mini: online off after 3 minutes, demand unavailable, consumption kept."""
    sim, url = frozen_sim
    await setup_entry(hass, url)
    await settle(hass, freezer)
    sim.set_fault("stale")
    await advance(hass, freezer, 60)  # samples from before the freeze are still arriving
    consumption = hass.states.get(CONSUMPTION).state
    await advance(hass, freezer, 60)
    assert hass.states.get(ONLINE).state == STATE_ON
    for _ in range(3):
        await advance(hass, freezer, 30)
    assert hass.states.get(ONLINE).state == STATE_OFF
    assert hass.states.get(DEMAND).state == STATE_UNAVAILABLE
    assert hass.states.get(LEVEL).state == STATE_UNAVAILABLE
    assert hass.states.get(CONSUMPTION).state == consumption
    sim.clear_faults()
    await advance(hass, freezer, 60)
    assert hass.states.get(ONLINE).state == STATE_ON
    assert Decimal(hass.states.get(DEMAND).state) == sim.latest_readable(DEVICE).demand_w


async def test_failed_poll_makes_entities_unavailable(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing API: unavailable with a translated message logged once; then recovery."""
    sim, url = frozen_sim
    await setup_entry(hass, url)
    sim.set_fault("outage")
    for _ in range(3):
        await advance(hass, freezer, 30)
    assert hass.states.get(DEMAND).state == STATE_UNAVAILABLE
    assert hass.states.get(CONSUMPTION).state == STATE_UNAVAILABLE
    failures = [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and "Could not fetch Home Mini data" in r.getMessage()
    ]
    assert len(failures) == 1
    assert "KT-GB-4039" in failures[0].getMessage()
    sim.clear_faults()
    await advance(hass, freezer, 30)
    assert hass.states.get(CONSUMPTION).state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)
    assert Decimal(hass.states.get(CONSUMPTION).state) == (
        Decimal(sim.latest_readable(DEVICE).register_wh) / 1000
    )


async def test_export_register(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """The export sensor (disabled by default) reads the export register."""
    sim, url = frozen_sim
    entity_registry = er.async_get(hass)
    entry = await setup_entry(hass, url, SOLAR)
    export_id = entity_registry.async_get_entity_id(
        Platform.SENSOR, "octopus_home_mini", f"{SOLAR.device_ids[0]}_export"
    )
    assert export_id is not None
    assert entity_registry.async_get(export_id).disabled_by is er.RegistryEntryDisabler.INTEGRATION
    entity_registry.async_update_entity(export_id, disabled_by=None)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    truth = sim.latest_readable(SOLAR.device_ids[0])
    assert Decimal(hass.states.get(export_id).state) == Decimal(truth.export_wh) / 1000


def test_demand_levels() -> None:
    """The five bands, at their edges; export counts as low."""
    cases = {-200: "low", 0: "low", 499: "low", 500: "normal", 999: "normal", 1000: "moderate"}
    cases |= {1999: "moderate", 2000: "high", 2999: "high", 3000: "very_high", 9000: "very_high"}
    for watts, level in cases.items():
        assert demand_level(Decimal(watts)) == level
    assert demand_level(None) is None


async def test_register_jump_beyond_any_supply_is_ignored(
    hass: HomeAssistant, frozen_sim: Sim, caplog: pytest.LogCaptureFixture
) -> None:
    """A register rising faster than a domestic supply can deliver is not accepted."""
    _, url = frozen_sim
    await setup_entry(hass, url)
    coordinator = coordinator_of(hass)
    newest = coordinator.data.newest
    accepted = coordinator.data.consumption_wh
    assert newest is not None
    assert accepted is not None
    # 10 s later, 1 kWh more: 360 kW.
    jump = replace(
        newest, read_at=newest.read_at + timedelta(seconds=10), consumption_wh=accepted + 1000
    )
    coordinator.meter.accept([jump], jump.read_at)
    assert coordinator.meter.consumption.accepted_wh == accepted
    assert "inconsistent with the energy counted" in caplog.text
    # A reading already held is not counted again.
    received = coordinator.samples_received
    coordinator.meter.accept([jump], jump.read_at)
    assert coordinator.samples_received == received


def test_nothing_to_project_from_and_no_rate() -> None:
    """Nothing held yet: no projection (never a guess from nothing); no unit rate: no cost rate."""
    now = dt_util.utcnow()
    meter = MeterState(now)
    data = meter_snapshot(meter, now + timedelta(hours=1), dt_util.get_default_time_zone())
    blank = replace(data, typical_day_cost_pence=None, month_unheld_s=Decimal(10**9))
    assert projected_month(blank, now + timedelta(hours=1)) is None
    assert cost_rate(data, now) is None  # no tariff, no reading


async def test_allowance_unread_shows_our_count_only(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """Kraken's count could not be read at setup (an error, not a refusal): the sensor shows
    our count, without Kraken's figures, until the next read."""
    sim, url = frozen_sim
    sim.set_fault("internal", operation="RateLimitInfo", count=1)
    entry = await setup_entry(hass, url)
    state = hass.states.get("sensor.home_mini_21e1234567_api_requests_last_hour")
    assert int(state.state) == entry.runtime_data.link.budget.used() > 0
    assert "points_limit" not in state.attributes


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_no_secret_in_any_state_or_attribute(
    hass: HomeAssistant, frozen_sim: tuple[KrakenSimulator, str], freezer: FrozenDateTimeFactory
) -> None:
    """Every entity of a solar meter (all of them enabled): no API key, token or account
    number in a state or an attribute (the recorder's own DEBUG lines are not guarded)."""
    sim, url = frozen_sim
    await setup_entry(hass, url, SOLAR)
    for _ in range(4):
        await advance(hass, freezer, 30)
    secrets = {SOLAR.api_key, SOLAR.account_number, *sim.issued_secrets()}
    states = [s for s in hass.states.async_all() if "23j3333333" in s.entity_id]
    assert len(states) > 15
    shown = "\n".join(f"{s.state} {s.attributes}" for s in states)
    assert not [secret[:6] for secret in secrets if secret and secret in shown]
