"""A meter exchange: Kraken no longer serves the entry's meter; find the new one on its
meter point (MPAN or MPRN) and offer to move the entry to it (the fix is in ``repairs``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .api import Fuel, KrakenClient, KrakenError, SmartMeter
from .budget import RequestBudget
from .const import (
    CONF_ACCOUNT_NUMBER,
    CONF_DEVICE_ID,
    CONF_EXPORT_DEVICE_ID,
    CONF_SERIAL_NUMBER,
    DOMAIN,
    LOGGER,
    is_gas,
    meter_point,
)
from .issues import async_offer_new_meter

#: A meter Kraken no longer serves is looked for on the account at most this often (budget).
REPLACEMENT_CHECK_INTERVAL = timedelta(hours=3)
_CHECKED: HassKey[dict[str, datetime]] = HassKey(f"{DOMAIN}_replacement_checked")


async def async_look_for_replacement(
    hass: HomeAssistant, entry: ConfigEntry[Any], client: KrakenClient, budget: RequestBudget
) -> None:
    """Kraken no longer serves the entry's meter: offer the account's new meter on its point."""
    checked = hass.data.setdefault(_CHECKED, {})
    now = dt_util.utcnow()
    last = checked.get(entry.entry_id)
    if (last is not None and now - last < REPLACEMENT_CHECK_INTERVAL) or not budget.allows(3):
        return
    checked[entry.entry_id] = now
    try:
        replacement = await _replacement(hass, entry, client)
    except KrakenError as err:
        LOGGER.debug("Could not look for a replacement meter: %s", err)
        return
    if replacement is not None:
        async_offer_new_meter(
            hass,
            entry,
            {
                CONF_DEVICE_ID: replacement.device_id,
                CONF_SERIAL_NUMBER: replacement.serial_number,
                CONF_EXPORT_DEVICE_ID: replacement.export_device_id,
            },
        )


async def _replacement(
    hass: HomeAssistant, entry: ConfigEntry[Any], client: KrakenClient
) -> SmartMeter | None:
    """Another meter on the entry's MPAN (or MPRN), not set up yet, whose Home Mini reports."""
    account = await client.get_account(entry.data[CONF_ACCOUNT_NUMBER])
    configured = {other.unique_id for other in hass.config_entries.async_entries(DOMAIN)}
    fuel = Fuel.GAS if is_gas(entry.data) else Fuel.ELECTRICITY
    for meter in account.telemetry_meters:
        if meter.fuel is not fuel or meter.meter_point != meter_point(entry.data):
            continue
        if meter.device_id in configured:
            continue
        if await client.get_latest_telemetry(meter.device_id) is not None:
            return meter
    return None
