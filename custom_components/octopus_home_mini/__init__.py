"""The Octopus Home Mini integration."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util

from .account import async_forget, async_link_for
from .api import KrakenInvalidUrlError
from .card import async_register_card
from .const import DOMAIN
from .coordinator import HomeMiniConfigEntry, HomeMiniCoordinator, HomeMiniRuntimeData
from .issues import async_clear
from .store import meter_store
from .websocket_api import async_register_commands

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.BUTTON, Platform.SENSOR]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Once per Home Assistant: the Live card's feed, and the card where there is a frontend."""
    async_register_commands(hass)
    # `frontend` is an after-dependency: loaded before us whenever it is loaded at all.
    if "frontend" in hass.config.components:
        await async_register_card(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: HomeMiniConfigEntry) -> bool:
    """Set up one meter on its account's shared client."""
    try:
        link = async_link_for(hass, entry.data)
    except KrakenInvalidUrlError as err:
        # Only a hand-edited entry gets here; the flows refuse such URLs.
        raise ConfigEntryError(translation_domain=DOMAIN, translation_key="insecure_url") from err
    if link.points.read_at is None:  # whether Kraken reports it decides the sensor
        await link.points.async_read(dt_util.utcnow())
    coordinator = HomeMiniCoordinator(hass, entry, link)
    try:
        await coordinator.async_config_entry_first_refresh()
    except Exception:
        async_forget(hass, coordinator, link)
        raise
    link.join(hass, coordinator)
    entry.runtime_data = HomeMiniRuntimeData(link=link, coordinator=coordinator)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: HomeMiniConfigEntry) -> bool:
    """Unload a config entry; the last meter of an account closes its link."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        async_forget(hass, entry.runtime_data.coordinator, entry.runtime_data.link)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: HomeMiniConfigEntry) -> None:
    """Deleting a meter deletes its stored session, counting position and repairs."""
    await meter_store(hass, entry.entry_id).async_remove()
    async_clear(hass, entry.entry_id)
