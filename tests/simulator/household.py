"""The deterministic household behind each simulated smart meter.

Time is cut into 10-second slots aligned to :00/:10/:20 UTC; slot ``k`` starts at unix time
``10 * k``. Demand in a slot is a pure function of (device seed, slot). A meter's cumulative
registers count from ``base`` at the start of an epoch day and are cached per UTC day, so any
instant within weeks of the epoch costs at most one day of slot arithmetic.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from hashlib import blake2b
import math

from .tariffs import Tariff

SLOT_SECONDS = 10
SLOTS_PER_DAY = 8640
SLOTS_PER_HALF_HOUR = 180
WS_PER_WH = 3600
_DAY_CACHE = 32  # days of register arrays kept per meter (~210 kB each)


@dataclass(frozen=True, slots=True)
class Sample:
    """One 10-second Home Mini reading, true values (no glitches)."""

    read_at: datetime
    demand_w: Decimal  # net W; negative when exporting
    register_wh: int  # cumulative import register
    delta_wh: int  # register minus the previous slot's register
    cost_pence: Decimal  # delta priced pre-VAT
    cost_with_tax_pence: Decimal
    export_wh: int | None  # cumulative export register; None without export


def slot_of(at: datetime) -> int:
    """The slot whose 10 seconds contain ``at`` (floor)."""
    return math.floor(at.timestamp()) // SLOT_SECONDS


def slot_time(slot: int) -> datetime:
    """Start of a slot as an aware UTC datetime."""
    return datetime.fromtimestamp(slot * SLOT_SECONDS, UTC)


def _hash(*parts: object, size: int = 8) -> bytes:
    return blake2b("|".join(map(str, parts)).encode(), digest_size=size).digest()


@lru_cache(maxsize=1024)
def _appliances(seed: int, day: int) -> tuple[tuple[int, int, int], ...]:
    """(first slot, end slot, watts) of the day's kettle, oven and dishwasher runs."""
    h = _hash(seed, day, "appliances", size=16)
    events = []
    kettle_hours = (7.0, 11.0, 13.0, 16.5, 21.0)[: 3 + h[0] % 3]  # 3-5 boils a day
    for n, hour in enumerate(kettle_hours):
        start = int((hour + (h[1 + n] / 255 - 0.5)) * 360)  # ±30 min jitter
        events.append((start, start + 18, 2800 + h[6] % 5 * 50))  # 3 min at ~3 kW
    oven = int((17.25 + h[7] / 255) * 360)  # starts 17:15-18:15 UTC
    events.append((oven, oven + 270, 2000))  # 45 min
    if h[8] % 3:  # two nights in three
        dishwasher = int((21.0 + h[9] / 255 * 1.5) * 360)
        events.append((dishwasher, dishwasher + 360, 2000))  # 1 h
    return tuple(events)


def load_w(seed: int, slot: int) -> int:
    """Household consumption in W during ``slot`` (before any solar generation)."""
    day, i = divmod(slot, SLOTS_PER_DAY)
    noise = int.from_bytes(_hash(seed, slot, size=2)) % 25 - 12
    base = 200 + 35 * math.sin(2 * math.pi * (i / SLOTS_PER_DAY - 13 / 24))  # evening peak
    watts = round(base) + noise
    if (slot * SLOT_SECONDS + seed % 3600) % 3600 < 1200:  # fridge: 20 min on, 40 off
        watts += 90
    for first, end, power in _appliances(seed, day):
        if first <= i < end:
            watts += power
    return watts


@lru_cache(maxsize=4096)
def _cloud(seed: int, half_hour: int) -> float:
    return 0.55 + 0.45 * _hash(seed, half_hour, "cloud", size=1)[0] / 255


def solar_w(seed: int, slot: int) -> int:
    """Solar generation in W: zero at night, up to ~3 kW around noon UTC."""
    day, i = divmod(slot, SLOTS_PER_DAY)
    hour = i / 360
    if not 6 <= hour < 18:
        return 0
    peak = 1800 + 1200 * _hash(seed, day, "sun", size=1)[0] / 255
    shape = math.sin(math.pi * (hour - 6) / 12)
    return round(peak * shape * _cloud(seed, slot // SLOTS_PER_HALF_HOUR))


@dataclass(frozen=True, slots=True)
class _Profile:
    """Offset-free arrays of one day: net W, demand prefix sums, import/export Ws."""

    net: array[int]
    demand_prefix: array[int]
    import_ws: array[int]  # cumulative within the day, inclusive
    export_ws: array[int]


@lru_cache(maxsize=128)
def _profile(seed: int, solar: bool, day: int) -> _Profile:
    first = day * SLOTS_PER_DAY
    net = array("q", [0]) * SLOTS_PER_DAY
    prefix, imp, exp = array("q", net), array("q", net), array("q", net)
    total = imported = exported = 0
    for i in range(SLOTS_PER_DAY):
        watts = load_w(seed, first + i) - (solar_w(seed, first + i) if solar else 0)
        net[i] = watts
        total += watts
        if watts > 0:
            imported += watts * SLOT_SECONDS
        else:
            exported -= watts * SLOT_SECONDS
        prefix[i], imp[i], exp[i] = total, imported, exported
    return _Profile(net, prefix, imp, exp)


@dataclass(frozen=True, slots=True)
class _Start:
    """Absolute cumulatives just before a day's first slot."""

    import_ws: int
    export_ws: int
    cost: int  # pre-VAT pence * 1e5


@dataclass(frozen=True, slots=True)
class _Day:
    day: int
    profile: _Profile
    start: _Start
    register_before: int
    register: array[int]  # import register Wh per slot
    export_register: array[int] | None
    cost: array[int]  # cumulative cost since day start, pre-VAT pence * 1e5


class MeterModel:
    """Registers, demand and cost of one electricity meter, slot by slot."""

    def __init__(
        self,
        seed: int,
        base_wh: int,
        tariff: Tariff,
        epoch_day: int,
        export_base_wh: int | None = None,
    ) -> None:
        self.seed = seed
        self.base_wh = base_wh
        self.tariff = tariff
        self.export_base_wh = export_base_wh
        self._epoch_day = epoch_day
        self._starts: dict[int, _Start] = {epoch_day: _Start(0, 0, 0)}
        self._days: OrderedDict[int, _Day] = OrderedDict()

    @property
    def solar(self) -> bool:
        """Whether this meter exports."""
        return self.export_base_wh is not None

    def register(self, slot: int) -> int:
        """Import register (Wh) after ``slot``."""
        day, i = divmod(slot, SLOTS_PER_DAY)
        return self._day(day).register[i]

    def export_register(self, slot: int) -> int | None:
        """Export register (Wh) after ``slot``; None for meters without export."""
        day, i = divmod(slot, SLOTS_PER_DAY)
        registers = self._day(day).export_register
        return None if registers is None else registers[i]

    def cost(self, slot: int) -> int:
        """Cumulative pre-VAT cost (pence * 1e5) up to and including ``slot``."""
        day, i = divmod(slot, SLOTS_PER_DAY)
        data = self._day(day)
        return data.start.cost + data.cost[i]

    def net(self, slot: int) -> int:
        """Net demand in W during ``slot``."""
        day, i = divmod(slot, SLOTS_PER_DAY)
        return self._day(day).profile.net[i]

    def demand_sum(self, first: int, last: int) -> int:
        """Sum of net W over slots first..last inclusive (both in the same day)."""
        day, i = divmod(first, SLOTS_PER_DAY)
        prefix = self._day(day).profile.demand_prefix
        j = last - day * SLOTS_PER_DAY
        return prefix[j] - (prefix[i - 1] if i else 0)

    def sample(self, slot: int) -> Sample:
        """The true 10-second sample for ``slot``."""
        units = self.cost(slot) - self.cost(slot - 1)
        cost = Decimal(units).scaleb(-5)
        register = self.register(slot)
        return Sample(
            read_at=slot_time(slot),
            demand_w=Decimal(self.net(slot)),
            register_wh=register,
            delta_wh=register - self.register(slot - 1),
            cost_pence=cost,
            cost_with_tax_pence=cost * self.tariff.vat,
            export_wh=self.export_register(slot),
        )

    def _day(self, day: int) -> _Day:
        cached = self._days.get(day)
        if cached is not None:
            self._days.move_to_end(day)
            return cached
        return self._remember(self._build(day, self._start(day)))

    def _remember(self, data: _Day) -> _Day:
        self._days[data.day] = data
        if len(self._days) > _DAY_CACHE:
            self._days.popitem(last=False)
        return data

    def _start(self, day: int) -> _Start:
        if day in self._starts:
            return self._starts[day]
        if day > self._epoch_day:  # walk forward from the nearest known day
            known = max(d for d in self._starts if d < day)
            for d in range(known, day):
                self._starts[d + 1] = self._end(self._day(d))
        else:  # walk backward: a day's start is the next day's start minus its totals
            known = min(d for d in self._starts if d > day)
            for d in range(known - 1, day - 1, -1):
                after = self._starts[d + 1]
                profile = _profile(self.seed, self.solar, d)
                partial = _Start(
                    after.import_ws - profile.import_ws[-1],
                    after.export_ws - profile.export_ws[-1],
                    0,
                )
                data = self._build(d, partial)
                start = _Start(partial.import_ws, partial.export_ws, after.cost - data.cost[-1])
                self._starts[d] = start
                self._remember(replace(data, start=start))  # cost arrays are day-relative
        return self._starts[day]

    @staticmethod
    def _end(data: _Day) -> _Start:
        return _Start(
            data.start.import_ws + data.profile.import_ws[-1],
            data.start.export_ws + data.profile.export_ws[-1],
            data.start.cost + data.cost[-1],
        )

    def _build(self, day: int, start: _Start) -> _Day:
        profile = _profile(self.seed, self.solar, day)
        base, offset = self.base_wh, start.import_ws
        register = array("q", [base + (offset + ws) // WS_PER_WH for ws in profile.import_ws])
        before = base + offset // WS_PER_WH
        cost = array("q", register)
        total, previous = 0, before
        for half_hour in range(48):
            rate = self.tariff.pre_vat_x100(day * 48 + half_hour)
            for i in range(half_hour * SLOTS_PER_HALF_HOUR, (half_hour + 1) * SLOTS_PER_HALF_HOUR):
                reading = register[i]
                total += (reading - previous) * rate
                previous = reading
                cost[i] = total
        exports = None
        if self.export_base_wh is not None:
            ebase, eoffset = self.export_base_wh, start.export_ws
            exports = array("q", [ebase + (eoffset + ws) // WS_PER_WH for ws in profile.export_ws])
        return _Day(day, profile, start, before, register, exports, cost)
