"""Unit rates from a tariff, looked up locally for any moment (no request per poll)."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from .api import Tariff, TariffKind

UK = ZoneInfo("Europe/London")
# Kraken does not publish Economy 7 / three-rate switching times; most Octopus meters run their
# cheap period 00:30-07:30 UK time, so that is the window assumed when costs must be estimated.
NIGHT_START = time(0, 30)
NIGHT_END = time(7, 30)


def unit_rate_pence(tariff: Tariff | None, at: datetime) -> Decimal | None:
    """The unit rate (pence/kWh incl. VAT) in force at ``at``, if the tariff tells."""
    if tariff is None:
        return None
    if tariff.kind is TariffKind.HALF_HOURLY:
        for rate in tariff.unit_rates:
            if (rate.valid_from is None or rate.valid_from <= at) and (
                rate.valid_to is None or at < rate.valid_to
            ):
                return rate.value_pence
        return None
    if tariff.kind in (TariffKind.DAY_NIGHT, TariffKind.THREE_RATE):
        local = at.astimezone(UK).time()
        night = NIGHT_START <= local < NIGHT_END
        return tariff.night_rate_pence if night else tariff.day_rate_pence
    return tariff.unit_rate_pence


def rates_cover(tariff: Tariff | None, at: datetime) -> bool:
    """Whether the cached tariff still has a rate for ``at`` (half-hourly rates run out)."""
    return unit_rate_pence(tariff, at) is not None
