"""The account's other meters: those with a reporting Home Mini are offered for setup.

Set up one meter by hand and the flow offers the account's others at once (config_flow.py).
For an account set up before that, or a Mini paired later, the account's cadence looks once
per Home Assistant run, one request a slot and last in urgency: first the account, then each
meter not set up. An ignored meter, a set-up one and a meter on a set-up meter point (an
exchange: the repair's) cost nothing and are never offered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import discovery_flow
from homeassistant.util.hass_dict import HassKey

from .api import Fuel, KrakenClient, KrakenError, KrakenRateLimitError, SmartMeter
from .const import (
    CONF_ACCOUNT_NUMBER,
    CONF_API_URL,
    CONF_DEVICE_ID,
    CONF_EXPORT_DEVICE_ID,
    CONF_FUEL,
    CONF_MPAN,
    CONF_MPRN,
    CONF_SERIAL_NUMBER,
    DOMAIN,
    LOGGER,
)

#: The accounts whose meters this run has looked at for offering (once per start, not per
#: reload).
LOOKED: HassKey[set[tuple[str, str]]] = HassKey(f"{DOMAIN}_looked")


def set_up_meters(entries: Iterable[ConfigEntry[Any]]) -> set[str | None]:
    """The device ids (unique ids, ignored ones too) and meter points of these entries: a
    meter on a set-up meter point is its replacement (the repair's), never offered anew."""
    found: set[str | None] = set()
    for entry in entries:
        found |= {entry.unique_id, entry.data.get(CONF_MPAN), entry.data.get(CONF_MPRN)}
    found.discard(None)
    return found


def meter_data(meter: SmartMeter) -> dict[str, str]:
    """What an entry stores of its meter."""
    data = {CONF_DEVICE_ID: meter.device_id, CONF_SERIAL_NUMBER: meter.serial_number}
    if meter.fuel is Fuel.GAS:
        return {**data, CONF_FUEL: "gas", CONF_MPRN: meter.meter_point}
    data[CONF_MPAN] = meter.meter_point
    if meter.export_device_id:
        data[CONF_EXPORT_DEVICE_ID] = meter.export_device_id
    return data


def discovery_data(account: tuple[str, str], meter: SmartMeter) -> dict[str, str]:
    """A meter offered for setup: its account (no key: the flow takes the account's) and
    what its entry will store."""
    return {CONF_API_URL: account[0], CONF_ACCOUNT_NUMBER: account[1], **meter_data(meter)}


def discovered_meter(data: Mapping[str, Any]) -> SmartMeter:
    """The meter of :func:`discovery_data` (or of an entry's data)."""
    gas = data.get(CONF_FUEL) == "gas"
    return SmartMeter(
        device_id=data[CONF_DEVICE_ID],
        meter_point=data[CONF_MPRN] if gas else data[CONF_MPAN],
        serial_number=data[CONF_SERIAL_NUMBER],
        export_device_id=data.get(CONF_EXPORT_DEVICE_ID),
        fuel=Fuel.GAS if gas else Fuel.ELECTRICITY,
    )


class Offers:
    """One account's meters not set up, looked at once per run for a reporting Home Mini."""

    def __init__(self, hass: HomeAssistant, account: tuple[str, str], client: KrakenClient):
        """``account``: (API URL, account number), read with the account's ``client``."""
        self._hass = hass
        self._account = account
        self._client = client
        #: Meters still to check; None until the account is read.
        self.unoffered: list[SmartMeter] | None = None

    def due(self) -> bool:
        """Whether a meter is still to check, or the account not yet read this run."""
        if self.unoffered is None:
            return self._account not in self._hass.data.get(LOOKED, ())
        return bool(self.unoffered)

    def _set_up(self) -> set[str | None]:
        return set_up_meters(self._hass.config_entries.async_entries(DOMAIN))

    async def async_step(self) -> None:
        """One request: the account, else the next meter's latest reading (a meter that
        reports is offered as discovered, set up in one click with the account's key).

        A rate limit is raised (the account backs off, the step comes again); any other
        failure ends the looking for that meter, or for the account, in this run.
        """
        try:
            if self.unoffered is None:
                found = await self._client.get_account(self._account[1])
                set_up = self._set_up()
                self._hass.data.setdefault(LOOKED, set()).add(self._account)
                self.unoffered = [
                    m for m in found.telemetry_meters if not {m.device_id, m.meter_point} & set_up
                ]
                return
            meter = self.unoffered[0]
            if not {meter.device_id, meter.meter_point} & self._set_up():
                reading = await self._client.get_latest_telemetry(meter.device_id)
                if reading is not None:
                    discovery_flow.async_create_flow(
                        self._hass,
                        DOMAIN,
                        context={"source": SOURCE_INTEGRATION_DISCOVERY},
                        data=discovery_data(self._account, meter),
                    )
        except KrakenRateLimitError:
            raise
        except KrakenError as err:
            # No Home Mini on that meter (KT-GB-4039), or Kraken failing: not offered this run.
            LOGGER.debug("Not offering another meter of the account: %s", err)
            if self.unoffered is None:
                self.unoffered = []
                return
        self.unoffered.pop(0)
