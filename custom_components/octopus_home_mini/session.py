"""A cost session: what the meter cost since *Reset session* was pressed, from the ledger. No I/O.

The session counts from the half hour the press fell in, less what that half hour held
before the press; what leaves the ledger (pruned) is carried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .ledger import ZERO, Ledger, RateLookup, bucket_start


def portion_before(ledger: Ledger, at: datetime) -> tuple[Decimal, Decimal, Decimal]:
    """Of ``at``'s half hour: (Wh, priced pence, unpriced Wh) of readings up to ``at``."""
    bucket = ledger.buckets.get(bucket_start(at))
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

    @classmethod
    def begin(cls, ledger: Ledger, now: datetime) -> Session:
        """A new session: zero, counting readings taken after ``now``."""
        _, cost, unpriced = portion_before(ledger, now)
        return cls(started=now, counts_from=now, offset_pence=cost, offset_unpriced_wh=unpriced)

    def kept_from(self, keep_from: datetime, ledger: Ledger, rate: RateLookup) -> Session:
        """This session once the half hours before ``keep_from`` leave the ledger."""
        if bucket_start(self.counts_from) >= keep_from:
            return self
        before = self.cost(ledger, rate)
        kept = Session(started=self.started, counts_from=keep_from)
        kept.carried_pence = before - kept.cost(ledger, rate)
        return kept

    def cost(self, ledger: Ledger, rate: RateLookup) -> Decimal:
        """The session's cost so far, in pence."""
        start = bucket_start(self.counts_from)
        bucket = ledger.buckets.get(start)
        if bucket is not None and bucket.portions is not None:
            # Readings of the start's half hour may still arrive: keep the split current.
            _, self.offset_pence, self.offset_unpriced_wh = portion_before(ledger, self.counts_from)
            self.offset_by_time = False
        totals = ledger.totals(start, datetime.max.replace(tzinfo=start.tzinfo), rate)
        offset = self.offset_pence
        if self.offset_by_time and bucket is not None:
            share = Decimal((self.counts_from - start).total_seconds()) / 1800
            offset = (bucket.cost(rate(start)) or bucket.cost_pence) * share
        if self.offset_unpriced_wh and (unit := rate(start)) is not None:
            offset += self.offset_unpriced_wh / 1000 * unit
        return totals.cost_pence - offset + self.carried_pence
