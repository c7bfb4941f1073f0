"""Hourly long-term statistics from the ledger, as external statistics the Energy panel uses.

Each complete UTC hour holds the energy and cost used in it; an hour a gap is filled for later
is written again, with every later hour's running sum, so the Energy panel never shows a spike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
import re
from typing import Any

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    statistics_during_period,
)
from homeassistant.const import UnitOfEnergy
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance

from .const import DOMAIN
from .ledger import FINAL_AFTER, ZERO, Ledger, RateLookup, Totals
from .meter import MeterState

HOUR = timedelta(hours=1)
#: An earlier install's last sum is looked for in this span before our first hour, then, if
#: none is there, month by month as far back as the recorder keeps statistics.
EARLIER_INSTALL_LOOKBACK = timedelta(days=62)
EARLIER_INSTALL_HORIZON = timedelta(days=3660)
CURRENCY = "GBP"
#: The quantities written, with their unit and unit class.
KINDS: dict[str, tuple[str, str | None]] = {
    "consumption": (UnitOfEnergy.KILO_WATT_HOUR, "energy"),
    "cost": (CURRENCY, None),
    "export": (UnitOfEnergy.KILO_WATT_HOUR, "energy"),
    #: What export earned (the Energy panel's "Return to grid" compensation).
    "export_compensation": (CURRENCY, None),
}


@dataclass(frozen=True, slots=True)
class Series:
    """One meter's statistics: their ids' prefix, display name and how half hours are priced.

    ``export_rate`` is None for a meter not paid for export (no compensation is written).
    """

    prefix: str
    name: str
    rate: RateLookup
    export_rate: RateLookup | None = None
    gas: bool = False

    @property
    def kinds(self) -> tuple[str, ...]:
        """What is written for this meter: gas has no export; export earnings need a tariff."""
        if self.gas:
            return ("consumption", "cost")
        if self.export_rate is None:
            return ("consumption", "cost", "export")
        return tuple(KINDS)


def statistic_prefix(fuel: str, serial_number: str) -> str:
    """``electricity_<serial>`` or ``gas_<serial>`` (lower case, letters and digits)."""
    slug = re.sub(r"[^a-z0-9]+", "_", serial_number.lower()).strip("_")
    return f"{fuel}_{slug}"


def statistic_id(prefix: str, kind: str) -> str:
    """``octopus_home_mini:<prefix>_<kind>``, e.g. ``…:electricity_21e1234567_consumption``."""
    return f"{DOMAIN}:{prefix}_{kind}"


def hour_start(at: datetime) -> datetime:
    """The UTC hour containing ``at``."""
    return at.replace(minute=0, second=0, microsecond=0)


def _values(totals: Totals) -> dict[str, Decimal]:
    return {
        "consumption": totals.import_wh / 1000,
        "cost": totals.cost_pence / 100,
        "export": totals.export_wh / 1000,
        "export_compensation": totals.earnings_pence / 100,
    }


def hours(
    ledger: Ledger,
    start: datetime,
    end: datetime,
    rate: RateLookup,
    export_rate: RateLookup | None = None,
) -> Iterator[tuple[datetime, Totals]]:
    """The totals of each UTC hour in [start, end) (both bounds on the hour)."""
    cursor = start
    while cursor < end:
        yield cursor, ledger.totals(cursor, cursor + HOUR, rate, export_rate)
        cursor += HOUR


@dataclass
class StatisticsState:
    """Where the written statistics stand: sums before the ledger's first half hour."""

    base: dict[str, Decimal] = field(default_factory=dict)
    #: Whether anything was written yet (before that, an earlier install's sums are looked up).
    written: bool = False
    #: The earliest hour that changed and is not written yet.
    unwritten_from: datetime | None = None

    def add_pruned(self, pruned: Totals) -> None:
        """Half hours leaving the ledger keep counting in every later sum."""
        self.base["consumption"] = self.base.get("consumption", ZERO) + pruned.import_wh / 1000
        self.base["cost"] = self.base.get("cost", ZERO) + pruned.cost_pence / 100
        self.base["export"] = self.base.get("export", ZERO) + pruned.export_wh / 1000
        if pruned.earnings_pence:
            self.base["export_compensation"] = (
                self.base.get("export_compensation", ZERO) + pruned.earnings_pence / 100
            )


def complete_hours(now: datetime) -> datetime:
    """The end of the last hour whose readings are all published (a live hour's readings can
    still change it until then; a sealed or filled half hour that changes later is written
    again, with every later sum)."""
    return hour_start(now - FINAL_AFTER)


def first_whole_hour(ledger: Ledger) -> datetime | None:
    """The first hour the ledger holds whole: rows and sums start there (a lone half hour
    before it, where a back-fill stopped, is in no row and no sum)."""
    held = [at for at, bucket in ledger.buckets.items() if bucket.import_wh or bucket.final]
    if not held:
        return None
    oldest = min(held)
    return hour_start(oldest) + (HOUR if oldest != hour_start(oldest) else timedelta(0))


def hourly_rows(
    ledger: Ledger,
    origin: datetime,
    start: datetime,
    end: datetime,
    series: Series,
    base: dict[str, Decimal],
) -> dict[str, list[StatisticData]]:
    """Rows for each hour in [start, end), their sums continuing from ``origin``."""
    before = ledger.totals(origin, start, series.rate, series.export_rate)
    running = dict(base)
    for kind, value in _values(before).items():
        running[kind] = running.get(kind, ZERO) + value
    rows: dict[str, list[StatisticData]] = {kind: [] for kind in KINDS}
    for at, totals in hours(ledger, start, end, series.rate, series.export_rate):
        for kind, value in _values(totals).items():
            running[kind] = running.get(kind, ZERO) + value
            rows[kind].append(StatisticData(start=at, state=float(value), sum=float(running[kind])))
    return rows


async def async_write_meter(
    hass: HomeAssistant,
    state: StatisticsState,
    meter: MeterState,
    series: Series,
    keep_from: datetime,
    now: datetime,
) -> None:
    """A meter's turn: the ledger keeps this month and last (what leaves it still counts in
    the sums), then the hours it completed or changed go to the long-term statistics."""
    ledger = meter.ledger
    if ledger.buckets and min(ledger.buckets) < keep_from:
        # What leaves the ledger from the first whole hour on was in the sums: it stays.
        origin = first_whole_hour(ledger) or keep_from
        state.add_pruned(ledger.totals(origin, keep_from, meter.rate_at, meter.export_rate_at))
        meter.prune(keep_from)
    if "recorder" not in hass.config.components:
        return
    if (changed := ledger.take_changes()) is not None:
        state.unwritten_from = min(state.unwritten_from or changed, changed)
    if state.unwritten_from is None:
        return
    written_to = await async_write(hass, state, ledger, series, state.unwritten_from, now)
    if written_to is not None:
        state.unwritten_from = written_to


async def async_write(
    hass: HomeAssistant,
    state: StatisticsState,
    ledger: Ledger,
    series: Series,
    changed_from: datetime,
    now: datetime,
) -> datetime | None:
    """Write the complete hours from ``changed_from`` on; returns the end of what was written."""
    if (data_from := first_whole_hour(ledger)) is None:
        return None
    # An hour is written only when all its half hours are known: from the first whole hour
    # the ledger holds, up to the first half hour still to be filled.
    end = complete_hours(now)
    if ledger.pending:
        end = min(end, hour_start(min(ledger.pending)))
    if not state.written:
        await _continue_earlier_install(hass, state, series, data_from)
        state.written = True  # looked up once, whatever is written now
    start = max(hour_start(changed_from), data_from)
    if start >= end:
        return None
    rows = hourly_rows(ledger, data_from, start, end, series, state.base)
    for kind in series.kinds:
        unit, unit_class = KINDS[kind]
        metadata = StatisticMetaData(
            mean_type=StatisticMeanType.NONE,
            has_sum=True,
            name=f"{series.name} {kind.replace('_', ' ')}",
            source=DOMAIN,
            statistic_id=statistic_id(series.prefix, kind),
            unit_class=unit_class,
            unit_of_measurement=unit,
        )
        async_add_external_statistics(hass, metadata, rows[kind])
    state.written = True
    return end


async def _continue_earlier_install(
    hass: HomeAssistant, state: StatisticsState, series: Series, first_hour: datetime
) -> None:
    """Sums continue from the last row before our first hour, wherever an earlier install of
    this meter wrote it (rows it wrote from that hour on are replaced by ours)."""
    for kind in series.kinds:
        last_sum = await _last_sum_before(hass, statistic_id(series.prefix, kind), first_hour)
        if last_sum is not None:
            state.base[kind] = state.base.get(kind, ZERO) + Decimal(str(last_sum))


async def _last_sum_before(hass: HomeAssistant, ident: str, before: datetime) -> float | None:
    """The sum of the newest hourly row of ``ident`` before ``before``, if any."""

    async def rows(start: datetime, end: datetime, period: str) -> list[Any]:
        found = await get_instance(hass).async_add_executor_job(
            statistics_during_period, hass, start, end, {ident}, period, None, {"sum"}
        )
        return list(found.get(ident, []))

    recent = await rows(before - EARLIER_INSTALL_LOOKBACK, before, "hour")
    if not recent:  # further back: find the newest month with rows, then its last hour
        months = await rows(before - EARLIER_INSTALL_HORIZON, before, "month")
        if not months:
            return None
        month_start = datetime.fromtimestamp(months[-1]["start"], UTC)
        recent = await rows(
            max(month_start - HOUR, before - EARLIER_INSTALL_HORIZON), before, "hour"
        )
    sums = [row["sum"] for row in recent if row.get("sum") is not None]
    return float(sums[-1]) if sums else None
