"""Unit rates from a tariff, looked up locally for any moment (no request per poll)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

from .api import Tariff, TariffKind

# Kraken publishes no switching times for two- and three-rate tariffs, so these are assumed.
#: Octopus: a smart meter's Economy 7 night is 00:30-07:30 UTC (01:30-08:30 in summer time).
NIGHT = (time(0, 30), time(7, 30))
#: Three-rate off-peak: the 13:00-16:00 afternoon boost common to Economy 10 and Octopus Cosy.
THREE_RATE_OFF_PEAK = (time(13, 0), time(16, 0))


def _within(window: tuple[time, time], at: datetime) -> bool:
    start, end = window
    return start <= at.astimezone(UTC).time() < end


def _half_hourly_rate(tariff: Tariff, at: datetime) -> Decimal | None:
    for rate in tariff.unit_rates:
        if (rate.valid_from is None or rate.valid_from <= at) and (
            rate.valid_to is None or at < rate.valid_to
        ):
            return rate.value_pence
    return None


def unit_rate_pence(tariff: Tariff | None, at: datetime) -> Decimal | None:
    """The unit rate (pence/kWh incl. VAT) in force at ``at``, if the tariff tells."""
    if tariff is None:
        return None
    match tariff.kind:
        case TariffKind.HALF_HOURLY:
            return _half_hourly_rate(tariff, at)
        case TariffKind.DAY_NIGHT | TariffKind.THREE_RATE if _within(NIGHT, at):
            return tariff.night_rate_pence
        case TariffKind.THREE_RATE if _within(THREE_RATE_OFF_PEAK, at):
            return tariff.off_peak_rate_pence
        case TariffKind.DAY_NIGHT | TariffKind.THREE_RATE:
            return tariff.day_rate_pence
        case _:
            return tariff.unit_rate_pence


def rates_cover(tariff: Tariff | None, at: datetime) -> bool:
    """Whether the cached tariff still has a rate for ``at`` (half-hourly rates run out)."""
    return unit_rate_pence(tariff, at) is not None


def product_code_of(tariff_code: str) -> str:
    """``E-1R-AGILE-24-10-01-H`` -> ``AGILE-24-10-01``: the code without fuel, rate and region."""
    parts = tariff_code.split("-")
    return "-".join(parts[2:-1]) if len(parts) > 3 else tariff_code
