"""The Energy panel's own validator accepts our sensors."""

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from tests.common import (
    advance,
    recorder_first,  # noqa: F401 - the recorder-first fixture
    setup_entry,
)
from tests.simulator import KrakenSimulator

CONSUMPTION = "sensor.home_mini_21e1234567_consumption"
DEMAND = "sensor.home_mini_21e1234567_demand"


async def compile_statistics(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Record a few polls and compile the 5-minute statistics, as HA does every 5 minutes."""
    start = dt_util.utcnow().replace(second=0, microsecond=0)
    for _ in range(10):
        await advance(hass, freezer, 30)
    await async_wait_recording_done(hass)
    do_adhoc_statistics(hass, start=start)
    await async_wait_recording_done(hass)


async def energy_validate(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, grid: dict[str, Any]
) -> dict[str, Any]:
    """Save Energy prefs with one grid source and run `energy/validate`."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "energy/save_prefs", "energy_sources": [grid]})
    saved = await client.receive_json()
    assert saved["success"], saved
    await client.send_json_auto_id({"type": "energy/validate"})
    result = await client.receive_json()
    assert result["success"], result
    return result["result"]


async def test_energy_validate_consumption_and_demand(
    frozen_sim: tuple[KrakenSimulator, str],
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """`consumption` as grid import and `demand` as grid power: no issue."""
    _, url = frozen_sim
    assert await async_setup_component(hass, "energy", {})
    await setup_entry(hass, url)
    await compile_statistics(hass, freezer)
    grid = {
        "type": "grid",
        "stat_energy_from": CONSUMPTION,
        "stat_rate": DEMAND,
        "cost_adjustment_day": 0,
    }
    result = await energy_validate(hass, hass_ws_client, grid)
    assert result["energy_sources"] == [[]]
    assert result["device_consumption"] == []

    # The validator is live: a sensor of the wrong kind as import is reported.
    grid["stat_energy_from"] = DEMAND
    result = await energy_validate(hass, hass_ws_client, grid)
    assert result["energy_sources"] != [[]]


@pytest.mark.parametrize(
    "pricing",
    [
        {"entity_energy_price": "sensor.home_mini_21e1234567_unit_rate"},
        {"stat_cost": "sensor.home_mini_21e1234567_cost_today"},
    ],
    ids=["unit_rate_as_price", "cost_today_as_cost"],
)
async def test_energy_validate_cost_setups(
    frozen_sim: tuple[KrakenSimulator, str],
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    freezer: FrozenDateTimeFactory,
    pricing: dict[str, str],
) -> None:
    """Either Energy panel cost setup validates without an issue."""
    _, url = frozen_sim
    hass.config.currency = "GBP"
    assert await async_setup_component(hass, "energy", {})
    await setup_entry(hass, url)
    await compile_statistics(hass, freezer)
    grid = {
        "type": "grid",
        "stat_energy_from": CONSUMPTION,
        "cost_adjustment_day": 0,
        **pricing,
    }
    result = await energy_validate(hass, hass_ws_client, grid)
    assert result["energy_sources"] == [[]]


async def test_energy_validate_external_statistics(
    hass: HomeAssistant, frozen_sim: tuple[KrakenSimulator, str], freezer: FrozenDateTimeFactory
) -> None:
    """The README's Energy panel table: the meter's external statistics validate clean."""
    from homeassistant.components.energy import (  # noqa: PLC0415
        data as energy_data,
        validate as energy_validate,
    )

    from custom_components.octopus_home_mini.statistics import (  # noqa: PLC0415
        statistic_id,
        statistic_prefix,
    )
    from tests.simulator import SINGLE  # noqa: PLC0415

    _, url = frozen_sim
    await setup_entry(hass, url)
    for _ in range(130):  # an hour completes and is written
        await advance(hass, freezer, 30)
    await async_wait_recording_done(hass)
    prefix = statistic_prefix("electricity", SINGLE.serials[0])
    assert await async_setup_component(hass, "energy", {})
    manager = await energy_data.async_get_manager(hass)
    grid = {
        "type": "grid",
        "flow_from": [
            {
                "stat_energy_from": statistic_id(prefix, "consumption"),
                "stat_cost": statistic_id(prefix, "cost"),
                "entity_energy_price": None,
                "number_energy_price": None,
            }
        ],
        "flow_to": [],
        "cost_adjustment_day": 0,
    }
    await manager.async_update({"energy_sources": [grid]})
    result = (await energy_validate.async_validate(hass)).as_dict()
    assert result["energy_sources"] == [[]], result
