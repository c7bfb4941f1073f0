"""What the integration knows about one meter: samples, guarded registers, the ledger. No I/O."""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
import logging
from typing import Any

from .api import Tariff, TelemetryReading
from .const import (
    DEFAULT_CALORIFIC_VALUE,
    GAS_ONLINE_MAX_AGE,
    GAS_VOLUME_CORRECTION,
    ONLINE_MAX_AGE,
    SAMPLE_BUFFER,
)
from .judge import RegisterGuard, delta_fault
from .ledger import BUCKET, ZERO, Ledger, Totals, bucket_start
from .tariff import unit_rate_pence

_LOGGER = logging.getLogger(__package__)

#: Readings re-asked for on every poll, so one Kraken publishes late is still counted.
OVERLAP = timedelta(minutes=2)
#: A live poll reaches back at most this far; an older gap is filled from HALF_HOURLY rows.
MAX_LIVE_WINDOW = timedelta(hours=1)
_INSTANT = timedelta(microseconds=1)
#: The last week's complete days give the typical day the projections use.
DAYS_FOR_TYPICAL = 7
#: A gas half hour with no row this long after it ended had none (the Mini was offline).
GAS_MISSING_AFTER = timedelta(hours=1)


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


def _rate(tariff: Tariff | None, known: dict[datetime, Decimal], at: datetime) -> Decimal | None:
    """A half hour's rate: as fetched for it, else the tariff's if its agreement covers it."""
    if at in known:
        return known[at]
    if tariff and tariff.valid_from and at < tariff.valid_from:
        return None  # an earlier agreement: its rates are not known here
    # Agile's GraphQL rates cover only recent days; fixed rates price every half hour alike.
    return unit_rate_pence(tariff, at)


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


@dataclass(slots=True)
class Session:
    """Cost since a press of *Reset session*: the ledger from that half hour, less its start."""

    started: datetime
    #: Counting starts in this moment's half hour, less what that half hour held before it.
    counts_from: datetime
    #: What the start's own half hour held up to the press: (priced pence, unpriced Wh).
    offset_pence: Decimal = ZERO
    offset_unpriced_wh: Decimal = ZERO
    #: Cost carried over (from before the ledger existed, or from half hours pruned away).
    carried_pence: Decimal = ZERO
    #: The start's half hour was never seen reading by reading (an upgrade from the format
    #: before the ledger): its share before the start is taken in proportion to time.
    offset_by_time: bool = False


class MeterState:
    """Samples, the guarded registers and the ledger of one meter."""

    def __init__(self, now: datetime, *, gas: bool = False) -> None:
        """Start empty, with a session from ``now``; a gas meter reports half hours."""
        self.gas = gas
        self.samples: list[TelemetryReading] = []
        self.newest: TelemetryReading | None = None
        self.consumption = RegisterGuard("meter")
        self.export = RegisterGuard("export", deltas=False)
        self.tariff: Tariff | None = None
        #: Historical unit rates by half hour (pence incl. VAT), for readings without a cost.
        self.rates: dict[datetime, Decimal] = {}
        #: The export agreement's tariff and its historical rates, as for import.
        self.export_tariff: Tariff | None = None
        self.export_rates: dict[datetime, Decimal] = {}
        self.ledger = Ledger()
        self.session = Session(started=now, counts_from=now)
        #: Newest reading time counted before a restart (the gap after it is filled).
        self.resume_after: datetime | None = None
        #: A new meter (an exchange) is read from here: the rest of the old meter's last
        #: half hour comes from the new meter's 10-s readings, since its row lacks the old part.
        self.exchanged_from: datetime | None = None
        #: Live windows have been read without a break up to here (this run).
        self.covered_until: datetime | None = None
        self.samples_received = 0
        self._typical: tuple[tuple[Any, ...], Decimal | None] | None = None
        #: Octopus's price of the newest priced reading, for energy a register reveals.
        self._pence_per_wh: Decimal | None = None

    # Fetch window ------------------------------------------------------------------------

    def live_window(self, now: datetime) -> tuple[datetime, datetime]:
        """The TEN_SECONDS range for this poll.

        From a little before the newest reading (late readings are still counted); after a
        start, from the current half hour — what lies before is filled from HALF_HOURLY rows.
        """
        newest = self.newest.read_at if self.newest else self.resume_after
        current = bucket_start(now - ONLINE_MAX_AGE)
        if (swapped := self.exchanged_from) is not None:
            self.exchanged_from = None
            if swapped < min(current, now - MAX_LIVE_WINDOW):
                # Confirmed late: first the rest of the swap's half hour, 10-s readings (the new
                # meter's row lacks the old meter's part, so it never settles that half hour);
                # the half hours after it from rows.
                self.ledger.pending.discard(bucket_start(swapped))
                self.ledger.rowless.add(bucket_start(swapped))
                return swapped - OVERLAP, bucket_start(swapped) + BUCKET
        # After a start the buffer is empty: the first poll refills the Live card's window.
        refill = now - SAMPLE_BUFFER if self.newest is None else now
        if newest is not None and newest >= min(current, now - MAX_LIVE_WINDOW):
            return min(newest - OVERLAP, refill), now
        # Only what no live window covered is missing: a quiet Mini needs no history request.
        missing_from = max(newest, self.covered_until or newest) if newest else None
        if missing_from is not None and missing_from < current:
            self.ledger.mark_pending(missing_from, current)
        self.resume_after = None
        return min(current, refill), now

    def covered(self, start: datetime, end: datetime) -> None:
        """A live window was read: Kraken holds nothing more for [start, end)."""
        if self.covered_until is None or start <= self.covered_until:
            self.covered_until = end

    def gas_window(self, now: datetime) -> tuple[datetime, datetime]:
        """The HALF_HOURLY range for a gas poll: the last two hours (late rows come in too)."""
        start = bucket_start(now) - 4 * BUCKET
        newest = self.newest.read_at + BUCKET if self.newest else self.resume_after
        if newest is not None and newest < start:
            self.ledger.mark_pending(newest, start)  # downtime, or polls held back
        self.resume_after = None
        return start, now

    def next_fill(self, now: datetime, most: int = 48) -> tuple[datetime, datetime] | None:
        """The next ``most`` half hours (or fewer) to ask Kraken for, if any are ready."""
        heard = None if self.gas or self.newest is None else self.newest.read_at
        return self.ledger.next_fill(now, heard, most)

    def apply_history(
        self, rows: list[TelemetryReading], start: datetime, end: datetime, now: datetime
    ) -> None:
        """HALF_HOURLY rows filling pending half hours (never ones live readings cover)."""
        if self.gas:
            self.ledger.apply_rows(
                start,
                end,
                rows,
                self.cost_pence,
                now,
                missing_after=GAS_MISSING_AFTER,
                rows_whole=True,
                only_pending=True,
            )
        else:
            self.ledger.apply_rows(start, end, rows, self.cost_pence, now, only_pending=True)

    # Readings ----------------------------------------------------------------------------

    def accept_rows(
        self, rows: list[TelemetryReading], start: datetime, end: datetime, now: datetime
    ) -> None:
        """A gas poll's half-hour rows: the ledger, then the register at each row's end."""
        self.ledger.apply_rows(
            start, end, rows, self.cost_pence, now, missing_after=GAS_MISSING_AFTER, rows_whole=True
        )
        for row in sorted(rows, key=lambda r: r.read_at):
            ended = row.read_at + BUCKET
            if not self.consumption.settled(ended):
                self.consumption.count(row.consumption_delta_wh or ZERO, ended)
                self.consumption.judge(ended, row.consumption_wh)
            if self.newest is None or row.read_at > self.newest.read_at:
                self.newest = row
                self.samples_received += 1

    def accept(self, readings: list[TelemetryReading], window_start: datetime) -> None:
        """Take a poll's readings, each judged and counted once: buffer, ledger, registers.

        A live window that began at or before the newest reading joins on to it: the first
        reading after a Mini outage then spans the outage.
        """
        joined = (
            self.newest.read_at if self.newest and window_start <= self.newest.read_at else None
        )
        held = {sample.read_at for sample in self.samples}
        for reading in sorted(readings, key=lambda r: r.read_at):
            if reading.read_at not in held:
                previous = joined if joined is not None and reading.read_at > joined else None
                if self._count(reading, previous):
                    held.add(reading.read_at)
                    if previous is not None:
                        joined = reading.read_at
            self._judge_registers(reading)
        if self.newest is not None:
            cutoff = self.newest.read_at - SAMPLE_BUFFER
            self.samples = [s for s in self.samples if s.read_at >= cutoff]

    def _count(self, reading: TelemetryReading, previous: datetime | None) -> bool:
        """Judge a new reading's delta and count it once; False if it cannot be trusted."""
        if fault := delta_fault(reading, previous, self.consumption):
            # In doubt: Kraken's half-hour row settles it; the register keeps the total.
            _LOGGER.debug("Not counting the reading at %s: %s", reading.read_at, fault)
            self.ledger.mark_pending(reading.read_at, reading.read_at + _INSTANT)
            return False
        insort(self.samples, reading, key=lambda s: s.read_at)
        self.samples_received += 1
        # Energy up to an accepted register, or inside a gap it revealed, is counted already.
        if not self.consumption.settled(reading.read_at) and not self.consumption.in_gap(
            reading.read_at
        ):
            cost = self.cost_pence(reading)
            wh = self.ledger.add_reading(reading, cost, previous)
            self.consumption.count(wh, reading.read_at)
            delta = reading.consumption_delta_wh
            if cost is not None and delta:
                self._pence_per_wh = cost / delta
        if self.newest is None or reading.read_at > self.newest.read_at:
            self.newest = reading
        return True

    def _judge_registers(self, reading: TelemetryReading) -> None:
        """The registers at a reading, once every delta counted is at or before it."""
        if gap := self.consumption.judge(reading.read_at, reading.consumption_wh):
            # Priced as the reading that revealed it was (Octopus's own rate incl. VAT), else
            # at the half hour's unit rate when the totals are read.
            cost = None if self._pence_per_wh is None else gap.wh * self._pence_per_wh
            self.ledger.spread(gap.start, gap.end, gap.wh, cost)
        if reading.export_wh is not None:
            self.export.judge(reading.read_at, reading.export_wh)
            if self.export.accepted_at == reading.read_at and self.export.accepted_wh:
                self.ledger.add_export(reading.read_at, self.export.accepted_wh)

    def cost_pence(self, reading: TelemetryReading) -> Decimal | None:
        """Octopus's own cost incl. VAT; None when the reading has none (priced later)."""
        return reading.cost_delta_with_tax_pence

    def rate_at(self, at: datetime) -> Decimal | None:
        """The unit rate of the half hour starting ``at``: never another half hour's."""
        return _rate(self.tariff, self.rates, at)

    def export_rate_at(self, at: datetime) -> Decimal | None:
        """What export earned in the half hour starting ``at`` (pence per kWh)."""
        return _rate(self.export_tariff, self.export_rates, at)

    def reset_session(self, now: datetime) -> None:
        """A new session: zero, counting readings taken after ``now``."""
        _, cost, unpriced = self.ledger.portion_before(now)
        self.session = Session(
            started=now, counts_from=now, offset_pence=cost, offset_unpriced_wh=unpriced
        )

    def prune(self, keep_from: datetime) -> Totals:
        """Keep this month and last; a session that began earlier keeps its cost so far."""
        session = self.session
        if bucket_start(session.counts_from) < keep_from:
            before = self.session_cost()
            self.session = Session(started=session.started, counts_from=keep_from)
            self.session.carried_pence = before - self.session_cost()
        dropped = self.ledger.prune(keep_from, self.rate_at, self.export_rate_at)
        self.rates = {at: rate for at, rate in self.rates.items() if at >= keep_from}
        self.export_rates = {at: r for at, r in self.export_rates.items() if at >= keep_from}
        return dropped

    def session_cost(self) -> Decimal:
        """The session's cost so far, in pence."""
        session = self.session
        start = bucket_start(session.counts_from)
        bucket = self.ledger.buckets.get(start)
        if bucket is not None and bucket.portions is not None:
            # Readings of the start's half hour may still arrive: keep the split current.
            _, session.offset_pence, session.offset_unpriced_wh = self.ledger.portion_before(
                session.counts_from
            )
            session.offset_by_time = False
        totals = self.ledger.totals(start, datetime.max.replace(tzinfo=start.tzinfo), self.rate_at)
        offset = session.offset_pence
        if session.offset_by_time and bucket is not None:
            share = Decimal((session.counts_from - start).total_seconds()) / 1800
            offset = (bucket.cost(self.rate_at(start)) or bucket.cost_pence) * share
        if session.offset_unpriced_wh and (rate := self.rate_at(start)) is not None:
            offset += session.offset_unpriced_wh / 1000 * rate
        return totals.cost_pence - offset + session.carried_pence

    # Snapshot and storage ------------------------------------------------------------------

    def snapshot(
        self,
        now: datetime,
        tz: tzinfo,
        calorific_value: Decimal = DEFAULT_CALORIFIC_VALUE,
        volume_from: tuple[Decimal, Decimal] | None = None,
    ) -> HomeMiniData:
        """An immutable view for the entities, with every total derived from the ledger."""
        midnight = local_midnight(now, tz)
        first = month_start(now, tz)
        end = now + BUCKET
        today = self.ledger.totals(midnight, end, self.rate_at, self.export_rate_at)
        month = self.ledger.totals(first, end, self.rate_at)
        return HomeMiniData(
            newest=self.newest,
            samples=tuple(self.samples),
            consumption_wh=self.consumption.accepted_wh,
            export_wh=self.export.accepted_wh,
            tariff=self.tariff,
            session_cost_pence=self.session_cost(),
            session_started=self.session.started,
            cost_today_pence=today.cost_pence,
            energy_today_wh=today.import_wh,
            day_started=midnight,
            month_cost_pence=month.cost_pence,
            month_started=first,
            typical_day_cost_pence=self._typical_day(midnight, tz),
            time_zone=tz,
            online_within=GAS_ONLINE_MAX_AGE + BUCKET if self.gas else ONLINE_MAX_AGE,
            calorific_value=calorific_value,
            volume_from=volume_from,
            day_unheld_s=self._unheld_seconds(midnight, now),
            month_unheld_s=self._unheld_seconds(first, now),
            export_tariff=self.export_tariff,
            export_today_wh=today.export_wh,
            earnings_today_pence=today.earnings_pence,
        )

    def _unheld_seconds(self, start: datetime, now: datetime) -> Decimal:
        """Of the complete half hours in [start, now): the time the ledger does not hold."""
        first = int(start.timestamp()) // 1800 * 1800
        end = int(bucket_start(now).timestamp())
        if self.gas:  # a gas meter's newest rows come an hour or two late: not "unheld"
            newest = self.newest.read_at if self.newest else start
            end = min(end, int(newest.timestamp()))
        if end <= first:
            return Decimal(0)
        slots = (end - first) // 1800
        held = self.ledger.held(
            datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(end, UTC)
        )
        return Decimal((slots - held) * 1800)

    def _typical_day(self, midnight: datetime, tz: tzinfo) -> Decimal | None:
        """Average cost of the complete days of the last week the ledger fully holds."""
        # Earlier days change only when history is filled: recompute only then.
        key = (midnight, len(self.ledger.pending), len(self.ledger.buckets), self.tariff)
        if self._typical is not None and self._typical[0] == key:
            return self._typical[1]
        costs = []
        day = midnight
        for _ in range(DAYS_FOR_TYPICAL):
            previous = local_midnight(day - timedelta(hours=1), tz)
            if not self._holds(previous, day):
                break
            costs.append(self.ledger.totals(previous, day, self.rate_at).cost_pence)
            day = previous
        typical = sum(costs, ZERO) / len(costs) if costs else None
        self._typical = (key, typical)
        return typical

    def _holds(self, start: datetime, end: datetime) -> bool:
        """Whether the ledger covers [start, end) without a pending or unknown half hour."""
        first = int(start.timestamp()) // 1800 * 1800
        held = self.ledger.buckets
        pending = self.ledger.pending
        for epoch in range(first, int(end.timestamp()), 1800):
            at = datetime.fromtimestamp(epoch, UTC)
            if at in pending or at not in held:
                return False
        return True

    @property
    def counted_through(self) -> datetime | None:
        """The newest reading counted; until one arrives, where the previous run stopped."""
        return self.newest.read_at if self.newest else self.resume_after
