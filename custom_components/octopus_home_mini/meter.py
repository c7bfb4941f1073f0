"""What the integration knows about one meter: samples, guarded registers, the ledger. No I/O.

Every reading is judged (judge.py) before it reaches the ledger; Kraken's rows settle it
(settle.py); the entities see it through a snapshot (data.py).
"""

from __future__ import annotations

from bisect import insort
from datetime import datetime, timedelta
from decimal import Decimal
import logging
from typing import Any

from .api import Tariff, TelemetryReading
from .const import (
    ONLINE_MAX_AGE,
    SAMPLE_BUFFER,
)
from .judge import RegisterGuard, delta_fault
from .ledger import BUCKET, FINAL_AFTER, ZERO, Ledger, Totals, bucket_start
from .session import Session
from .settle import apply_rows
from .tariff import unit_rate_pence

_LOGGER = logging.getLogger(__package__)

#: Readings re-asked for on every poll, so one Kraken publishes late is still counted.
OVERLAP = timedelta(minutes=2)
#: A live poll reaches back at most this far; an older gap is filled from HALF_HOURLY rows.
MAX_LIVE_WINDOW = timedelta(hours=1)
_INSTANT = timedelta(microseconds=1)
#: A gas half hour with no row this long after it ended had none (the Mini was offline).
GAS_MISSING_AFTER = timedelta(hours=1)


def cost_pence(reading: TelemetryReading) -> Decimal | None:
    """Octopus's own cost incl. VAT; None when the reading has none (priced later)."""
    return reading.cost_delta_with_tax_pence


def _rate(tariff: Tariff | None, known: dict[datetime, Decimal], at: datetime) -> Decimal | None:
    """A half hour's rate: as fetched for it, else the tariff's if its agreement covers it."""
    if at in known:
        return known[at]
    if tariff and tariff.valid_from and at < tariff.valid_from:
        return None  # an earlier agreement: its rates are not known here
    # Agile's GraphQL rates cover only recent days; fixed rates price every half hour alike.
    return unit_rate_pence(tariff, at)


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
        #: The typical day's cost and what it was worked out from (see data.snapshot).
        self.typical: tuple[tuple[Any, ...], Decimal | None] | None = None
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
        self,
        rows: list[TelemetryReading],
        start: datetime,
        end: datetime,
        now: datetime,
        *,
        only_pending: bool = True,
    ) -> None:
        """HALF_HOURLY rows filling pending half hours (by default never ones live readings
        cover; a gas poll's rows settle whatever they hold)."""
        missing_after = GAS_MISSING_AFTER if self.gas else FINAL_AFTER
        apply_rows(
            self.ledger,
            start,
            end,
            rows,
            cost_pence,
            now,
            missing_after=missing_after,
            rows_whole=self.gas,
            only_pending=only_pending,
        )

    # Readings ----------------------------------------------------------------------------

    def accept_rows(
        self, rows: list[TelemetryReading], start: datetime, end: datetime, now: datetime
    ) -> None:
        """A gas poll's half-hour rows: the ledger, then the register at each row's end."""
        self.apply_history(rows, start, end, now, only_pending=False)
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
            cost = cost_pence(reading)
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

    def rate_at(self, at: datetime) -> Decimal | None:
        """The unit rate of the half hour starting ``at``: never another half hour's."""
        return _rate(self.tariff, self.rates, at)

    def export_rate_at(self, at: datetime) -> Decimal | None:
        """What export earned in the half hour starting ``at`` (pence per kWh)."""
        return _rate(self.export_tariff, self.export_rates, at)

    def reset_session(self, now: datetime) -> None:
        """A new session: zero, counting readings taken after ``now``."""
        self.session = Session.begin(self.ledger, now)

    def prune(self, keep_from: datetime) -> Totals:
        """Keep this month and last; a session that began earlier keeps its cost so far."""
        self.session = self.session.kept_from(keep_from, self.ledger, self.rate_at)
        dropped = self.ledger.prune(keep_from, self.rate_at, self.export_rate_at)
        self.rates = {at: rate for at, rate in self.rates.items() if at >= keep_from}
        self.export_rates = {at: r for at, r in self.export_rates.items() if at >= keep_from}
        return dropped

    def session_cost(self) -> Decimal:
        """The session's cost so far, in pence."""
        return self.session.cost(self.ledger, self.rate_at)
