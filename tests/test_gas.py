"""Gas from the Home Mini: discovery, half-hourly polling, today's totals, statistics, budget."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.energy import data as energy_data, validate as energy_validate
from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.octopus_home_mini.const import (
    CONF_ACCOUNT_NUMBER,
    CONF_API_URL,
    CONF_CALORIFIC_VALUE,
    CONF_DEVICE_ID,
    CONF_FUEL,
    CONF_MPRN,
    CONF_SERIAL_NUMBER,
    DOMAIN,
    SECTION_ADVANCED,
)
from custom_components.octopus_home_mini.sensor import gas_volume_m3
from custom_components.octopus_home_mini.statistics import statistic_id, statistic_prefix
from tests.common import (
    Sim,
    advance,
    max_requests_in_any_hour,
    recorder_first,  # noqa: F401 - the recorder-first fixture
    setup_entry,
    statistics_only,  # noqa: F401 - no entity states recorded
)
from tests.simulator import DUAL, GASDUP, GASONLY, KrakenSimulator
from tests.simulator.fixtures import Fixture

MIDNIGHT = datetime(2026, 3, 14, tzinfo=UTC)  # GMT


pytestmark = pytest.mark.usefixtures("london")


@pytest.fixture
def sim_start() -> datetime:
    """Early morning: the heating comes on at six."""
    return MIDNIGHT + timedelta(hours=4, seconds=30)


def gas_entry(url: str, fixture: Fixture) -> MockConfigEntry:
    """A gas entry as the config flow makes it."""
    point = fixture.gas[0]
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Home Mini {point.serial}",
        unique_id=point.device_id,
        data={
            "api_key": fixture.api_key,
            CONF_ACCOUNT_NUMBER: fixture.account_number,
            CONF_API_URL: url,
            CONF_DEVICE_ID: point.device_id,
            CONF_SERIAL_NUMBER: point.serial,
            CONF_FUEL: "gas",
            CONF_MPRN: point.mprn,
        },
    )


async def submit(hass: HomeAssistant, url: str, fixture: Fixture) -> dict[str, Any]:
    """Start the flow and enter the fixture's key and account."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    return await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "api_key": fixture.api_key,
            CONF_ACCOUNT_NUMBER: fixture.account_number,
            SECTION_ADVANCED: {CONF_API_URL: url},
        },
    )


async def test_dual_fuel_account_offers_both_meters(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """Electricity and gas are offered side by side; picking gas makes a gas entry."""
    _, url = frozen_sim
    result = await submit(hass, url, DUAL)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "meter"
    options = result["data_schema"].schema[CONF_DEVICE_ID].config["options"]
    labels = {option["value"]: option["label"] for option in options}
    assert labels.keys() == {DUAL.device_ids[0], DUAL.gas[0].device_id}
    assert labels[DUAL.gas[0].device_id].startswith("Gas · MPRN ")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE_ID: DUAL.gas[0].device_id}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_FUEL] == "gas"
    assert result["data"][CONF_MPRN] == DUAL.gas[0].mprn


@pytest.mark.parametrize("fixture", [GASONLY, GASDUP], ids=["gas-only", "duplicate-records"])
async def test_gas_only_accounts(hass: HomeAssistant, frozen_sim: Sim, fixture: Fixture) -> None:
    """A gas-only account works; of several records on one meter point, the smart one is used."""
    _, url = frozen_sim
    result = await submit(hass, url, fixture)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == fixture.gas[0].device_id
    assert result["data"][CONF_FUEL] == "gas"


async def test_a_day_of_gas(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    socket_enabled: None,
) -> None:
    """A whole day of gas: today's energy and cost and every hour equal the truth."""
    from tests.simulator import run_simulator  # noqa: PLC0415

    asyncio.get_running_loop().set_debug(False)
    freezer.move_to(MIDNIGHT + timedelta(seconds=30))
    sim = KrakenSimulator()
    async with run_simulator(sim) as url:
        entry = gas_entry(url, GASONLY)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        device = GASONLY.gas[0].device_id
        serial = GASONLY.gas[0].serial.lower()
        prefix = f"sensor.home_mini_{serial}_"
        assert hass.states.get(prefix + "demand") is None  # gas has no demand
        for _ in range(24 * 60 - 1):  # to 23:59:30
            await advance(hass, freezer, 60)
        now = dt_util.utcnow()
        newest = entry.runtime_data.coordinator.data.newest
        assert newest is not None
        through = newest.read_at + timedelta(minutes=30)
        assert now - through < timedelta(minutes=65)  # a half hour is in minutes after it
        energy = Decimal(sim.true_energy_wh(device, MIDNIGHT, through))
        cost = sim.true_cost_pence(device, MIDNIGHT, through)
        today = Decimal(hass.states.get(prefix + "consumption_today").state) * 1000
        assert abs(today - energy) <= 1
        cost_today = Decimal(hass.states.get(prefix + "cost_today").state) * 100
        assert abs(cost_today - cost) <= Decimal("0.01")
        assert hass.states.get(f"binary_sensor.home_mini_{serial}_online").state == "on"
        polls = [r for r in sim.requests if r.grouping == "HALF_HOURLY"]
        # Gas polls and its back-fill: at most three requests an hour.
        assert len(polls) / 24 <= 3
        await _hours_and_energy_panel(hass, sim, device, GASONLY, through)


async def _hours_and_energy_panel(
    hass: HomeAssistant, sim: KrakenSimulator, device: str, fixture: Fixture, through: datetime
) -> None:
    """Every complete hour of the day in the statistics; the Energy panel's gas section."""
    await async_wait_recording_done(hass)
    ident = statistic_id(statistic_prefix("gas", fixture.gas[0].serial), "consumption")
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, MIDNIGHT, through, {ident}, "hour", None, {"change"}
    )
    hours = {datetime.fromtimestamp(row["start"], UTC): row["change"] for row in rows[ident]}
    hour = MIDNIGHT
    cost_id = statistic_id(statistic_prefix("gas", fixture.gas[0].serial), "cost")
    costs = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, MIDNIGHT, through, {cost_id}, "hour", None, {"change"}
    )
    pence = {datetime.fromtimestamp(r["start"], UTC): r["change"] for r in costs[cost_id]}
    while hour + timedelta(hours=1) <= through - timedelta(hours=1):
        truth = sim.true_energy_wh(device, hour, hour + timedelta(hours=1))
        assert abs(Decimal(str(hours[hour])) * 1000 - truth) <= 1, hour
        truth_p = sim.true_cost_pence(device, hour, hour + timedelta(hours=1))
        assert abs(Decimal(str(pence[hour])) * 100 - truth_p) <= Decimal("0.01"), hour
        hour += timedelta(hours=1)
    # The Energy panel accepts the gas statistic in its gas section.
    assert await async_setup_component(hass, "energy", {})
    manager = await energy_data.async_get_manager(hass)
    gas_source = {
        "type": "gas",
        "stat_energy_from": ident,
        "stat_cost": cost_id,
        "entity_energy_price": None,
        "number_energy_price": None,
    }
    await manager.async_update({"energy_sources": [gas_source]})
    result = (await energy_validate.async_validate(hass)).as_dict()
    assert result["energy_sources"] == [[]]


def test_volume_from_the_calorific_value() -> None:
    """kWh = m³ x 1.02264 x CV / 3.6, so 11.1 kWh at 39.5 MJ/m³ is about 0.989 m³."""
    volume = gas_volume_m3(Decimal(11_100), Decimal("39.5"))
    assert volume is not None
    assert abs(volume - Decimal("0.98924")) < Decimal("0.00001")
    assert gas_volume_m3(None, Decimal("39.5")) is None


async def test_calorific_value_option(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """A gas entry's option is its calorific value; the volume follows the value set."""
    sim, url = frozen_sim
    entry = gas_entry(url, GASONLY)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "gas"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CALORIFIC_VALUE: 40.0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_CALORIFIC_VALUE] == 40.0
    electricity = await setup_entry(hass, url, DUAL)
    assert entry.supports_options
    result = await hass.config_entries.options.async_init(electricity.entry_id)
    assert result["step_id"] == "live"  # an electricity meter's option is its interval
    assert sim.request_count() > 0


async def test_gas_added_beside_a_back_filling_meter_is_read_at_once(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Dual fuel: electricity first, its back-fill pending; gas added 2 minutes later shows
    its newest published half hour within 60 s with no repair; then the account stays within
    121 requests in any sliding hour, every electricity sample kept."""
    asyncio.get_running_loop().set_debug(False)
    sim, url = frozen_sim
    electricity = await setup_entry(hass, url, DUAL)
    meter = electricity.runtime_data.coordinator
    first = meter.data.samples[0].read_at
    for _ in range(4):
        await advance(hass, freezer, 30)
    assert meter.meter.ledger.pending  # still back-filling
    entry = gas_entry(url, DUAL)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    added = dt_util.utcnow()
    device = DUAL.gas[0].device_id
    gas = entry.runtime_data.coordinator
    while gas.data.newest is None and dt_util.utcnow() - added < timedelta(seconds=60):
        await advance(hass, freezer, 30)
    truth = sim.latest_gas_readable(device)
    assert truth is not None
    assert gas.data.newest is not None
    assert gas.data.newest.read_at == truth.read_at
    serial = DUAL.gas[0].serial.lower()
    assert hass.states.get(f"sensor.home_mini_{serial}_consumption_today").state not in (
        "unknown",
        "unavailable",
    )
    assert [i for i in ir.async_get(hass).issues if i[0] == DOMAIN] == []
    for _ in range(2 * 120):
        await advance(hass, freezer, 30)
    assert max_requests_in_any_hour(sim, DUAL.account_number) <= 121
    assert not meter.meter.ledger.pending
    newest = meter.data.newest
    assert meter.samples_received == len(
        sim.samples(DUAL.device_ids[0], first, newest.read_at + timedelta(seconds=1))
    )
    assert gas.data.newest.read_at == sim.latest_gas_readable(device).read_at


async def test_a_new_calorific_value_applies_from_when_it_is_set(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Case 8 of the record issue: the volume never goes down when the calorific value
    changes; the new value converts only the energy used after it was set."""
    _, url = frozen_sim
    entry = gas_entry(url, GASONLY)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    volume_id = f"sensor.home_mini_{GASONLY.gas[0].serial.lower()}_consumption_volume"
    before = Decimal(hass.states.get(volume_id).state)
    register = entry.runtime_data.coordinator.data.consumption_wh
    result = await hass.config_entries.options.async_init(entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_CALORIFIC_VALUE: 36.0},  # lower: each kWh is more m³
    )
    await advance(hass, freezer, 30)
    assert Decimal(hass.states.get(volume_id).state) == pytest.approx(before, abs=Decimal("0.001"))
    for _ in range(3 * 60):  # three hours of new half hours
        await advance(hass, freezer, 60)
    now_wh = entry.runtime_data.coordinator.data.consumption_wh
    assert now_wh > register
    expected = before + gas_volume_m3(now_wh - register, Decimal(36))
    assert Decimal(hass.states.get(volume_id).state) == pytest.approx(
        expected, abs=Decimal("0.001")
    )
    # Set again (an unchanged value): still no step.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CALORIFIC_VALUE: 36.0}
    )
    await advance(hass, freezer, 30)
    assert Decimal(hass.states.get(volume_id).state) == pytest.approx(
        expected, abs=Decimal("0.001")
    )


async def test_calorific_value_set_before_the_meter_is_loaded(
    hass: HomeAssistant, frozen_sim: Sim
) -> None:
    """Set while the entry is not loaded: the value applies to the whole register."""
    _, url = frozen_sim
    entry = gas_entry(url, GASONLY)
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CALORIFIC_VALUE: 38.5}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_CALORIFIC_VALUE: 38.5}
