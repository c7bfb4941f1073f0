"""Constants for the Octopus Home Mini integration."""

from datetime import timedelta
from decimal import Decimal
import logging
from typing import Final

DOMAIN: Final = "octopus_home_mini"
LOGGER: Final = logging.getLogger(__package__)

CONF_ACCOUNT_NUMBER: Final = "account_number"
CONF_API_URL: Final = "api_url"
CONF_DEVICE_ID: Final = "device_id"
CONF_MPAN: Final = "mpan"
CONF_SERIAL_NUMBER: Final = "serial_number"
CONF_EXPORT_DEVICE_ID: Final = "export_device_id"
SECTION_ADVANCED: Final = "advanced"

DEFAULT_API_URL: Final = "https://api.octopus.energy"

#: The Home Mini uploads every 10 s and Kraken publishes about every 30 s.
POLL_INTERVAL: Final = timedelta(seconds=30)
#: How much history the first poll asks for.
SAMPLE_WINDOW: Final = timedelta(minutes=5)
#: How long the 10-second samples are held in memory: the Live card's longest window.
SAMPLE_BUFFER: Final = timedelta(minutes=30)
#: The most a single poll asks for (360 ten-second rows); longer gaps take several polls.
MAX_FETCH_WINDOW: Final = timedelta(hours=1)
#: How far back an outage is caught up at most.
MAX_CATCH_UP: Final = timedelta(hours=24)
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

#: Requests one account may make in any hour, all meters and features together.
ACCOUNT_REQUESTS_PER_HOUR: Final = 125
#: Rate-limited: back off exponentially (full jitter) up to this long between polls.
BACKOFF_MAX: Final = timedelta(minutes=15)
MAX_BACKOFF_STEPS: Final = 5
