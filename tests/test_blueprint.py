"""The high-demand blueprint: valid for Home Assistant, and it fires only when it should."""

from pathlib import Path
import shutil

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import async_mock_service

from tests.common import advance

SOURCE = Path(__file__).parents[1] / "blueprints" / "automation" / "octopus_home_mini"
NAME = "high_demand.yaml"
DEMAND = "sensor.home_mini_demand"
RATE = "sensor.home_mini_unit_rate"


def test_blueprint_schema() -> None:
    """Home Assistant's own blueprint schema accepts it, with every input documented."""
    blueprint = models.Blueprint(
        load_yaml_dict(str(SOURCE / NAME)),
        expected_domain="automation",
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )
    assert blueprint.domain == "automation"
    assert set(blueprint.inputs) == {
        "demand_sensor",
        "threshold",
        "minutes",
        "unit_rate_sensor",
        "min_unit_rate",
        "actions",
    }


async def _automation(
    hass: HomeAssistant, rate_sensor: str = "", min_rate: float = 0
) -> list[ServiceCall]:
    target = Path(hass.config.path("blueprints", "automation", "octopus_home_mini"))
    target.mkdir(parents=True, exist_ok=True)
    await hass.async_add_executor_job(shutil.copy, SOURCE / NAME, target / NAME)
    calls = async_mock_service(hass, "test", "notify")
    hass.states.async_set(DEMAND, "200", {"unit_of_measurement": "W"})
    hass.states.async_set(RATE, "0.25", {"unit_of_measurement": "GBP/kWh"})
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": f"octopus_home_mini/{NAME}",
                    "input": {
                        "demand_sensor": DEMAND,
                        "threshold": 3000,
                        "minutes": 5,
                        "unit_rate_sensor": rate_sensor,
                        "min_unit_rate": min_rate,
                        "actions": [{"action": "test.notify"}],
                    },
                }
            }
        },
    )
    await hass.async_block_till_done()
    return calls


async def test_fires_after_sustained_high_demand(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Above the threshold for the whole duration: one action; a short spike: none."""
    calls = await _automation(hass)
    hass.states.async_set(DEMAND, "3500", {"unit_of_measurement": "W"})
    await advance(hass, freezer, 4 * 60)
    hass.states.async_set(DEMAND, "2900", {"unit_of_measurement": "W"})  # dips below
    await advance(hass, freezer, 2 * 60)
    assert calls == []
    hass.states.async_set(DEMAND, "3100", {"unit_of_measurement": "W"})
    await advance(hass, freezer, 4 * 60 + 50)
    assert calls == []
    await advance(hass, freezer, 20)
    assert len(calls) == 1


async def test_threshold_is_strictly_above(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Exactly at the threshold is not above it."""
    calls = await _automation(hass)
    hass.states.async_set(DEMAND, "3000", {"unit_of_measurement": "W"})
    await advance(hass, freezer, 10 * 60)
    assert calls == []


@pytest.mark.parametrize(("min_rate", "fires"), [(0.20, True), (0.30, False)])
async def test_only_when_unit_rate_above(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, min_rate: float, fires: bool
) -> None:
    """With a unit rate sensor the action runs only while the rate is above the price."""
    calls = await _automation(hass, RATE, min_rate)
    hass.states.async_set(DEMAND, "4000", {"unit_of_measurement": "W"})
    await advance(hass, freezer, 5 * 60 + 10)
    assert len(calls) == (1 if fires else 0)
