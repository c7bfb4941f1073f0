"""What the integration knows about one meter: samples, registers, costs. No I/O here."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
import logging
from typing import Any

from .api import Tariff, TelemetryReading
from .const import (
    MAX_CATCH_UP,
    MAX_FETCH_WINDOW,
    MAX_PLAUSIBLE_POWER_W,
    ONLINE_MAX_AGE,
    SAMPLE_BUFFER,
    SAMPLE_WINDOW,
)
from .tariff import unit_rate_pence
from .totals import RunningTotal

_LOGGER = logging.getLogger(__package__)


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


@dataclass(frozen=True, slots=True)
class PriorDays:
    """Energy cost of the complete local days of this month before today."""

    month_start: datetime
    day_start: datetime
    cost_pence: Decimal
    days: float


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
    prior_days: PriorDays | None
    time_zone: tzinfo

    def is_online(self, now: datetime) -> bool:
        """Whether the newest sample is recent enough to call the Home Mini online."""
        return self.newest is not None and now - self.newest.read_at < ONLINE_MAX_AGE

    def unit_rate_pence(self, now: datetime) -> Decimal | None:
        """The unit rate in force now."""
        return unit_rate_pence(self.tariff, now)


class MeterState:
    """Samples, the guarded register, and the running totals of one meter."""

    def __init__(self, now: datetime, tz: tzinfo) -> None:
        """Start empty: a session from ``now`` and today's totals from local midnight."""
        self.tz = tz
        self.samples: deque[TelemetryReading] = deque()
        self.newest: TelemetryReading | None = None
        self.register: TelemetryReading | None = None
        self.export_wh: Decimal | None = None
        self.tariff: Tariff | None = None
        self.session = RunningTotal.starting(now)
        self.cost_today = RunningTotal.starting(local_midnight(now, tz))
        self.energy_today = RunningTotal.starting(local_midnight(now, tz))
        self.today_recovered = False
        self.prior_days: PriorDays | None = None
        #: Newest reading time already counted before a restart (fetching resumes there).
        self.resume_after: datetime | None = None
        #: Catch-up windows are complete up to here (a stale Mini leaves empty hours).
        self.scanned_to: datetime | None = None
        self.samples_received = 0
        self._glitch_logged = False

    # Fetch window ------------------------------------------------------------------------

    def fetch_window(self, now: datetime) -> tuple[datetime, datetime]:
        """The next range to ask for: from just after the newest sample held, at most an hour.

        At start-up it reaches back 5 minutes, or to where the previous run stopped counting
        if that is earlier. A longer gap is caught up an hour per poll, oldest first, so no
        sample (and no penny) is skipped; gaps older than a day are given up.
        """
        if self.newest is not None:
            start = self.newest.read_at + timedelta(seconds=1)
        else:
            start = now - SAMPLE_WINDOW
            if self.resume_after is not None:
                start = min(start, self.resume_after + timedelta(seconds=1))
        if self.scanned_to is not None:
            start = max(start, self.scanned_to)
        start = max(start, now - MAX_CATCH_UP)
        return start, min(now, start + MAX_FETCH_WINDOW)

    # Readings ----------------------------------------------------------------------------

    def scanned(self, end: datetime, now: datetime) -> None:
        """A catch-up window ending well in the past is complete, even if it was empty."""
        if now - end >= SAMPLE_WINDOW:
            self.scanned_to = end

    def accept(self, readings: list[TelemetryReading], now: datetime) -> None:
        """Take new readings in order: buffer, register guard, costs; roll the day over."""
        for reading in readings:
            if self.newest is not None and reading.read_at <= self.newest.read_at:
                continue  # already counted
            self.newest = reading
            self.samples_received += 1
            self.samples.append(reading)
            self._accept_register(reading)
            if reading.export_wh is not None and (
                self.export_wh is None or reading.export_wh >= self.export_wh
            ):
                self.export_wh = reading.export_wh
            self._count(reading)
        self.roll_day(now)
        if self.newest is not None:
            while self.newest.read_at - self.samples[0].read_at >= SAMPLE_BUFFER:
                self.samples.popleft()

    def cost_pence(self, reading: TelemetryReading) -> Decimal | None:
        """Octopus's own cost incl. VAT, else the energy at the unit rate of that moment."""
        if reading.cost_delta_with_tax_pence is not None:
            return reading.cost_delta_with_tax_pence
        rate = unit_rate_pence(self.tariff, reading.read_at)
        if reading.consumption_delta_wh is None or rate is None:
            return None
        return reading.consumption_delta_wh / 1000 * rate

    def _count(self, reading: TelemetryReading) -> None:
        if local_midnight(reading.read_at, self.tz) > self.cost_today.started:
            self._start_day(local_midnight(reading.read_at, self.tz))
        # A late reading from before midnight is already behind today's `through`.
        cost = self.cost_pence(reading)
        if cost is not None:
            self.session.add(reading.read_at, cost)
            self.cost_today.add(reading.read_at, cost)
        if reading.consumption_delta_wh is not None:
            self.energy_today.add(reading.read_at, reading.consumption_delta_wh)

    def roll_day(self, now: datetime) -> None:
        """Start today's totals at local midnight even when no reading has arrived yet."""
        midnight = local_midnight(now, self.tz)
        if midnight > self.cost_today.started:
            self._start_day(midnight)

    def _start_day(self, midnight: datetime) -> None:
        self.cost_today = RunningTotal.starting(midnight)
        self.energy_today = RunningTotal.starting(midnight)
        self.today_recovered = True  # a day that began while running needs no recovery
        if self.prior_days is not None and self.prior_days.day_start != midnight:
            self.prior_days = None  # yesterday joins the month's complete days: refetch

    def recover_today(self, buckets: list[TelemetryReading], through: datetime) -> None:
        """Today's totals from grouped readings since midnight, counted through ``through``."""
        cost = Decimal(0)
        energy = Decimal(0)
        for bucket in buckets:
            if bucket.read_at < self.cost_today.started:
                continue
            cost += self.cost_pence(bucket) or Decimal(0)
            energy += bucket.consumption_delta_wh or Decimal(0)
        started = self.cost_today.started
        self.cost_today = RunningTotal(started=started, through=through, value=cost)
        self.energy_today = RunningTotal(started=started, through=through, value=energy)
        self.today_recovered = True

    def reset_session(self, now: datetime) -> None:
        """A new session: zero, counting readings taken after ``now``."""
        self.session = RunningTotal(started=now, through=now)

    def _accept_register(self, reading: TelemetryReading) -> None:
        """Take the reading's register unless missing, zero, lower, or implausibly high."""
        value = reading.consumption_wh
        last = self.register
        if last is not None and reading.read_at <= last.read_at:
            return  # older than the register restored from the last run: already judged
        reason: str | None = None
        if value is None or value <= 0:
            reason = "missing" if value is None else "zero"
        elif last is not None and last.consumption_wh is not None:
            hours = Decimal((reading.read_at - last.read_at).total_seconds()) / 3600
            if value < last.consumption_wh:
                reason = "lower than the last accepted reading"
            elif value - last.consumption_wh > MAX_PLAUSIBLE_POWER_W * hours + 1:
                reason = "an implausible jump"
        if reason is None:
            self.register = reading
            self._glitch_logged = False
            return
        if not self._glitch_logged:
            _LOGGER.warning(
                "Ignoring meter register readings from %s on: the register was %s",
                reading.read_at.isoformat(),
                reason,
            )
            self._glitch_logged = True

    # Snapshot and storage ------------------------------------------------------------------

    def snapshot(self) -> HomeMiniData:
        """An immutable view for the entities."""
        return HomeMiniData(
            newest=self.newest,
            samples=tuple(self.samples),
            consumption_wh=self.register.consumption_wh if self.register else None,
            export_wh=self.export_wh,
            tariff=self.tariff,
            session_cost_pence=self.session.value,
            session_started=self.session.started,
            cost_today_pence=self.cost_today.value,
            energy_today_wh=self.energy_today.value,
            day_started=self.cost_today.started,
            prior_days=self.prior_days,
            time_zone=self.tz,
        )

    def as_store(self) -> dict[str, Any]:
        """What survives a restart: the session, the register floor, where counting stopped."""
        return {
            "session": self.session.as_dict(),
            "register_wh": str(self.register.consumption_wh)
            if self.register and self.register.consumption_wh is not None
            else None,
            "register_at": self.register.read_at.isoformat() if self.register else None,
            "counted_through": self.newest.read_at.isoformat() if self.newest else None,
        }

    def restore(self, stored: dict[str, Any]) -> None:
        """Continue from a previous run (the session continues; nothing is recounted)."""
        self.session = RunningTotal.from_dict(stored["session"])
        if stored.get("register_wh") and stored.get("register_at"):
            self.register = TelemetryReading(
                read_at=datetime.fromisoformat(stored["register_at"]),
                consumption_wh=Decimal(stored["register_wh"]),
                demand_w=None,
                consumption_delta_wh=None,
                cost_delta_pence=None,
                cost_delta_with_tax_pence=None,
                export_wh=None,
            )
        if stored.get("counted_through"):
            self.resume_after = datetime.fromisoformat(stored["counted_through"])
