"""Kraken's HALF_HOURLY rows settle the ledger's half hours. No I/O.

A half hour becomes *final* with its own row. What its row says differently from an estimate
(a gap's share spread by time) moves on to the next open half hour, and a row that follows
half hours without one (the Mini was offline) carries their energy: it is shared over them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from .api import TelemetryReading
from .ledger import BUCKET, FINAL_AFTER, ZERO, Bucket, Ledger, bucket_start, half_hours

#: Less than this between a half hour's content and its row is rounding, not a gap's share.
CARRY_OVER_WH = Decimal("0.5")
FOREVER = datetime.max.replace(tzinfo=UTC)


def apply_rows(
    ledger: Ledger,
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
        if only_pending and bucket_at not in ledger.pending:
            continue
        ledger.pending.discard(bucket_at)
        row = by_start.get(bucket_at)
        bucket = ledger.touch(bucket_at)
        if row is not None and not bucket.final:
            _carry(ledger, bucket_at, bucket, row)
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
            ledger.exporting = True
            bucket.export_end_at = bucket_at + BUCKET - timedelta(seconds=10)
    _spread_outages(ledger, start, end)


def _carry(ledger: Ledger, start: datetime, bucket: Bucket, row: TelemetryReading) -> None:
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
    for at, target in ledger.between(start + BUCKET, FOREVER):
        if not target.final:
            ledger.touch(at)
            target.import_wh += surplus
            target.shared_wh += surplus
            target.unpriced_wh += surplus  # priced at that half hour's own rate
            return


def _spread_outages(ledger: Ledger, start: datetime, end: datetime) -> None:
    """Rebuild [start, end) from the rows: a row after half hours without one is shared.

    Recomputed from the rows each time, so applying the same rows again changes nothing.
    """
    cursor = bucket_start(start)
    while (earlier := ledger.buckets.get(cursor - BUCKET)) is not None and earlier.empty:
        cursor -= BUCKET  # an outage that began before the range
    run: list[datetime] = []
    for at, bucket in ledger.between(cursor, end + BUCKET * 48):
        if not bucket.final:  # live readings: what a gap's share left there stays
            run = []
            if at >= end:
                break
            continue
        if bucket.empty:
            run.append(at)
            continue
        before = ledger.buckets.get((run[0] if run else at) - BUCKET)
        bounded = bool(run) and before is not None and before.final and not before.empty
        spread = [*run, at] if bounded and run[-1] + BUCKET == at else [at]
        wh, cost, unpriced = bucket.row or (ZERO, ZERO, ZERO)
        if len(spread) > 1 and all(ledger.buckets[part].shared_wh for part in run):
            # The register already shared this outage over its half hours (by time): they
            # keep that, and the row's half hour keeps its own part of the row.
            _own_part(ledger, at, (wh, cost, unpriced), run)
            run = []
            if at >= end:
                break
            continue
        share = Decimal(1) / len(spread)
        for part in spread:
            target = ledger.touch(part)
            target.import_wh, target.cost_pence = wh * share, cost * share
            target.unpriced_wh = unpriced * share
            target.shared_wh = ZERO  # the row settles it
        for part in run if len(spread) == 1 else []:
            _clear(ledger, part)
        run = []
        if at >= end:
            break
    for part in run:
        _clear(ledger, part)


def _own_part(
    ledger: Ledger, at: datetime, row: tuple[Decimal, Decimal, Decimal], run: list[datetime]
) -> None:
    """The row after an outage the register already shared over ``run``.

    When the row holds more than was shared, it carries the outage too (what the first
    delta after a gap covered): the shares keep their energy, priced as the row was, and
    the row's half hour keeps the rest. Else the row is that half hour's own energy only.
    """
    wh, cost, unpriced = row
    shared = sum((ledger.buckets[part].import_wh for part in run), ZERO)
    own = wh - shared if wh >= shared else wh
    if wh >= shared and wh:
        for part in run:
            target = ledger.touch(part)
            ratio = target.import_wh / wh
            target.cost_pence, target.unpriced_wh = cost * ratio, unpriced * ratio
    ratio = own / wh if wh else ZERO
    target = ledger.touch(at)
    target.import_wh, target.cost_pence = own, cost * ratio
    target.unpriced_wh = unpriced * ratio


def _clear(ledger: Ledger, at: datetime) -> None:
    """A half hour without a row whose energy no row carries: nothing, unless a register
    gap put its estimate there (that stays: no row will ever say otherwise)."""
    bucket = ledger.touch(at)
    if bucket.shared_wh:
        return
    bucket.import_wh = bucket.cost_pence = bucket.unpriced_wh = ZERO
