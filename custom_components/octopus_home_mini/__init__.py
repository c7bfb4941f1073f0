"""The Octopus Home Mini integration."""

from __future__ import annotations

from homeassistant.const import CONF_API_KEY, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .api import KrakenClient
from .const import CONF_API_URL, DEFAULT_API_URL
from .coordinator import HomeMiniConfigEntry, HomeMiniCoordinator, HomeMiniRuntimeData

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]


async def async_setup_entry(hass: HomeAssistant, entry: HomeMiniConfigEntry) -> bool:
    """Set up one meter: a client on Home Assistant's shared session and its coordinator."""
    client = KrakenClient(
        async_get_clientsession(hass),
        entry.data[CONF_API_KEY],
        base_url=entry.data.get(CONF_API_URL, DEFAULT_API_URL),
    )
    coordinator = HomeMiniCoordinator(hass, entry, client)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = HomeMiniRuntimeData(client=client, coordinator=coordinator)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: HomeMiniConfigEntry) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
