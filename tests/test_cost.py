"""Tariff and cost sensors over simulated days on Agile, restarts, sessions and midnight."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import dt as dt_util
import pytest

from custom_components.octopus_home_mini.api import KrakenClient, TelemetryGrouping
from custom_components.octopus_home_mini.meter import MeterState, cost_pence
from tests.common import (
    PREFIX,
    Sim,
    advance,
    max_requests_in_any_hour,
    newest_read_at,
    settle,
    setup_entry,
    value,
)
from tests.simulator import SINGLE, TWOMETERS, KrakenSimulator

DEVICE = SINGLE.device_ids[0]
MIDNIGHT = datetime(2026, 3, 14, tzinfo=UTC)  # London is on GMT in mid-March
HALF_PENNY = Decimal("0.5")


pytestmark = pytest.mark.usefixtures("london")


@pytest.fixture
def sim_start() -> datetime:
    """Start just after midnight, so a whole day is simulated."""
    return MIDNIGHT + timedelta(seconds=30)


def true_cost_today(sim: KrakenSimulator, hass: HomeAssistant, midnight: datetime) -> Decimal:
    """Octopus's own cost (sum of costDeltaWithTax) from midnight to the newest sample held."""
    return sim.true_cost_pence(DEVICE, midnight, newest_read_at(hass) + timedelta(seconds=1))


async def test_agile_day_with_restart_at_noon(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """A whole Agile day (with negative half-hours): cost_today tracks the truth within 0.5 p.

    Home Assistant restarts at noon: today's values are recovered from one HALF_HOURLY
    request, and the session continues without counting anything twice.
    """
    asyncio.get_running_loop().set_debug(False)  # thousands of polls
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    rates: set[Decimal] = set()
    session_before_restart = Decimal(0)
    restart_at = MIDNIGHT + timedelta(hours=12)
    while dt_util.utcnow() < MIDNIGHT + timedelta(hours=23, minutes=59, seconds=30):
        await advance(hass, freezer, 30)
        now = dt_util.utcnow()
        rate = value(hass, "unit_rate")
        assert rate * 100 == sim.unit_rate_pence(SINGLE.account_number, now)
        rates.add(rate)
        if now.minute % 30 == 0 and now.second < 30:
            truth = true_cost_today(sim, hass, MIDNIGHT)
            assert abs(value(hass, "cost_today") * 100 - truth) <= HALF_PENNY, now
        if restart_at <= now < restart_at + timedelta(seconds=30):
            session_before_restart = value(hass, "session_cost")
            requests_before = len(sim.requests)
            assert await hass.config_entries.async_reload(entry.entry_id)
            await hass.async_block_till_done()
            recovery = [r.operation_name for r in sim.requests[requests_before:]]
            assert recovery.count("TelemetryRange") == 1  # the ledger was kept: no catch-up
            assert value(hass, "session_cost") >= session_before_restart
    assert any(rate < 0 for rate in rates)
    assert len(rates) > 40
    assert max_requests_in_any_hour(sim, SINGLE.account_number) <= 125
    assert [r for r in sim.requests if r.error_code in ("KT-CT-1199", "KT-GB-4042")] == []
    truth = true_cost_today(sim, hass, MIDNIGHT)
    assert abs(value(hass, "cost_today") * 100 - truth) <= HALF_PENNY
    # The session began at set-up, 30 s after midnight; it too matches the truth.
    session_truth = sim.true_cost_pence(
        DEVICE, MIDNIGHT + timedelta(seconds=31), newest_read_at(hass) + timedelta(seconds=1)
    )
    assert abs(value(hass, "session_cost") * 100 - session_truth) <= HALF_PENNY
    energy = sim.register_wh(DEVICE, newest_read_at(hass)) - sim.register_wh(
        DEVICE, MIDNIGHT - timedelta(seconds=1)
    )
    assert value(hass, "consumption_today") == Decimal(energy) / 1000
    projected = value(hass, "projected_cost_today")
    assert abs(projected - value(hass, "cost_today")) < Decimal("0.01")  # a minute left


async def test_session_reset_button(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """After the press the session is 0, last_reset moves, and only new readings count."""
    sim, url = frozen_sim
    await setup_entry(hass, url)
    for _ in range(10):
        await advance(hass, freezer, 30)
    assert value(hass, "session_cost") > 0
    before = hass.states.get(PREFIX + "session_cost").attributes["last_reset"]
    pressed_at = dt_util.utcnow()
    await hass.services.async_call(
        "button",
        "press",
        {ATTR_ENTITY_ID: "button.home_mini_21e1234567_reset_session"},
        blocking=True,
    )
    state = hass.states.get(PREFIX + "session_cost")
    assert Decimal(state.state) == 0
    assert state.attributes["last_reset"] != before
    assert dt_util.parse_datetime(state.attributes["last_reset"]) == pressed_at
    for _ in range(6):
        await advance(hass, freezer, 30)
    truth = sim.true_cost_pence(
        DEVICE, pressed_at + timedelta(microseconds=1), newest_read_at(hass) + timedelta(seconds=1)
    )
    assert value(hass, "session_cost") * 100 == pytest.approx(truth, abs=Decimal("0.001"))


@pytest.mark.parametrize(
    ("start", "new_day"),
    [
        # GMT → BST: 29 March 2026 is 23 hours long; its midnight is 00:00 UTC.
        (datetime(2026, 3, 28, 23, 50, tzinfo=UTC), datetime(2026, 3, 29, 0, 0, tzinfo=UTC)),
        # The next midnight, in BST, is 23:00 UTC.
        (datetime(2026, 3, 29, 22, 50, tzinfo=UTC), datetime(2026, 3, 29, 23, 0, tzinfo=UTC)),
    ],
)
async def test_midnight_rollover_across_bst(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    start: datetime,
    new_day: datetime,
) -> None:
    """cost_today and consumption_today restart at local midnight, DST change included."""
    sim, url = frozen_sim
    freezer.move_to(start)
    await setup_entry(hass, url)
    yesterday = hass.states.get(PREFIX + "cost_today").attributes["last_reset"]
    while dt_util.utcnow() < new_day + timedelta(minutes=5):
        await advance(hass, freezer, 30)
    state = hass.states.get(PREFIX + "cost_today")
    assert dt_util.parse_datetime(state.attributes["last_reset"]) == new_day
    assert state.attributes["last_reset"] != yesterday
    truth = true_cost_today(sim, hass, new_day)
    assert abs(Decimal(state.state) * 100 - truth) <= HALF_PENNY
    energy = sim.register_wh(DEVICE, newest_read_at(hass)) - sim.register_wh(
        DEVICE, new_day - timedelta(seconds=1)
    )
    assert value(hass, "consumption_today") == Decimal(energy) / 1000
    consumption_today = hass.states.get(PREFIX + "consumption_today")
    assert dt_util.parse_datetime(consumption_today.attributes["last_reset"]) == new_day


async def test_fixed_rate_tariff_and_standing_charge(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """A standard tariff: flat unit rate and standing charge, in pounds incl. VAT."""
    sim, url = frozen_sim
    await setup_entry(hass, url, TWOMETERS)
    prefix = "sensor.home_mini_22l2222221_"
    rate = Decimal(hass.states.get(prefix + "unit_rate").state)
    assert rate * 100 == sim.unit_rate_pence(TWOMETERS.account_number, dt_util.utcnow())
    assert hass.states.get(prefix + "unit_rate").attributes["unit_of_measurement"] == "GBP/kWh"
    assert Decimal(hass.states.get(prefix + "standing_charge").state) == Decimal("0.5335")
    demand = Decimal(hass.states.get(prefix + "demand").state)
    assert Decimal(hass.states.get(prefix + "cost_rate").state) == pytest.approx(
        demand / 1000 * rate, abs=Decimal("0.00001")
    )


async def test_projected_month(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Month to date plus the last week's typical day for each day left, once history is in."""
    asyncio.get_running_loop().set_debug(False)
    sim, url = frozen_sim
    await setup_entry(hass, url)
    (entry,) = hass.config_entries.async_entries("octopus_home_mini")
    ledger = entry.runtime_data.coordinator.meter.ledger
    for _ in range(12 * 120):  # the backfill is paced: at most 3 history requests an hour
        await advance(hass, freezer, 30)
        if not ledger.pending:
            break
    assert not ledger.pending
    now = dt_util.utcnow()
    london = dt_util.get_default_time_zone()
    midnight = datetime.combine(now.astimezone(london).date(), datetime.min.time(), london)
    first = datetime(2026, 3, 1, tzinfo=london)
    newest = newest_read_at(hass) + timedelta(seconds=1)
    month_to_date = sim.true_cost_pence(DEVICE, first, newest)
    week = sim.true_cost_pence(DEVICE, midnight - timedelta(days=7), midnight) / 7
    days_left = 31 - Decimal((now - first).total_seconds()) / 86400
    expected = (month_to_date + week * days_left) / 100
    assert value(hass, "projected_cost_month") == pytest.approx(expected, abs=Decimal("0.01"))


async def test_cost_falls_back_to_the_unit_rate(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """A reading with a null costDeltaWithTax is priced at the unit rate of its half hour."""
    sim, url = frozen_sim
    freezer.move_to(MIDNIGHT + timedelta(hours=3))  # two hours of today's Agile rates
    client = KrakenClient(async_get_clientsession(hass), SINGLE.api_key, base_url=url)
    now = dt_util.utcnow()
    readings = await client.get_telemetry(
        DEVICE, now - timedelta(hours=2), now, TelemetryGrouping.ONE_MINUTE
    )
    tariff = (await client.get_tariffs(SINGLE.account_number))[SINGLE.mpans[0]]
    meter = MeterState(now - timedelta(hours=3))
    meter.tariff = tariff
    stripped = [replace(r, cost_delta_with_tax_pence=None) for r in readings]
    meter.accept(stripped, now - timedelta(hours=2))
    expected = sum(
        (
            r.consumption_delta_wh / 1000 * sim.unit_rate_pence(SINGLE.account_number, r.read_at)
            for r in readings
        ),
        Decimal(0),
    )
    assert meter.session_cost() == expected
    # Octopus's own figure, when present, wins: the two differ only by rounding.
    octopus = sum((r.cost_delta_with_tax_pence for r in readings), Decimal(0))
    assert abs(meter.session_cost() - octopus) < HALF_PENNY
    assert cost_pence(readings[0]) == readings[0].cost_delta_with_tax_pence


async def test_projections_use_only_what_the_ledger_holds(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Case 9 of the record issue: right after install the month is mostly not held yet; the
    projection goes at the pace of what is held, never a partly filled month divided by all
    of it; once a whole day is held, it is within 5 % of the month's true cost."""
    sim, url = frozen_sim
    await setup_entry(hass, url)
    london = dt_util.get_default_time_zone()
    first = datetime(2026, 3, 1, tzinfo=london)
    month = sim.true_cost_pence(DEVICE, first, datetime(2026, 4, 1, tzinfo=london)) / 100
    right_after = value(hass, "projected_cost_month")
    assert abs(right_after - month) / month < Decimal("0.5")
    await settle(hass, freezer)
    settled = value(hass, "projected_cost_month")
    assert abs(settled - month) / month < Decimal("0.05")
