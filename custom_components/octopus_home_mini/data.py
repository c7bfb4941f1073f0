"""What the entities see of a meter: an immutable snapshot, every total derived from the ledger.

Also the local calendar the totals follow (days and months in Home Assistant's time zone,
23 or 25 hours long across a clock change). No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from .api import Tariff, TelemetryReading
from .const import (
    DEFAULT_CALORIFIC_VALUE,
    GAS_ONLINE_MAX_AGE,
    GAS_VOLUME_CORRECTION,
    ONLINE_MAX_AGE,
)
from .ledger import BUCKET, ZERO, Ledger, bucket_start
from .meter import MeterState
from .tariff import unit_rate_pence

#: The last week's complete days give the typical day the projections use.
DAYS_FOR_TYPICAL = 7


def local_midnight(at: datetime, tz: tzinfo) -> datetime:
    """The start of ``at``'s local day (23 or 25 hours long across a clock change)."""
    local = at.astimezone(tz)
    return datetime(local.year, local.month, local.day, tzinfo=tz)


def next_local_midnight(at: datetime, tz: tzinfo) -> datetime:
    """The start of the next local day."""
    local = local_midnight(at, tz)
    return local_midnight(local + timedelta(hours=26), tz)


def month_start(at: datetime, tz: tzinfo) -> datetime:
    """Local midnight on the first of ``at``'s month."""
    local = at.astimezone(tz)
    return datetime(local.year, local.month, 1, tzinfo=tz)


def previous_month_start(at: datetime, tz: tzinfo) -> datetime:
    """Local midnight on the first of the month before ``at``'s."""
    return month_start(month_start(at, tz) - timedelta(days=1), tz)


def gas_volume_m3(
    energy_wh: Decimal | None,
    calorific_value: Decimal,
    since: tuple[Decimal, Decimal] | None = None,
) -> Decimal | None:
    """The gas register in m³: kWh x 3.6 / (volume correction x calorific value).

    ``since``: (Wh, m³) when the calorific value was set; it applies from then on, so the
    volume never goes back when it changes.
    """
    if energy_wh is None:
        return None
    wh, m3 = since if since is not None else (ZERO, ZERO)
    return m3 + (energy_wh - wh) / 1000 * Decimal("3.6") / (GAS_VOLUME_CORRECTION * calorific_value)


@dataclass(frozen=True, slots=True)
class HomeMiniData:
    """A snapshot of one meter, as the entities see it."""

    newest: TelemetryReading | None
    samples: tuple[TelemetryReading, ...]
    consumption_wh: Decimal | None
    export_wh: Decimal | None
    tariff: Tariff | None
    session_cost_pence: Decimal
    session_started: datetime
    cost_today_pence: Decimal
    energy_today_wh: Decimal
    day_started: datetime
    month_cost_pence: Decimal
    month_started: datetime
    #: Average cost of a whole day over the last week's complete days in the ledger.
    typical_day_cost_pence: Decimal | None
    time_zone: tzinfo
    #: How old the newest reading may be while the meter counts as online.
    online_within: timedelta = ONLINE_MAX_AGE
    #: MJ/m³, for a gas register shown in m³ (the entry's option), and the register and
    #: volume when it was set: (Wh, m³).
    calorific_value: Decimal = DEFAULT_CALORIFIC_VALUE
    volume_from: tuple[Decimal, Decimal] | None = None
    #: Seconds of the day and of the month so far the ledger does not hold yet (half hours
    #: still to fill, or before it began): the projections count them as still to come.
    day_unheld_s: Decimal = Decimal(0)
    month_unheld_s: Decimal = Decimal(0)
    #: The export agreement's tariff (None: the meter is not paid for export), and today's
    #: export and what it earned at that tariff's rates (pence).
    export_tariff: Tariff | None = None
    export_today_wh: Decimal = Decimal(0)
    earnings_today_pence: Decimal = Decimal(0)

    def is_online(self, now: datetime) -> bool:
        """Whether the newest sample is recent enough to call the Home Mini online."""
        return self.newest is not None and now - self.newest.read_at < self.online_within

    def unit_rate_pence(self, now: datetime) -> Decimal | None:
        """The unit rate in force now."""
        return unit_rate_pence(self.tariff, now)

    def export_rate_pence(self, now: datetime) -> Decimal | None:
        """What the export tariff pays now, pence per kWh."""
        return unit_rate_pence(self.export_tariff, now)


# The snapshot ---------------------------------------------------------------------------


def snapshot(
    meter: MeterState,
    now: datetime,
    tz: tzinfo,
    calorific_value: Decimal = DEFAULT_CALORIFIC_VALUE,
    volume_from: tuple[Decimal, Decimal] | None = None,
) -> HomeMiniData:
    """An immutable view for the entities, with every total derived from the ledger."""
    midnight = local_midnight(now, tz)
    first = month_start(now, tz)
    end = now + BUCKET
    today = meter.ledger.totals(midnight, end, meter.rate_at, meter.export_rate_at)
    month = meter.ledger.totals(first, end, meter.rate_at)
    return HomeMiniData(
        newest=meter.newest,
        samples=tuple(meter.samples),
        consumption_wh=meter.consumption.accepted_wh,
        export_wh=meter.export.accepted_wh,
        tariff=meter.tariff,
        session_cost_pence=meter.session_cost(),
        session_started=meter.session.started,
        cost_today_pence=today.cost_pence,
        energy_today_wh=today.import_wh,
        day_started=midnight,
        month_cost_pence=month.cost_pence,
        month_started=first,
        typical_day_cost_pence=_typical_day(meter, midnight, tz),
        time_zone=tz,
        online_within=GAS_ONLINE_MAX_AGE + BUCKET if meter.gas else ONLINE_MAX_AGE,
        calorific_value=calorific_value,
        volume_from=volume_from,
        day_unheld_s=_unheld_seconds(meter, midnight, now),
        month_unheld_s=_unheld_seconds(meter, first, now),
        export_tariff=meter.export_tariff,
        export_today_wh=today.export_wh,
        earnings_today_pence=today.earnings_pence,
    )


def _unheld_seconds(meter: MeterState, start: datetime, now: datetime) -> Decimal:
    """Of the complete half hours in [start, now): the time the ledger does not hold."""
    first = int(start.timestamp()) // 1800 * 1800
    end = int(bucket_start(now).timestamp())
    if meter.gas:  # a gas meter's newest rows come an hour or two late: not "unheld"
        newest = meter.newest.read_at if meter.newest else start
        end = min(end, int(newest.timestamp()))
    if end <= first:
        return Decimal(0)
    slots = (end - first) // 1800
    held = meter.ledger.held(datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(end, UTC))
    return Decimal((slots - held) * 1800)


def _typical_day(meter: MeterState, midnight: datetime, tz: tzinfo) -> Decimal | None:
    """Average cost of the complete days of the last week the ledger fully holds."""
    # Earlier days change only when history is filled: recompute only then.
    key = (midnight, len(meter.ledger.pending), len(meter.ledger.buckets), meter.tariff)
    if meter.typical is not None and meter.typical[0] == key:
        return meter.typical[1]
    costs = []
    day = midnight
    for _ in range(DAYS_FOR_TYPICAL):
        previous = local_midnight(day - timedelta(hours=1), tz)
        if not _holds(meter.ledger, previous, day):
            break
        costs.append(meter.ledger.totals(previous, day, meter.rate_at).cost_pence)
        day = previous
    typical = sum(costs, ZERO) / len(costs) if costs else None
    meter.typical = (key, typical)
    return typical


def _holds(ledger: Ledger, start: datetime, end: datetime) -> bool:
    """Whether the ledger covers [start, end) without a pending or unknown half hour."""
    first = int(start.timestamp()) // 1800 * 1800
    held = ledger.buckets
    pending = ledger.pending
    for epoch in range(first, int(end.timestamp()), 1800):
        at = datetime.fromtimestamp(epoch, UTC)
        if at in pending or at not in held:
            return False
    return True
