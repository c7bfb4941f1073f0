"""Constants for the Octopus Home Mini integration."""

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
import logging
from typing import Any, Final

DOMAIN: Final = "octopus_home_mini"
LOGGER: Final = logging.getLogger(__package__)

CONF_ACCOUNT_NUMBER: Final = "account_number"
CONF_API_URL: Final = "api_url"
CONF_DEVICE_ID: Final = "device_id"
CONF_MPAN: Final = "mpan"
CONF_MPRN: Final = "mprn"
#: "electricity" (the default, for entries made before gas) or "gas".
CONF_FUEL: Final = "fuel"
CONF_SERIAL_NUMBER: Final = "serial_number"
CONF_EXPORT_DEVICE_ID: Final = "export_device_id"
#: The serial the meter's statistic ids are named after (the first meter's, across exchanges).
CONF_STATISTICS_SERIAL: Final = "statistics_serial"
SECTION_ADVANCED: Final = "advanced"

DEFAULT_API_URL: Final = "https://api.octopus.energy"

#: The Home Mini uploads every 10 s and Kraken publishes about every 30 s.
POLL_INTERVAL: Final = timedelta(seconds=30)
#: How long the 10-second samples are held in memory: the Live card's longest window.
SAMPLE_BUFFER: Final = timedelta(minutes=30)
#: The Mini counts as offline when its newest sample is older than this.
ONLINE_MAX_AGE: Final = timedelta(minutes=3)
#: After this long without a new sample a repair issue explains what to do.
STALE_REPAIR_AFTER: Final = timedelta(minutes=15)
#: A register rising faster than this is a glitch (a UK 100 A single-phase supply is ~23 kW).
MAX_PLAUSIBLE_POWER_W: Final = Decimal(30_000)

#: Demand bands, in W: a demand below a band's upper bound falls into that band.
DEMAND_LEVELS: Final = (
    ("low", Decimal(500)),
    ("normal", Decimal(1000)),
    ("moderate", Decimal(2000)),
    ("high", Decimal(3000)),
    ("very_high", None),
)

#: The tariff is re-read this often, or sooner when its half-hourly rates run out,
TARIFF_MAX_AGE: Final = timedelta(hours=6)
#: but never more often than this.
TARIFF_MIN_INTERVAL: Final = timedelta(minutes=30)

#: Requests one account may make in any hour, all meters and features together: the cadence's
#: 120 slots and a token renewal.
ACCOUNT_REQUESTS_PER_HOUR: Final = 121
#: A failing history request is retried after this, doubling up to the maximum.
HISTORY_RETRY: Final = timedelta(minutes=2)
HISTORY_RETRY_MAX: Final = timedelta(minutes=30)
#: Rate-limited: back off exponentially (full jitter) up to this long between polls.
BACKOFF_MAX: Final = timedelta(minutes=15)
MAX_BACKOFF_STEPS: Final = 5

#: A gas meter wakes every half hour; Kraken has its reading a few minutes after the half hour.
GAS_PUBLISHED_AFTER: Final = timedelta(minutes=6)
#: Without a new gas reading, ask again this often (doubling to the maximum while none comes).
GAS_RETRY: Final = timedelta(minutes=10)
GAS_RETRY_MAX: Final = timedelta(hours=1)
#: A gas meter is offline when its newest half hour ended longer ago than this.
GAS_ONLINE_MAX_AGE: Final = timedelta(hours=2)
#: UK gas: kWh = m³ x volume correction x calorific value (MJ/m³) / 3.6.
GAS_VOLUME_CORRECTION: Final = Decimal("1.02264")
#: National Gas's published daily calorific values for the UK have run at about 39-40 MJ/m³
#: in recent years; 39.5 is the middle of that range. Users can set their bill's figure.
DEFAULT_CALORIFIC_VALUE: Final = Decimal("39.5")
CONF_CALORIFIC_VALUE: Final = "calorific_value"
#: The gas register and volume when the calorific value was last set: [Wh, m³] as strings.
CONF_VOLUME_FROM: Final = "volume_from"
#: An electricity meter's option: seconds between the account's request slots (30 by
#: default; longer for users who share their key with other tools). Every sample is kept.
CONF_LIVE_INTERVAL: Final = "live_interval"
LIVE_INTERVAL_MIN: Final = 30
LIVE_INTERVAL_MAX: Final = 300


def is_gas(data: Mapping[str, Any]) -> bool:
    """Whether a config entry's data describes a gas meter."""
    return data.get(CONF_FUEL) == "gas"


def meter_point(data: Mapping[str, Any]) -> str:
    """The entry's MPAN (electricity) or MPRN (gas)."""
    return str(data[CONF_MPRN] if is_gas(data) else data[CONF_MPAN])
