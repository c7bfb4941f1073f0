"""Kraken's rows settling the ledger (settle.py), on the pure ledger: the edges of a range."""

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from custom_components.octopus_home_mini.api import TelemetryReading
from custom_components.octopus_home_mini.ledger import BUCKET, Ledger
from custom_components.octopus_home_mini.settle import apply_rows
from tests.test_ledger import T0, reading


def _row(start: datetime, wh: int) -> TelemetryReading:
    """The HALF_HOURLY row of the half hour starting ``start``."""
    return replace(reading(start, 0, wh, None), consumption_wh=None)


def _cost(_: TelemetryReading) -> Decimal | None:
    return None


LATE = T0 + timedelta(days=1)  # every row is final by then


def test_only_pending_leaves_half_hours_live_readings_cover() -> None:
    """A fill's rows settle the half hours it was asked for, not the ones read live."""
    ledger = Ledger()
    ledger.add_reading(reading(T0 + timedelta(minutes=5), 1, 40), None)
    ledger.mark_pending(T0 + BUCKET, T0 + 2 * BUCKET)
    rows = [_row(T0, 999), _row(T0 + BUCKET, 70)]
    apply_rows(ledger, T0, T0 + 2 * BUCKET, rows, _cost, LATE, only_pending=True)
    assert ledger.buckets[T0].import_wh == 40  # live: left alone
    assert not ledger.buckets[T0].final
    assert ledger.buckets[T0 + BUCKET].import_wh == 70
    assert ledger.pending == set()


def test_rows_stop_at_live_half_hours_after_the_range() -> None:
    """Rebuilding an outage stops at the first half hour still read live after the range."""
    ledger = Ledger()
    ledger.add_reading(reading(T0 + 3 * BUCKET + timedelta(minutes=1), 1, 25), None)
    apply_rows(ledger, T0, T0 + 2 * BUCKET, [_row(T0, 10), _row(T0 + BUCKET, 20)], _cost, LATE)
    assert [ledger.buckets[T0 + k * BUCKET].import_wh for k in (0, 1, 3)] == [10, 20, 25]
    assert not ledger.buckets[T0 + 3 * BUCKET].final


def test_a_row_after_an_outage_the_register_shared_keeps_its_own_part() -> None:
    """The register shared an outage over its half hours; the row after it, already applied,
    holds the outage too: the shares stay, the row's half hour keeps only its own part."""
    ledger = Ledger()
    apply_rows(ledger, T0, T0 + BUCKET, [_row(T0, 100)], _cost, LATE)
    ledger.spread(T0 + BUCKET, T0 + 3 * BUCKET, Decimal(300))  # 150 Wh in each half hour
    after = T0 + 3 * BUCKET
    apply_rows(ledger, after, after + BUCKET, [_row(after, 350)], _cost, LATE)  # 300 + its 50
    apply_rows(ledger, T0 + BUCKET, after, [], _cost, LATE)  # no rows for the outage
    shown = [ledger.buckets[T0 + k * BUCKET].import_wh for k in range(4)]
    assert shown == [100, 150, 150, 50]
    assert ledger.totals(T0, after + BUCKET, lambda _: None).import_wh == 100 + 350
