"""One meter's half-hour ledger: every total and every statistic is derived from it. No I/O.

Buckets are UTC-aligned half hours, as tariffs and Kraken's HALF_HOURLY rows are. A bucket is
*provisional* while it is built from 10-second readings (each reading kept by its time, so a
reading seen twice, late or out of order counts once) and *final* once Kraken's own
HALF_HOURLY row has replaced it. Buckets Home Assistant could not see (it was down, or
polling was held back) are *pending* until such a row fills them.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from .api import TelemetryReading

BUCKET = timedelta(minutes=30)
#: A HALF_HOURLY row is final once its half hour ended this long ago (Kraken publishes late,
#: occasionally by minutes).
FINAL_AFTER = timedelta(minutes=10)
#: Readings of a bucket stay individually known this long after it ends (late arrivals).
SEAL_AFTER = timedelta(minutes=10)
#: A reading further than this from the one before spans a Mini outage (its delta covers it).
OUTAGE_GAP = timedelta(seconds=60)

#: Shares are kept just before the reading that ends their gap (no reading is this close).
_TICK = timedelta(microseconds=1)

type RateLookup = Callable[[datetime], Decimal | None]
ZERO = Decimal(0)


def bucket_start(at: datetime) -> datetime:
    """The UTC half hour containing ``at``."""
    epoch = int(at.timestamp()) // 1800 * 1800
    return datetime.fromtimestamp(epoch, UTC)


def half_hours(start: datetime, end: datetime) -> Iterator[datetime]:
    """Starts of the half hours overlapping [start, end)."""
    cursor = bucket_start(start)
    while cursor < end:
        yield cursor
        cursor += BUCKET


@dataclass(slots=True)
class Bucket:
    """Energy and money of one half hour."""

    import_wh: Decimal = ZERO
    #: Octopus's own cost incl. VAT for the readings that carried one.
    cost_pence: Decimal = ZERO
    #: Energy whose reading had no cost: priced at this half hour's unit rate when derived.
    unpriced_wh: Decimal = ZERO
    #: The export register at the newest reading of the half hour, and that reading's time.
    export_end_wh: Decimal | None = None
    export_end_at: datetime | None = None
    final: bool = False
    #: Kraken has no reading at all for this half hour (the Mini was offline).
    empty: bool = False
    #: A final bucket's own HALF_HOURLY row: (Wh, priced pence, unpriced Wh), before spreading.
    row: tuple[Decimal, Decimal, Decimal] | None = None
    #: Of ``import_wh``, what was shared into it from a gap (an estimate by time).
    shared_wh: Decimal = ZERO
    #: Provisional portions by reading time: (Wh, pence or None). None once sealed.
    portions: dict[datetime, tuple[Decimal, Decimal | None]] | None = field(default_factory=dict)

    def add_portion(self, read_at: datetime, wh: Decimal, cost: Decimal | None) -> bool:
        """Count a reading's share once; False if it was already counted or the bucket is closed."""
        if self.final or self.portions is None or read_at in self.portions:
            return False
        self.portions[read_at] = (wh, cost)
        self.add_share(wh, cost)
        return True

    def add_share(self, wh: Decimal, cost: Decimal | None, until: datetime | None = None) -> None:
        """Energy that belongs here but to no one reading of it (spread over a gap).

        ``until``: the end of the gap. While the half hour is provisional the share is kept
        among its portions just before then, so that a session started after the gap leaves it
        out (though a register revealed it later)."""
        if until is not None and self.portions is not None:
            key = until - _TICK
            while key in self.portions:
                key -= _TICK
            self.portions[key] = (wh, cost)
        self.import_wh += wh
        if cost is None:
            self.unpriced_wh += wh
        else:
            self.cost_pence += cost

    def cost(self, rate: Decimal | None) -> Decimal | None:
        """Cost incl. VAT in pence; None while unpriced energy has no known rate."""
        if not self.unpriced_wh:
            return self.cost_pence
        if rate is None:
            return None
        return self.cost_pence + self.unpriced_wh / 1000 * rate


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over a range of buckets."""

    import_wh: Decimal
    cost_pence: Decimal
    export_wh: Decimal
    #: False when some energy in the range has no price yet (its cost is left out).
    priced: bool = True
    #: What the export earned at the export tariff's rates (pence; 0 without a lookup).
    earnings_pence: Decimal = ZERO
    #: False when some export in the range has no export rate yet (left out of earnings).
    earned: bool = True


class Ledger:
    """Half-hour buckets of one meter, and the half hours still to be filled from Kraken."""

    def __init__(self) -> None:
        """An empty ledger."""
        self.buckets: dict[datetime, Bucket] = {}
        #: The buckets' starts in order, for range sums without sorting.
        self._starts: list[datetime] = []
        self.pending: set[datetime] = set()
        #: Half hours no row may settle: a meter was exchanged within them, and the new meter's
        #: row lacks the old meter's part (this run; their readings are the whole record).
        self.rowless: set[datetime] = set()
        #: The export register at the end of the newest half hour pruned away.
        self.export_anchor: Decimal | None = None
        #: Earliest bucket changed since the statistics last took the changes.
        self.changed_from: datetime | None = None
        #: Whether any half hour ever held an export register (most meters never report one).
        self.exporting = False

    @classmethod
    def of(
        cls,
        buckets: dict[datetime, Bucket],
        pending: set[datetime],
        export_anchor: Decimal | None = None,
    ) -> Ledger:
        """A ledger holding ``buckets`` (as stored)."""
        ledger = cls()
        ledger.buckets = dict(buckets)
        ledger._starts = sorted(buckets)
        ledger.pending = set(pending)
        ledger.export_anchor = export_anchor
        ledger.exporting = any(b.export_end_wh is not None for b in buckets.values())
        return ledger

    # Writing ------------------------------------------------------------------------------

    def touch(self, start: datetime) -> Bucket:
        """The half hour starting ``start``, created if new, marked changed."""
        if self.changed_from is None or start < self.changed_from:
            self.changed_from = start
        if (bucket := self.buckets.get(start)) is None:
            bucket = self.buckets[start] = Bucket()
            insort(self._starts, start)
        return bucket

    def between(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, Bucket]]:
        """Buckets starting in [start, end), in order."""
        starts = self._starts
        for index in range(bisect_left(starts, start), bisect_left(starts, end)):
            yield starts[index], self.buckets[starts[index]]

    def _export_before_at(self, start: datetime) -> tuple[datetime | None, Decimal | None]:
        """The newest bucket before ``start`` with an export register, and that register
        (no time: the anchor left by pruning)."""
        if not self.exporting:
            return None, self.export_anchor
        starts = self._starts
        for index in range(bisect_left(starts, start) - 1, -1, -1):
            if (value := self.buckets[starts[index]].export_end_wh) is not None:
                return starts[index], value
        return None, self.export_anchor

    def add_reading(
        self, reading: TelemetryReading, cost: Decimal | None, since: datetime | None = None
    ) -> Decimal:
        """Count a 10-s reading's energy and cost once; returns the Wh newly counted.

        ``since`` is the previous reading's time when this reading's delta spans a Mini
        outage: the energy is then shared over (since, read_at] by time.
        """
        wh = reading.consumption_delta_wh
        if wh is None:
            return ZERO
        end = reading.read_at
        if since is not None and end - since > OUTAGE_GAP:
            return self.spread(since, end, wh, cost)
        bucket = self.buckets.get(start := bucket_start(end))
        if bucket is not None and bucket.final:
            return ZERO
        target = self.touch(start)
        if target.portions is None:  # sealed: the caller knows the reading is new
            target.add_share(wh, cost)
            return wh
        return wh if target.add_portion(end, wh, cost) else ZERO

    def spread(
        self, since: datetime, end: datetime, wh: Decimal, cost: Decimal | None = None
    ) -> Decimal:
        """Energy known to lie in (since, end], not when: shared by time over the half hours.

        Half hours Kraken has final rows for take no share (theirs is known). When the share
        crosses a half hour, the split is a guess: those half hours become pending, so that
        Kraken's rows settle them where it has any.
        """
        span = Decimal((end - since).total_seconds())
        shares = []
        for start in half_hours(since, end + timedelta(microseconds=1)):
            overlap = min(end, start + BUCKET) - max(since, start)
            bucket = self.buckets.get(start)
            if overlap.total_seconds() > 0 and (bucket is None or not bucket.final or bucket.empty):
                shares.append((start, Decimal(overlap.total_seconds()) / span))
        if not shares:
            return ZERO
        # Half hours with a row take no share: the rest holds the whole of it (a row that
        # lacked it is settled against the estimate when the next rows come, see _carry).
        whole = sum((share for _, share in shares), ZERO)
        for start, share in shares:
            part = share / whole
            target = self.touch(start)
            target.add_share(wh * part, None if cost is None else cost * part, end)
            target.shared_wh += wh * part
        if len(shares) > 1:
            self.mark_pending(since, end)
        return wh

    def add_export(self, read_at: datetime, register_wh: Decimal) -> None:
        """An accepted export register reading: the newest of its half hour ends the bucket."""
        start = bucket_start(read_at)
        bucket = self.buckets.get(start)
        if bucket is not None and bucket.final:
            return
        if bucket is None or bucket.export_end_at is None or read_at > bucket.export_end_at:
            bucket = self.touch(start)
            bucket.export_end_at = read_at
            bucket.export_end_wh = register_wh
            self.exporting = True
            # Half hours without a register before it share its move: their hours change too.
            before = start - BUCKET
            while before in self.buckets and self._unreported(before):
                self.touch(before)
                before -= BUCKET

    def mark_pending(self, start: datetime, end: datetime) -> None:
        """Half hours in [start, end) that Home Assistant did not see: fill them from Kraken."""
        for bucket in half_hours(start, end):
            if bucket in self.rowless:
                continue
            if not (existing := self.buckets.get(bucket)) or not existing.final:
                self.pending.add(bucket)

    def next_fill(
        self, now: datetime, heard_until: datetime | None = None, max_buckets: int = 48
    ) -> tuple[datetime, datetime] | None:
        """The newest run of complete pending half hours to ask for, at most a day of them.

        ``heard_until``: the newest reading of a Mini that reports every 10 s. A half hour it
        has not reported past may still be uploaded (a Mini back from an outage sends what it
        kept): its row is not asked for before.
        """
        if not self.pending:
            return None
        newest_ready = now - BUCKET - FINAL_AFTER
        if heard_until is not None:
            newest_ready = min(newest_ready, heard_until - BUCKET)
        newest = max(self.pending)
        if newest > newest_ready:
            ready = [b for b in self.pending if b <= newest_ready]
            if not ready:
                return None
            newest = max(ready)
        end = newest + BUCKET
        return max(min(self.pending), end - BUCKET * max_buckets), end

    def drop_pending(self, start: datetime, end: datetime) -> None:
        """Stop asking for [start, end)."""
        self.pending = {b for b in self.pending if not start <= b < end}

    def give_up(self, before: datetime) -> None:
        """Kraken no longer holds the half hours before ``before``: stop asking for them."""
        self.pending = {b for b in self.pending if b >= before}

    def seal(self, now: datetime) -> None:
        """Forget the individual readings of half hours that ended a while ago."""
        for _, bucket in self.between(datetime.min.replace(tzinfo=UTC), now - BUCKET - SEAL_AFTER):
            bucket.portions = None

    def prune(
        self, keep_from: datetime, rate: RateLookup, export_rate: RateLookup | None = None
    ) -> Totals:
        """Drop half hours before ``keep_from``; returns what they held (for running sums)."""
        dropped = self.totals(datetime.min.replace(tzinfo=UTC), keep_from, rate, export_rate)
        self.export_anchor = self._export_before_at(keep_from)[1]
        cut = bisect_left(self._starts, keep_from)
        for start in self._starts[:cut]:
            del self.buckets[start]
        del self._starts[:cut]
        self.pending = {b for b in self.pending if b >= keep_from}
        return dropped

    def take_changes(self) -> datetime | None:
        """The earliest half hour changed since the last call."""
        changed, self.changed_from = self.changed_from, None
        return changed

    # Reading ------------------------------------------------------------------------------

    def totals(
        self,
        start: datetime,
        end: datetime,
        rate: RateLookup,
        export_rate: RateLookup | None = None,
    ) -> Totals:
        """Energy, cost, export and (with ``export_rate``) export earnings of the half hours
        starting in [start, end)."""
        energy = cost = ZERO
        priced = True
        for at, bucket in self.between(start, end):
            energy += bucket.import_wh
            bucket_cost = bucket.cost(rate(at) if bucket.unpriced_wh else None)
            if bucket_cost is None:
                priced = False
                bucket_cost = bucket.cost_pence
            cost += bucket_cost
        export = earnings = ZERO
        earned = True
        for at, wh in self.exports(start, end):
            export += wh
            if export_rate is None:
                continue
            if (paid := export_rate(at)) is None:
                earned = False
            else:
                earnings += wh / 1000 * paid
        return Totals(energy, cost, export, priced, earnings, earned)

    def exports(self, start: datetime, end: datetime) -> list[tuple[datetime, Decimal]]:
        """Export (Wh) of each half hour starting in [start, end) that exported.

        A half hour's export is its register's move since the last half hour with one. When
        the half hours in between are still to be filled or Kraken has no row for them (the
        Mini was offline), the move is shared evenly over them and the half hour that revealed
        it, as import's is (by time); their rows, where they come, settle it.
        """
        if not self.exporting:
            return []
        prev_at, previous = self._export_before_at(start)
        found: list[tuple[datetime, Decimal]] = []
        starts = self._starts
        for index in range(bisect_left(starts, start), len(starts)):
            at = starts[index]
            bucket = self.buckets[at]
            if bucket.export_end_wh is None:
                if at >= end and not self._unreported(at):
                    break  # past the range, and no run of unknown half hours goes on
                continue
            if previous is not None:
                moved = max(ZERO, bucket.export_end_wh - previous)
                if prev_at is None or prev_at + BUCKET == at:  # the usual case: next door
                    if at < end:
                        found.append((at, moved))
                else:
                    between = list(half_hours(prev_at + BUCKET, at))
                    parts = [*between, at] if all(map(self._unreported, between)) else [at]
                    share = moved / len(parts)
                    found.extend((part, share) for part in parts if start <= part < end)
            prev_at, previous = at, bucket.export_end_wh
            if at >= end:
                break
        return [(at, wh) for at, wh in found if wh]

    def _unreported(self, at: datetime) -> bool:
        """A half hour nothing was read in: never seen, to be filled, or without a row."""
        bucket = self.buckets.get(at)
        if bucket is None:
            return True
        if bucket.export_end_wh is not None:
            return False
        return at in self.pending or (bucket.final and bucket.empty)

    def held(self, start: datetime, end: datetime) -> int:
        """How many half hours in [start, end) the ledger holds (not waiting to be filled)."""
        return sum(1 for at, _ in self.between(start, end) if at not in self.pending)

    def unpriced(self, start: datetime, end: datetime) -> list[datetime]:
        """Half hours in [start, end) holding energy without a cost (pending ones get rows)."""
        return [
            at
            for at, bucket in self.between(start, end)
            if bucket.unpriced_wh and at not in self.pending
        ]
