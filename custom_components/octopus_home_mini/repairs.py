"""The fix for a meter exchange: move the entry to the new meter (found by ``exchange``).

The entry keeps its entity ids (so the Energy panel's history stays attached); the new meter's
register starts a new ``total_increasing`` cycle.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import (
    CONF_DEVICE_ID,
    CONF_EXPORT_DEVICE_ID,
    CONF_SERIAL_NUMBER,
    CONF_STATISTICS_SERIAL,
    DOMAIN,
)
from .coordinator import HomeMiniConfigEntry
from .issues import ISSUE_MISSING, async_clear
from .store import async_keep_for_new_meter


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """The fix for a meter exchange (the only fixable issue)."""
    return MeterExchangeFlow(dict(data or {}))


class MeterExchangeFlow(RepairsFlow):
    """Confirm, then move the entry to the new meter and reload it."""

    def __init__(self, data: dict[str, Any]) -> None:
        """Hold the new meter from the issue."""
        self._data = data

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Start with the confirmation."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Explain what moves, then move it."""
        entry = self.hass.config_entries.async_get_entry(self._data["entry_id"])
        if entry is None:
            return self.async_abort(reason="entry_removed")
        if user_input is None:
            return self.async_show_form(
                step_id="confirm",
                description_placeholders={
                    "meter": entry.title,
                    "serial": self._data[CONF_SERIAL_NUMBER],
                },
            )
        await async_move_entry(self.hass, entry, self._data)
        return self.async_create_entry(data={})


async def async_move_entry(
    hass: HomeAssistant, entry: HomeMiniConfigEntry, new: dict[str, Any]
) -> None:
    """Point the entry, its device and its entities at the new meter; entity ids stay."""
    old_id: str = entry.data[CONF_DEVICE_ID]
    new_id: str = new[CONF_DEVICE_ID]
    serial: str = new[CONF_SERIAL_NUMBER]
    await hass.config_entries.async_unload(entry.entry_id)
    # Keep the session; forget the old meter's register floor and counting position.
    await async_keep_for_new_meter(hass, entry.entry_id)
    entities = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(entities, entry.entry_id):
        # Unique ids are "<device id>_<key>" (entity.py).
        entities.async_update_entity(
            entity.entity_id, new_unique_id=entity.unique_id.replace(old_id, new_id, 1)
        )
    devices = dr.async_get(hass)
    if device := devices.async_get_device_by_identifier((DOMAIN, old_id), entry.entry_id):
        devices.async_update_device(
            device.id,
            new_identifiers={(DOMAIN, new_id)},
            serial_number=serial,
            name=f"Home Mini {serial}",
        )
    moved = {
        **entry.data,
        # The long-term statistics keep their ids, so the Energy panel's history stays.
        CONF_STATISTICS_SERIAL: entry.data.get(CONF_STATISTICS_SERIAL)
        or entry.data[CONF_SERIAL_NUMBER],
        CONF_DEVICE_ID: new_id,
        CONF_SERIAL_NUMBER: serial,
        CONF_EXPORT_DEVICE_ID: new.get(CONF_EXPORT_DEVICE_ID),
    }
    data = {key: value for key, value in moved.items() if value}  # no stale export device
    hass.config_entries.async_update_entry(
        entry, unique_id=new_id, title=f"Home Mini {serial}", data=data
    )
    async_clear(hass, entry.entry_id, ISSUE_MISSING)
    await hass.config_entries.async_setup(entry.entry_id)
