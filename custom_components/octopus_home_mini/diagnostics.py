"""Diagnostics: entry data and coordinator state, identifiers redacted, no API call."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .const import (
    CONF_ACCOUNT_NUMBER,
    CONF_DEVICE_ID,
    CONF_EXPORT_DEVICE_ID,
    CONF_MPAN,
    CONF_MPRN,
    CONF_SERIAL_NUMBER,
    CONF_STATISTICS_SERIAL,
)
from .coordinator import HomeMiniConfigEntry

TO_REDACT = {
    CONF_API_KEY,
    CONF_ACCOUNT_NUMBER,
    CONF_DEVICE_ID,
    CONF_EXPORT_DEVICE_ID,
    CONF_MPAN,
    CONF_MPRN,
    CONF_SERIAL_NUMBER,
    CONF_STATISTICS_SERIAL,
    "unique_id",
    "title",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: HomeMiniConfigEntry
) -> dict[str, Any]:
    """What support needs to see, without anything that identifies the household."""
    coordinator = entry.runtime_data.coordinator
    link = entry.runtime_data.link
    data = coordinator.data
    newest = data.newest
    points = link.points.allowance
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "coordinator": {
            "last_update_success": coordinator.last_update_success,
            "online": data.is_online(dt_util.utcnow()),
            "samples_held": len(data.samples),
            "newest_read_at": newest.read_at.isoformat() if newest else None,
            "newest_demand_w": str(newest.demand_w) if newest else None,
            "consumption_wh": str(data.consumption_wh),
            "export_wh": str(data.export_wh),
            "tariff": data.tariff.kind.value if data.tariff else None,
            "export_tariff": data.export_tariff.kind.value if data.export_tariff else None,
            "meters_on_account": len(entry.runtime_data.link.coordinators),
            "account_requests_last_hour": entry.runtime_data.link.budget.used(),
            "ledger_half_hours": len(coordinator.meter.ledger.buckets),
            "ledger_pending_half_hours": len(coordinator.meter.ledger.pending),
            "fuel": "gas" if coordinator.gas else "electricity",
        },
        # The account's one cadence of requests, which all its meters share.
        "cadence": {
            "slot_seconds": link.slot.total_seconds(),
            "requests_this_run": dict(sorted(link.sent.items())),
            "rate_limited_until": link.resume_at.isoformat() if link.resume_at else None,
            "kraken_points": None
            if points is None
            else {
                "limit": points.limit,
                "used": points.used,
                "remaining": points.remaining,
                "low": points.low,
            },
        },
    }
