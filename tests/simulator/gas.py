"""The gas meter behind a GSME: a gas household read half-hourly, in kWh-equivalent Wh.

A SMETS2 gas meter is battery powered and wakes about every 30 minutes, so the Home Mini has
one gas reading per half hour (API.md §4.3). Reading ``h`` covers [h*1800, (h+1)*1800) UTC;
its ``readAt`` is the half hour's start, as an electricity HALF_HOURLY bucket's is, and it
becomes readable ``gas_lag_seconds`` after the half hour ends. Every grouping returns the same
one row per half hour (HOURLY merges two), since there is nothing finer to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from .household import SLOTS_PER_HALF_HOUR, _hash
from .tariffs import HALF_HOUR, Tariff
from .telemetry import MAX_ROWS, Gaps, TooManyRowsError, wh

HALF_HOURS_PER_DAY = 48
_TENTH = Decimal("0.1")
# Half hours (UTC) of the day's routine: heating and hot water, the hob at teatime.
_MORNING_HEATING = range(12, 17)  # 06:00-08:30
_EVENING_HEATING = range(34, 44)  # 17:00-22:00
_SHOWERS = 14  # 07:00
_HOB = 35  # 17:30
_BATH = 40  # 20:00


@dataclass(frozen=True, slots=True)
class HalfHour:
    """The truth of one half hour of a meter (either fuel): energy used and its cost."""

    read_at: datetime  # start of the half hour
    register_wh: int  # cumulative register at its end
    energy_wh: int
    cost_pence: Decimal  # pre-VAT
    cost_with_tax_pence: Decimal


def half_hour_time(half_hour: int) -> datetime:
    """Start of a half hour as an aware UTC datetime."""
    return datetime.fromtimestamp(half_hour * HALF_HOUR, UTC)


@lru_cache(maxsize=256)
def gas_day(seed: int, day: int) -> tuple[int, ...]:
    """Wh of gas burnt in each half hour of a UTC day (about 20-40 kWh: a winter day)."""
    h = _hash(seed, day, "gas", size=16)
    cold = 0.7 + 0.6 * h[0] / 255  # how hard the heating works today
    used = [0] * HALF_HOURS_PER_DAY
    for n, half_hour in enumerate(_MORNING_HEATING):
        used[half_hour] += round((3000 if n == 0 else 1900) * cold)  # warm-up, then hold
    for n, half_hour in enumerate(_EVENING_HEATING):
        used[half_hour] += round((2500 if n == 0 else 1400) * cold)
    used[_SHOWERS] += 1500 + h[1] * 4
    used[_HOB] += 300 + h[2]
    if h[3] % 3:  # a bath two evenings in three
        used[_BATH] += 1200
    for half_hour in range(17, 34):  # daytime hot water now and then (hand washing, dishes)
        if _hash(seed, day, half_hour, "tap", size=1)[0] < 64:
            used[half_hour] += 150 + h[4 + half_hour % 12]
    for half_hour, value in enumerate(used):  # ±10 %: the boiler modulates
        if value:
            noise = _hash(seed, day, half_hour, "gasnoise", size=1)[0] / 255 - 0.5
            used[half_hour] = round(value * (1 + noise / 5))
    return tuple(used)


@lru_cache(maxsize=256)
def _day_prefix(seed: int, day: int) -> tuple[int, ...]:
    total, prefix = 0, []
    for value in gas_day(seed, day):
        total += value
        prefix.append(total)
    return tuple(prefix)


class GasMeterModel:
    """Register and cost of one gas meter, half hour by half hour."""

    def __init__(self, seed: int, base_wh: int, tariff: Tariff, epoch_day: int) -> None:
        self.seed = seed
        self.base_wh = base_wh
        self.tariff = tariff
        self._starts: dict[int, int] = {epoch_day: base_wh}  # register before each day

    def energy_wh(self, half_hour: int) -> int:
        """Wh used in the half hour."""
        day, i = divmod(half_hour, HALF_HOURS_PER_DAY)
        return gas_day(self.seed, day)[i]

    def register(self, half_hour: int) -> int:
        """The register (Wh) at the end of the half hour."""
        day, i = divmod(half_hour, HALF_HOURS_PER_DAY)
        return self._start(day) + _day_prefix(self.seed, day)[i]

    def cost(self, half_hour: int) -> int:
        """Pre-VAT cost of the half hour's gas, pence * 1e5 (the electricity model's unit)."""
        return self.energy_wh(half_hour) * self.tariff.pre_vat_x100(half_hour)

    def half_hour(self, half_hour: int) -> HalfHour:
        """The truth of one half hour."""
        cost = Decimal(self.cost(half_hour)).scaleb(-5)
        return HalfHour(
            read_at=half_hour_time(half_hour),
            register_wh=self.register(half_hour),
            energy_wh=self.energy_wh(half_hour),
            cost_pence=cost,
            cost_with_tax_pence=cost * self.tariff.vat,
        )

    def _start(self, day: int) -> int:
        if day not in self._starts:
            if day > max(self._starts):
                for d in range(max(self._starts), day):
                    self._starts[d + 1] = self._starts[d] + _day_prefix(self.seed, d)[-1]
            else:
                for d in range(min(self._starts) - 1, day - 1, -1):
                    self._starts[d] = self._starts[d + 1] - _day_prefix(self.seed, d)[-1]
        return self._starts[day]


def gas_uploaded(gaps: Gaps, half_hour: int) -> bool:
    """Whether the Home Mini was uploading when the half hour's reading was due."""
    slot = half_hour * SLOTS_PER_HALF_HOUR
    return not any(first <= slot < end for first, end in gaps.windows)


def gas_reported_before(gaps: Gaps, half_hour: int) -> int:
    """The newest uploaded half hour strictly before ``half_hour``."""
    candidate = half_hour - 1
    for first, end in reversed(gaps.windows):
        if first <= candidate * SLOTS_PER_HALF_HOUR < end:
            candidate = (first - 1) // SLOTS_PER_HALF_HOUR
    return candidate


def _row(
    meter: GasMeterModel,
    read_at: int,
    last: int,
    previous: int,
    glitches: Mapping[int, str],
) -> dict[str, Any]:
    register = meter.register(last)
    consumption: Decimal | None = Decimal(register).quantize(_TENTH)
    glitch = glitches.get(last * SLOTS_PER_HALF_HOUR)
    match glitch:
        case "zero":
            consumption = Decimal("0.0")
        case "decrease":
            consumption = Decimal(register - 500).quantize(_TENTH)
        case "null":
            consumption = None
    # Like electricity: the delta (and its cost) runs from the previous uploaded reading.
    cost = Decimal(sum(meter.cost(h) for h in range(previous + 1, last + 1))).scaleb(-5)
    priced = glitch != "null_cost"
    return {
        "readAt": half_hour_time(read_at),
        "consumption": consumption,
        "consumptionDelta": wh(register - meter.register(previous)),
        "demand": None,  # a gas meter has no demand
        "costDelta": cost if priced else None,
        "costDeltaWithTax": cost * meter.tariff.vat if priced else None,
        "export": None,
    }


def gas_range_rows(
    meter: GasMeterModel,
    gaps: Gaps,
    glitches: Mapping[int, str],
    first: int,
    end: int,
    size: int,
) -> list[dict[str, Any]]:
    """Rows for uploaded half hours in [first, end), in ``size``-half-hour UTC buckets."""
    rows: list[dict[str, Any]] = []
    cursor = first
    while cursor < end:
        bucket = cursor // size * size
        stop = min(end, bucket + size)
        uploaded = [h for h in range(cursor, stop) if gas_uploaded(gaps, h)]
        if uploaded:
            previous = gas_reported_before(gaps, uploaded[0])
            rows.append(_row(meter, bucket, uploaded[-1], previous, glitches))
            if len(rows) > MAX_ROWS:
                raise TooManyRowsError
        cursor = stop
    return rows


def gas_latest_row(
    meter: GasMeterModel, gaps: Gaps, glitches: Mapping[int, str], readable_end: int
) -> dict[str, Any]:
    """The newest uploaded half hour before ``readable_end``."""
    last = gas_reported_before(gaps, readable_end)
    return _row(meter, last, last, gas_reported_before(gaps, last), glitches)
