"""Set-up and unload through the real Home Assistant harness."""

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.octopus_home_mini.const import DOMAIN


async def test_setup_and_unload(hass: HomeAssistant) -> None:
    """Home Assistant finds our custom integration and sets an entry up."""
    integration = await async_get_integration(hass, DOMAIN)
    assert integration.is_built_in is False
    assert integration.manifest["iot_class"] == "cloud_polling"

    entry = MockConfigEntry(domain=DOMAIN, data={})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_config_flow_is_registered(hass: HomeAssistant) -> None:
    """The UI can start our config flow."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    assert result["type"] == "abort"
    assert result["reason"] == "not_implemented"
