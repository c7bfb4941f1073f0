"""Turning a meter's true 10-second samples into ``smartMeterTelemetry`` rows.

What the API reports differs from the truth in two ways: slots inside a stale window were
never uploaded (gaps), and glitches replace the ``consumption`` (or null the cost) of single
samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .household import MeterModel, slot_time

GROUPING_SLOTS = {
    "TEN_SECONDS": 1,
    "ONE_MINUTE": 6,
    "FIVE_MINUTES": 30,
    "HALF_HOURLY": 180,
    "HOURLY": 360,
}
MAX_ROWS = 10_000
FOREVER = 2**62  # end slot of a stale window that is still open
GLITCH_KINDS = ("zero", "decrease", "null", "null_cost", "negative_delta")
#: What the first delta after a gap covers: the whole gap (consecutive registers differ by the
#: delta, API.md §7) or only its own 10 s (seen in another model of the API) [UNKNOWN].
GAP_DELTAS = ("whole", "own")
_TENTH = Decimal("0.1")


class TooManyRowsError(Exception):
    """The response would exceed the API's node limit."""


@dataclass(frozen=True, slots=True)
class Gaps:
    """Slots that were never uploaded: sorted, non-overlapping [first, end) windows."""

    windows: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, windows: Iterable[tuple[int, int]]) -> Gaps:
        """Sort and merge windows."""
        merged: list[tuple[int, int]] = []
        for first, end in sorted(w for w in windows if w[0] < w[1]):
            if merged and first <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((first, end))
        return cls(tuple(merged))

    def segments(self, first: int, end: int) -> list[tuple[int, int]]:
        """The uploaded parts of [first, end)."""
        parts, cursor = [], first
        for gap_first, gap_end in self.windows:
            if gap_end <= cursor or gap_first >= end:
                continue
            if gap_first > cursor:
                parts.append((cursor, gap_first))
            cursor = max(cursor, gap_end)
        if cursor < end:
            parts.append((cursor, end))
        return parts

    def reported_before(self, slot: int) -> int:
        """The newest uploaded slot strictly before ``slot``."""
        candidate = slot - 1
        for gap_first, gap_end in reversed(self.windows):
            if gap_first <= candidate < gap_end:
                candidate = gap_first - 1
        return candidate


def wh(value: int) -> Decimal:
    """A register or delta in Wh as the API renders it: "22905794.0", zero as "0E+1"."""
    return Decimal("0E+1") if value == 0 else Decimal(value).quantize(_TENTH)


def _row(
    meter: MeterModel,
    read_at_slot: int,
    segments: list[tuple[int, int]],
    previous: int,
    glitches: Mapping[int, str],
) -> dict[str, Any]:
    count = sum(end - first for first, end in segments)
    demand = sum(meter.demand_sum(first, end - 1) for first, end in segments)
    last = segments[-1][1] - 1
    register = meter.register(last)
    consumption: Decimal | None = Decimal(register).quantize(_TENTH)
    glitch = glitches.get(last)
    delta = wh(register - meter.register(previous))
    match glitch:
        case "zero":
            consumption = Decimal("0.0")
        case "negative_delta":  # as served once by Kraken: a zero register, a huge negative delta
            consumption, delta = Decimal("0.0"), -Decimal(register).quantize(_TENTH)
        case "decrease":
            consumption = Decimal(register - 500).quantize(_TENTH)
        case "null":
            consumption = None
    cost = Decimal(meter.cost(last) - meter.cost(previous)).scaleb(-5)
    priced = glitch != "null_cost"  # Kraken sends a null cost now and then (API.md §4.3)
    exported = meter.export_register(last)
    return {
        "readAt": slot_time(read_at_slot),
        "consumption": consumption,
        "consumptionDelta": delta,
        "demand": (Decimal(demand) / count).quantize(_TENTH),
        "costDelta": cost if priced else None,
        "costDeltaWithTax": cost * meter.tariff.vat if priced else None,
        "export": None if exported is None else Decimal(exported).quantize(_TENTH),
    }


def range_rows(
    meter: MeterModel,
    gaps: Gaps,
    glitches: Mapping[int, str],
    first: int,
    end: int,
    size: int,
    gap_delta: str = "whole",
) -> list[dict[str, Any]]:
    """Rows for uploaded slots in [first, end), grouped in ``size``-slot UTC-aligned buckets."""
    rows: list[dict[str, Any]] = []
    cursor = first
    while cursor < end:
        bucket = cursor // size * size
        stop = min(end, bucket + size)
        segments = gaps.segments(cursor, stop)
        if segments:
            previous = _previous(gaps, segments[0][0], size, gap_delta)
            rows.append(_row(meter, bucket, segments, previous, glitches))
            if len(rows) > MAX_ROWS:
                raise TooManyRowsError
        cursor = stop
    return rows


def latest_row(
    meter: MeterModel,
    gaps: Gaps,
    glitches: Mapping[int, str],
    readable_end: int,
    gap_delta: str = "whole",
) -> dict[str, Any]:
    """The newest uploaded sample before slot ``readable_end``, as a TEN_SECONDS row."""
    last = gaps.reported_before(readable_end)
    return _row(meter, last, [(last, last + 1)], _previous(gaps, last, 1, gap_delta), glitches)


def _previous(gaps: Gaps, slot: int, size: int, gap_delta: str) -> int:
    """The slot whose register a row's delta starts from."""
    if gap_delta == "own" and size == 1:
        return slot - 1
    return gaps.reported_before(slot)
