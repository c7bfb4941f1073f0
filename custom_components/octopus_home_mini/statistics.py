"""Hourly long-term statistics from the ledger, as external statistics the Energy panel uses.

Each complete UTC hour holds the energy and cost used in it; an hour a gap is filled for later
is written again, with every later hour's running sum, so the Energy panel never shows a spike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
import re

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
from .ledger import FINAL_AFTER, ZERO, HourTotals, Ledger, RateLookup, Totals

HOUR = timedelta(hours=1)
#: How far before our first hour an earlier install's last sum is looked for.
EARLIER_INSTALL_LOOKBACK = timedelta(days=62)
CURRENCY = "GBP"
#: The quantities written, with their unit and unit class.
KINDS: dict[str, tuple[str, str | None]] = {
    "consumption": (UnitOfEnergy.KILO_WATT_HOUR, "energy"),
    "cost": (CURRENCY, None),
    "export": (UnitOfEnergy.KILO_WATT_HOUR, "energy"),
}


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


def _values(hour: HourTotals) -> dict[str, Decimal]:
    return {
        "consumption": hour.import_wh / 1000,
        "cost": hour.cost_pence / 100,
        "export": hour.export_wh / 1000,
    }


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


def complete_hours(now: datetime) -> datetime:
    """The end of the last hour whose readings are all published.

    Hours still pending are written as they stand and again once filled, with every later sum.
    """
    return hour_start(now - FINAL_AFTER)


def hourly_rows(
    ledger: Ledger, start: datetime, end: datetime, rate: RateLookup, base: dict[str, Decimal]
) -> dict[str, list[StatisticData]]:
    """Rows for each hour in [start, end), their sums continuing from the ledger's start."""
    first = min(ledger.buckets, default=start)
    before = ledger.totals(first, start, rate)
    running = dict(base)
    for kind, value in _values(
        HourTotals(first, before.import_wh, before.cost_pence, before.export_wh)
    ).items():
        running[kind] = running.get(kind, ZERO) + value
    rows: dict[str, list[StatisticData]] = {kind: [] for kind in KINDS}
    for hour in ledger.hours(start, end, rate):
        for kind, value in _values(hour).items():
            running[kind] = running.get(kind, ZERO) + value
            rows[kind].append(
                StatisticData(start=hour.start, state=float(value), sum=float(running[kind]))
            )
    return rows


async def async_write(
    hass: HomeAssistant,
    state: StatisticsState,
    ledger: Ledger,
    prefix: str,
    name: str,
    rate: RateLookup,
    changed_from: datetime,
    now: datetime,
    earliest: datetime,
) -> datetime | None:
    """Write the complete hours from ``changed_from`` on; returns the end of what was written."""
    held = [at for at, bucket in ledger.buckets.items() if bucket.import_wh or bucket.final]
    if not held:
        return None
    end = complete_hours(now)
    data_from = hour_start(min(held))
    if not state.written:
        await _continue_earlier_install(hass, state, prefix, earliest)
        state.written = True  # looked up once, whatever is written now
    start = max(hour_start(changed_from), data_from)
    if start >= end:
        return None
    rows = hourly_rows(ledger, start, end, rate, state.base)
    for kind, (unit, unit_class) in KINDS.items():
        if kind == "export" and prefix.startswith("gas"):
            continue
        metadata = StatisticMetaData(
            mean_type=StatisticMeanType.NONE,
            has_sum=True,
            name=f"{name} {kind}",
            source=DOMAIN,
            statistic_id=statistic_id(prefix, kind),
            unit_class=unit_class,
            unit_of_measurement=unit,
        )
        async_add_external_statistics(hass, metadata, rows[kind])
    state.written = True
    return end


async def _continue_earlier_install(
    hass: HomeAssistant, state: StatisticsState, prefix: str, first_hour: datetime
) -> None:
    """Sums continue from the last hour an earlier install of this meter wrote before ours."""
    for kind in KINDS:
        ident = statistic_id(prefix, kind)
        found = await get_instance(hass).async_add_executor_job(
            statistics_during_period,
            hass,
            first_hour - EARLIER_INSTALL_LOOKBACK,
            first_hour,
            {ident},
            "hour",
            None,
            {"sum"},
        )
        rows = found.get(ident, [])
        if rows and (last_sum := rows[-1].get("sum")) is not None:
            state.base[kind] = state.base.get(kind, ZERO) + Decimal(str(last_sum))
