"""Meter exchange: find the new meter on the same MPAN, and a repair that moves the entry to it.

The entry keeps its entity ids (so the Energy panel's history stays attached); the new meter's
register starts a new ``total_increasing`` cycle.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .api import Fuel, KrakenError, SmartMeter
from .const import (
    CONF_ACCOUNT_NUMBER,
    CONF_DEVICE_ID,
    CONF_EXPORT_DEVICE_ID,
    CONF_SERIAL_NUMBER,
    CONF_STATISTICS_SERIAL,
    DOMAIN,
    LOGGER,
    is_gas,
    meter_point,
)
from .store import async_keep_for_new_meter

if TYPE_CHECKING:
    from .account import AccountLink
    from .coordinator import HomeMiniConfigEntry

ISSUE_METER_REPLACED = "meter_replaced"
#: A meter Kraken no longer serves is looked for on the account at most this often (budget).
REPLACEMENT_CHECK_INTERVAL = timedelta(hours=3)
_CHECKED: HassKey[dict[str, datetime]] = HassKey(f"{DOMAIN}_replacement_checked")


async def async_look_for_replacement(
    hass: HomeAssistant, entry: HomeMiniConfigEntry, link: AccountLink
) -> None:
    """Kraken no longer serves the entry's meter: offer the account's new meter on its MPAN."""
    checked = hass.data.setdefault(_CHECKED, {})
    now = dt_util.utcnow()
    last = checked.get(entry.entry_id)
    if (last is not None and now - last < REPLACEMENT_CHECK_INTERVAL) or not link.budget.allows(3):
        return
    checked[entry.entry_id] = now
    try:
        replacement = await _replacement(hass, entry, link)
    except KrakenError as err:
        LOGGER.debug("Could not look for a replacement meter: %s", err)
        return
    if replacement is None:
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"{ISSUE_METER_REPLACED}_{entry.entry_id}",
        is_fixable=True,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_METER_REPLACED,
        translation_placeholders={"meter": entry.title, "serial": replacement.serial_number},
        data={
            "entry_id": entry.entry_id,
            CONF_DEVICE_ID: replacement.device_id,
            CONF_SERIAL_NUMBER: replacement.serial_number,
            CONF_EXPORT_DEVICE_ID: replacement.export_device_id,
        },
    )


async def _replacement(
    hass: HomeAssistant, entry: HomeMiniConfigEntry, link: AccountLink
) -> SmartMeter | None:
    """Another meter on the entry's MPAN (or MPRN), not set up yet, whose Home Mini reports."""
    account = await link.client.get_account(entry.data[CONF_ACCOUNT_NUMBER])
    configured = {other.unique_id for other in hass.config_entries.async_entries(DOMAIN)}
    fuel = Fuel.GAS if is_gas(entry.data) else Fuel.ELECTRICITY
    for meter in account.telemetry_meters:
        if meter.fuel is not fuel or meter.meter_point != meter_point(entry.data):
            continue
        if meter.device_id in configured:
            continue
        if await link.client.get_latest_telemetry(meter.device_id) is not None:
            return meter
    return None


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
    ir.async_delete_issue(hass, DOMAIN, f"home_mini_missing_{entry.entry_id}")
    await hass.config_entries.async_setup(entry.entry_id)
