"""Judging what the Home Mini reports before any of it reaches the ledger. No I/O.

A 10-second delta is checked against time (never negative, never more than a UK supply can
draw since the previous reading) and against the register's move. A register is the truth of
the totals: when it moved further than the deltas counted since the last accepted one (a Mini
outage, a rejected delta, an API whose first delta after a gap covers only its own 10 s), the
difference is a :class:`Gap` the ledger shares over the time in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
import logging

from .api import TelemetryReading
from .const import MAX_PLAUSIBLE_POWER_W

_LOGGER = logging.getLogger(__package__)

ZERO = Decimal(0)
#: A register agrees with the deltas counted since the last within 1 Wh plus 0.1 %: a delta is
#: the difference of two registers, so only their 0.1 Wh rendering differs.
TOLERANCE_WH = Decimal(1)
TOLERANCE_RATIO = Decimal("0.001")
#: A register that disagrees but stays self-consistent this long is followed (meter exchange).
FOLLOW_AFTER_READINGS = 30
FOLLOW_AFTER = timedelta(minutes=5)
#: Gaps remembered for late readings.
RECENT_GAPS = 8
#: The interval a reading's delta covers when nothing earlier is known.
SLOT = timedelta(seconds=10)


def supply_bound(elapsed: timedelta) -> Decimal:
    """The most energy (Wh) a UK supply can pass in ``elapsed``."""
    return MAX_PLAUSIBLE_POWER_W * Decimal(max(elapsed, SLOT).total_seconds()) / 3600


def tolerance(wh: Decimal) -> Decimal:
    """How far two counts of the same energy may differ."""
    return TOLERANCE_WH + abs(wh) * TOLERANCE_RATIO


@dataclass(frozen=True, slots=True)
class Gap:
    """Energy the register counted in (start, end] that no accepted delta did."""

    start: datetime
    end: datetime
    wh: Decimal


@dataclass(slots=True)
class RegisterGuard:
    """A cumulative register, taken only when it agrees with what was counted since the last.

    ``deltas``: the register has deltas to agree with (import); without them (export) any move
    a supply could make is taken. A lower register that keeps agreeing with itself is a new
    meter (an exchange) and is followed.
    """

    name: str
    deltas: bool = True
    accepted_at: datetime | None = None
    accepted_wh: Decimal | None = None
    #: Energy of the deltas counted after ``accepted_at``, and the newest of their times.
    counted_wh: Decimal = ZERO
    counted_until: datetime | None = None
    #: A disagreeing run that may be a new register: (first time, first Wh, readings, counted).
    candidate: tuple[datetime, Decimal, int, Decimal] | None = None
    #: A rise beyond the energy counted, seen once: (when, by how much); a second reading that
    #: agrees with it confirms it (a single glitched register never moves the totals).
    rise: tuple[datetime, Decimal] | None = None
    #: Recent gaps: a late reading inside one is already in its energy.
    gaps: list[Gap] = field(default_factory=list)
    #: When the register was last followed to a lower value (a meter exchange).
    exchanged_at: datetime | None = None
    _logged: bool = False

    def settled(self, read_at: datetime) -> bool:
        """Whether energy up to ``read_at`` is already counted by an accepted register."""
        return self.accepted_at is not None and read_at <= self.accepted_at

    def in_gap(self, read_at: datetime) -> bool:
        """Whether a reading's energy is already part of a gap the register revealed."""
        return any(gap.start < read_at <= gap.end for gap in self.gaps)

    def count(self, wh: Decimal, read_at: datetime) -> None:
        """A delta read at ``read_at``, after the accepted register, was counted."""
        self.counted_wh += wh
        if self.counted_until is None or read_at > self.counted_until:
            self.counted_until = read_at
        if self.candidate is not None:
            first_at, first_wh, readings, counted = self.candidate
            self.candidate = (first_at, first_wh, readings, counted + wh)

    def remaining(self, value: Decimal | None, read_at: datetime) -> Decimal | None:
        """How far a plausible register ``value`` moved beyond what was counted; else None."""
        if value is None or value <= 0 or self.accepted_at is None or self.accepted_wh is None:
            return None
        move = value - self.accepted_wh
        if move < 0 or move > supply_bound(read_at - self.accepted_at) + TOLERANCE_WH:
            return None
        return move - self.counted_wh

    def judge(self, read_at: datetime, value: Decimal | None) -> Gap | None:  # noqa: PLR0911
        """Take ``value`` read at ``read_at`` if it is plausible; the energy it adds, if any."""
        if self.settled(read_at):
            return None
        if value is None or value <= 0:  # a missing or zero register says nothing
            self._ignore(read_at, "missing" if value is None else "zero")
            return None
        if self.counted_until is not None and read_at < self.counted_until:
            return None  # a later delta is counted already: this register cannot be compared
        if self.accepted_at is None or self.accepted_wh is None:
            self._take(read_at, value)
            return None
        then, move = self.accepted_at, value - self.accepted_wh
        plausible = 0 <= move <= supply_bound(read_at - then) + TOLERANCE_WH
        missing = move - self.counted_wh
        if (not self.deltas and plausible) or abs(missing) <= tolerance(self.counted_wh):
            self._take(read_at, value)
            if self.deltas and missing > 0:  # a reading too small to doubt, not yet seen
                return self._remember(Gap(then, read_at, missing))
        elif self.deltas and plausible and missing > 0:
            return self._rise(then, read_at, value, missing)
        else:
            self._consider(read_at, value)
        return None

    def _rise(
        self, then: datetime, read_at: datetime, value: Decimal, missing: Decimal
    ) -> Gap | None:
        """The register moved further than counted: a gap, once a second reading agrees."""
        if self.rise is None or abs(missing - self.rise[1]) > tolerance(missing):
            self.rise = (read_at, missing)  # one reading could be a glitch: wait for the next
            return None
        gap = Gap(then, self.rise[0], missing)
        self._take(read_at, value)
        return self._remember(gap)

    def _remember(self, gap: Gap) -> Gap:
        self.gaps = [*self.gaps[-(RECENT_GAPS - 1) :], gap]
        return gap

    def _consider(self, read_at: datetime, value: Decimal) -> None:
        """A disagreeing register: start or extend the run that may be a new meter."""
        if self.candidate is not None:
            first_at, first_wh, readings, counted = self.candidate
            move = value - first_wh
            agrees = (
                abs(move - counted) <= tolerance(counted)
                if self.deltas
                else 0 <= move <= supply_bound(read_at - first_at) + TOLERANCE_WH
            )
            if agrees:
                readings += 1
                if readings >= FOLLOW_AFTER_READINGS and read_at - first_at >= FOLLOW_AFTER:
                    self._follow(first_at, read_at, value)
                    return
                self.candidate = (first_at, first_wh, readings, counted)
                self._ignore(read_at, "inconsistent with the energy counted")
                return
        self._ignore(read_at, "inconsistent with the energy counted")
        self.candidate = (read_at, value, 1, ZERO)

    def _follow(self, first_at: datetime, read_at: datetime, value: Decimal) -> None:
        if self.accepted_wh is not None and value < self.accepted_wh:
            self.exchanged_at = read_at
        _LOGGER.info(
            "The %s register moved from %s Wh to %s Wh and has agreed with itself since %s; "
            "following it (a meter exchange or a corrected register)",
            self.name,
            self.accepted_wh,
            value,
            first_at.isoformat(),
        )
        self._take(read_at, value)

    def _take(self, read_at: datetime, value: Decimal) -> None:
        self.accepted_at, self.accepted_wh = read_at, value
        self.counted_wh = ZERO
        self.counted_until = None
        self.candidate = None
        self.rise = None
        self._logged = False

    def _ignore(self, read_at: datetime, reason: str) -> None:
        """Ordinary misbehaviour of the Mini: said once per run, at DEBUG (nothing to act on)."""
        if not self._logged:
            _LOGGER.debug(
                "Ignoring %s register readings from %s on: the register was %s",
                self.name,
                read_at.isoformat(),
                reason,
            )
            self._logged = True


def delta_fault(
    reading: TelemetryReading, previous_at: datetime | None, register: RegisterGuard
) -> str | None:
    """Why a reading's import delta cannot be counted, or None when it can.

    Never negative, never more than the supply could pass since the previous reading, and
    never more than a plausible register moved beyond what was already counted.
    """
    wh = reading.consumption_delta_wh
    if wh is None:
        return None
    if wh < 0:
        return "negative"
    elapsed = reading.read_at - previous_at if previous_at is not None else SLOT
    if wh > supply_bound(elapsed) + TOLERANCE_WH:
        return "more than the supply allows"
    remaining = register.remaining(reading.consumption_wh, reading.read_at)
    if remaining is not None and wh > remaining + tolerance(wh):
        return "more than the register moved"
    return None
