"""A small async client for Octopus Energy's Kraken API, as used by the Home Mini.

It has no Home Assistant imports and could be published on its own.
"""

from .client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, KrakenClient, RequestHook
from .errors import (
    KrakenAccountNotFoundError,
    KrakenAuthenticationError,
    KrakenConnectionError,
    KrakenError,
    KrakenInvalidResponseError,
    KrakenNoHomeMiniError,
    KrakenRateLimitError,
    KrakenRequestError,
    KrakenServiceUnavailableError,
    KrakenTariffNotFoundError,
)
from .models import (
    Account,
    ElectricityMeter,
    ElectricityMeterPoint,
    Fuel,
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
    "Fuel",
    "GasMeter",
    "GasMeterPoint",
    "KrakenAccountNotFoundError",
    "KrakenAuthenticationError",
    "KrakenClient",
    "KrakenConnectionError",
    "KrakenError",
    "KrakenInvalidResponseError",
    "KrakenNoHomeMiniError",
    "KrakenRateLimitError",
    "KrakenRequestError",
    "KrakenServiceUnavailableError",
    "KrakenTariffNotFoundError",
    "MeterDirection",
    "RequestHook",
    "SmartMeter",
    "Tariff",
    "TariffKind",
    "TelemetryGrouping",
    "TelemetryReading",
    "Token",
    "UnitRate",
]
