"""A small async client for Octopus Energy's Kraken API, as used by the Home Mini.

It has no Home Assistant imports and could be published on its own.
"""

from .client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, KrakenClient, RequestHook, check_base_url
from .errors import (
    KrakenAccountNotFoundError,
    KrakenAuthenticationError,
    KrakenConnectionError,
    KrakenError,
    KrakenInsecureUrlError,
    KrakenInvalidResponseError,
    KrakenInvalidUrlError,
    KrakenNoHomeMiniError,
    KrakenRateLimitError,
    KrakenRequestError,
    KrakenServiceUnavailableError,
)
from .models import (
    Account,
    ElectricityMeter,
    ElectricityMeterPoint,
    GasMeter,
    GasMeterPoint,
    MeterDirection,
    SmartMeter,
    Tariff,
    TariffKind,
    TelemetryGrouping,
    TelemetryReading,
    Token,
    UnitRate,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "Account",
    "ElectricityMeter",
    "ElectricityMeterPoint",
    "GasMeter",
    "GasMeterPoint",
    "KrakenAccountNotFoundError",
    "KrakenAuthenticationError",
    "KrakenClient",
    "KrakenConnectionError",
    "KrakenError",
    "KrakenInsecureUrlError",
    "KrakenInvalidResponseError",
    "KrakenInvalidUrlError",
    "KrakenNoHomeMiniError",
    "KrakenRateLimitError",
    "KrakenRequestError",
    "KrakenServiceUnavailableError",
    "MeterDirection",
    "RequestHook",
    "SmartMeter",
    "Tariff",
    "TariffKind",
    "TelemetryGrouping",
    "TelemetryReading",
    "Token",
    "UnitRate",
    "check_base_url",
]
