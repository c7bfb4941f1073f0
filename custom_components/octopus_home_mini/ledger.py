"""One meter's half-hour ledger: every total and every statistic is derived from it. No I/O.

Buckets are UTC-aligned half hours, as tariffs and Kraken's HALF_HOURLY rows are. A bucket is
*provisional* while it is built from 10-second readings (each reading kept by its time, so a
reading seen twice, late or out of order counts once) and *final* once Kraken's own
HALF_HOURLY row has replaced it. Buckets Home Assistant could not see (it was down, or
polling was held back) are *pending* until such a row fills them.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator
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

#: Less than this between a half hour's content and its row is rounding, not a gap's share.
CARRY_OVER_WH = Decimal("0.5")

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

    def add_share(self, wh: Decimal, cost: Decimal | None) -> None:
        """Energy that belongs here but to no one reading of it (spread over a gap)."""
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


@dataclass(frozen=True, slots=True)
class HourTotals:
    """One complete UTC hour, for the long-term statistics."""

    start: datetime
    import_wh: Decimal
    cost_pence: Decimal
    export_wh: Decimal
    earnings_pence: Decimal = ZERO


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
        self._exports = False

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
        ledger._exports = any(b.export_end_wh is not None for b in buckets.values())
        return ledger

    # Writing ------------------------------------------------------------------------------

    def _touch(self, start: datetime) -> Bucket:
        if self.changed_from is None or start < self.changed_from:
            self.changed_from = start
        if (bucket := self.buckets.get(start)) is None:
            bucket = self.buckets[start] = Bucket()
            insort(self._starts, start)
        return bucket

    def _range(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, Bucket]]:
        """Buckets starting in [start, end), in order."""
        starts = self._starts
        for index in range(bisect_left(starts, start), bisect_left(starts, end)):
            yield starts[index], self.buckets[starts[index]]

    def _export_before_at(self, start: datetime) -> tuple[datetime | None, Decimal | None]:
        """The newest bucket before ``start`` with an export register, and that register
        (no time: the anchor left by pruning)."""
        if not self._exports:
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
        target = self._touch(start)
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
            target = self._touch(start)
            target.add_share(wh * part, None if cost is None else cost * part)
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
            bucket = self._touch(start)
            bucket.export_end_at = read_at
            bucket.export_end_wh = register_wh
            self._exports = True
            # Half hours without a register before it share its move: their hours change too.
            before = start - BUCKET
            while before in self.buckets and self._unreported(before):
                self._touch(before)
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

    def apply_rows(
        self,
        start: datetime,
        end: datetime,
        rows: Iterable[TelemetryReading],
        cost_of: Callable[[TelemetryReading], Decimal | None],
        now: datetime,
        *,
        missing_after: timedelta = FINAL_AFTER,
        rows_whole: bool = False,
        only_pending: bool = False,
    ) -> None:
        """Kraken's HALF_HOURLY rows for [start, end): complete half hours become final.

        A half hour still without a row ``missing_after`` its end had no reading at all; the
        energy of such an outage arrives in the next row, and is spread evenly over the
        outage's half hours. ``rows_whole``: a row is never partial (gas reports once).
        ``only_pending``: leave half hours that live readings already cover alone.
        """
        by_start = {bucket_start(row.read_at): row for row in rows}
        for bucket_at in half_hours(start, end):
            ended = bucket_at + BUCKET
            known = bucket_at in by_start and (rows_whole or ended + FINAL_AFTER <= now)
            if not known and ended + missing_after > now:
                continue
            if only_pending and bucket_at not in self.pending:
                continue
            self.pending.discard(bucket_at)
            row = by_start.get(bucket_at)
            bucket = self._touch(bucket_at)
            if row is not None and not bucket.final:
                self._carry(bucket_at, bucket, row)
            bucket.portions = None
            if row is not None:  # a half hour without a row keeps a gap's estimate (see _clear)
                bucket.shared_wh = ZERO
            bucket.final = True
            bucket.empty = row is None
            bucket.export_end_wh = bucket.export_end_at = None
            bucket.row = None
            if row is None:
                continue
            wh = row.consumption_delta_wh or ZERO
            cost = cost_of(row)
            bucket.row = (wh, ZERO, wh) if cost is None else (wh, cost, ZERO)
            if row.export_wh is not None:
                bucket.export_end_wh = row.export_wh
                self._exports = True
                bucket.export_end_at = bucket_at + BUCKET - timedelta(seconds=10)
        self._spread_outages(start, end)

    def _carry(self, start: datetime, bucket: Bucket, row: TelemetryReading) -> None:
        """What a row settles differently from a half hour's estimate moves to the next open one.

        A gap's share was spread by time; Kraken's row may hold less (the first row after an
        outage carries the whole outage) or more. The difference goes to the next half hour
        still open, so a total never jumps while rows arrive; that half hour's own row settles
        it in turn.
        """
        wh = row.consumption_delta_wh or ZERO
        if abs(bucket.shared_wh) <= CARRY_OVER_WH:
            return  # nothing here was an estimate: the row only adds what was not known
        surplus = bucket.import_wh - wh
        if abs(surplus) <= CARRY_OVER_WH:
            return
        for at in self._starts[bisect_left(self._starts, start + BUCKET) :]:
            target = self.buckets[at]
            if not target.final:
                self._touch(at)
                target.import_wh += surplus
                target.shared_wh += surplus
                target.unpriced_wh += surplus  # priced at that half hour's own rate
                return

    def _spread_outages(self, start: datetime, end: datetime) -> None:
        """Rebuild [start, end) from the rows: a row after half hours without one is shared.

        Recomputed from the rows each time, so applying the same rows again changes nothing.
        """
        cursor = bucket_start(start)
        while (earlier := self.buckets.get(cursor - BUCKET)) is not None and earlier.empty:
            cursor -= BUCKET  # an outage that began before the range
        run: list[datetime] = []
        for at, bucket in self._range(cursor, end + BUCKET * 48):
            if not bucket.final:  # live readings: what a gap's share left there stays
                run = []
                if at >= end:
                    break
                continue
            if bucket.empty:
                run.append(at)
                continue
            before = self.buckets.get((run[0] if run else at) - BUCKET)
            bounded = bool(run) and before is not None and before.final and not before.empty
            spread = [*run, at] if bounded and run[-1] + BUCKET == at else [at]
            wh, cost, unpriced = bucket.row or (ZERO, ZERO, ZERO)
            if len(spread) > 1 and all(self.buckets[part].shared_wh for part in run):
                # The register already shared this outage over its half hours (by time): they
                # keep that, and the row's half hour keeps its own part of the row.
                self._own_part(at, (wh, cost, unpriced), run)
                run = []
                if at >= end:
                    break
                continue
            share = Decimal(1) / len(spread)
            for part in spread:
                target = self._touch(part)
                target.import_wh, target.cost_pence = wh * share, cost * share
                target.unpriced_wh = unpriced * share
                target.shared_wh = ZERO  # the row settles it
            for part in run if len(spread) == 1 else []:
                self._clear(part)
            run = []
            if at >= end:
                break
        for part in run:
            self._clear(part)

    def _own_part(
        self, at: datetime, row: tuple[Decimal, Decimal, Decimal], run: list[datetime]
    ) -> None:
        """The row after an outage the register already shared over ``run``.

        When the row holds more than was shared, it carries the outage too (what the first
        delta after a gap covered): the shares keep their energy, priced as the row was, and
        the row's half hour keeps the rest. Else the row is that half hour's own energy only.
        """
        wh, cost, unpriced = row
        shared = sum((self.buckets[part].import_wh for part in run), ZERO)
        own = wh - shared if wh >= shared else wh
        if wh >= shared and wh:
            for part in run:
                target = self._touch(part)
                ratio = target.import_wh / wh
                target.cost_pence, target.unpriced_wh = cost * ratio, unpriced * ratio
        ratio = own / wh if wh else ZERO
        target = self._touch(at)
        target.import_wh, target.cost_pence = own, cost * ratio
        target.unpriced_wh = unpriced * ratio

    def _clear(self, at: datetime) -> None:
        """A half hour without a row whose energy no row carries: nothing, unless a register
        gap put its estimate there (that stays: no row will ever say otherwise)."""
        bucket = self._touch(at)
        if bucket.shared_wh:
            return
        bucket.import_wh = bucket.cost_pence = bucket.unpriced_wh = ZERO

    def seal(self, now: datetime) -> None:
        """Forget the individual readings of half hours that ended a while ago."""
        for _, bucket in self._range(datetime.min.replace(tzinfo=UTC), now - BUCKET - SEAL_AFTER):
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
        for at, bucket in self._range(start, end):
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
        if not self._exports:
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
        return sum(1 for at, _ in self._range(start, end) if at not in self.pending)

    def portion_before(self, at: datetime) -> tuple[Decimal, Decimal, Decimal]:
        """Of ``at``'s half hour: (Wh, priced pence, unpriced Wh) of readings up to ``at``."""
        bucket = self.buckets.get(bucket_start(at))
        wh = cost = unpriced = ZERO
        if bucket is None or bucket.portions is None:
            return wh, cost, unpriced
        for read_at, (part_wh, part_cost) in bucket.portions.items():
            if read_at <= at:
                wh += part_wh
                if part_cost is None:
                    unpriced += part_wh
                else:
                    cost += part_cost
        return wh, cost, unpriced

    def hours(
        self,
        start: datetime,
        end: datetime,
        rate: RateLookup,
        export_rate: RateLookup | None = None,
    ) -> list[HourTotals]:
        """Totals of each UTC hour in [start, end) (both bounds on the hour)."""
        found = []
        cursor = start
        while cursor < end:
            totals = self.totals(cursor, cursor + 2 * BUCKET, rate, export_rate)
            found.append(
                HourTotals(
                    cursor,
                    totals.import_wh,
                    totals.cost_pence,
                    totals.export_wh,
                    totals.earnings_pence,
                )
            )
            cursor += 2 * BUCKET
        return found

    def unpriced(self, start: datetime, end: datetime) -> list[datetime]:
        """Half hours in [start, end) holding energy without a cost (pending ones get rows)."""
        return [
            at
            for at, bucket in self._range(start, end)
            if bucket.unpriced_wh and at not in self.pending
        ]
