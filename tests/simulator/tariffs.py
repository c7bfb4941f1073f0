"""Deterministic tariffs: an Agile-like half-hourly tariff and fixed-rate tariffs.

Unit rates are stored pre-VAT in hundredths of a penny (integers) so that costs sum
exactly; the VAT-inclusive value is always ``pre_vat * 1.05`` (export tariffs carry no VAT).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from hashlib import blake2b
from zoneinfo import ZoneInfo

HALF_HOUR = 1800
VAT = Decimal("1.05")
LONDON = ZoneInfo("Europe/London")
AGILE_START = datetime(2024, 9, 30, 23, 0, tzinfo=UTC)  # 2024-10-01 00:00 UK
VAR_CHANGE = datetime(2024, 3, 31, 23, 0, tzinfo=UTC)
VAR_START = datetime(2024, 1, 1, 0, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RateRow:
    """One REST row: a price valid over [valid_from, valid_to)."""

    valid_from: datetime
    valid_to: datetime | None
    value_exc_vat: Decimal
    value_inc_vat: Decimal
    payment_method: str | None = None


@dataclass(frozen=True, slots=True)
class Tariff:
    """A tariff: ``kind`` is "agile", "agile_outgoing", "outgoing_fixed", "standard" or "gas"."""

    kind: str
    product_code: str
    tariff_code: str
    display_name: str
    standing_inc_vat: Decimal
    unit_rows: tuple[RateRow, ...] = ()  # fixed tariffs only, newest first, DD before NDD

    @property
    def half_hourly(self) -> bool:
        """Whether the unit rate changes every half hour."""
        return self.kind.startswith("agile")

    @property
    def vat(self) -> Decimal:
        """VAT multiplier: export payments carry none."""
        return Decimal(1) if self.exports else VAT

    @property
    def exports(self) -> bool:
        """Whether this tariff pays for export (no VAT on its rates)."""
        return "outgoing" in self.kind

    @property
    def standing_pre_vat(self) -> Decimal:
        """Standing charge excluding VAT, p/day (4 dp, as the API rounds)."""
        return (self.standing_inc_vat / self.vat).quantize(Decimal("0.0001"))

    def pre_vat_x100(self, half_hour: int) -> int:
        """Unit rate excluding VAT in 1/100 p/kWh for the half hour starting at half_hour*1800."""
        if self.half_hourly:
            return _agile_pre_vat_x100(self.tariff_code, self.kind == "agile_outgoing", half_hour)
        at = datetime.fromtimestamp(half_hour * HALF_HOUR, UTC)
        row = next(
            (
                r
                for r in self.unit_rows
                if r.valid_from <= at and r.payment_method != "NON_DIRECT_DEBIT"
            ),
            self.unit_rows[-1],
        )
        return int(row.value_exc_vat * 100)

    def unit_rate(self, at: datetime) -> tuple[Decimal, Decimal]:
        """(pre-VAT, inc-VAT) unit rate in p/kWh at ``at``."""
        pre = Decimal(self.pre_vat_x100(int(at.timestamp()) // HALF_HOUR)).scaleb(-2)
        return pre, pre * self.vat


def hash_int(*parts: object) -> int:
    """A stable 32-bit hash (str hash() is salted per process)."""
    return int.from_bytes(blake2b("|".join(map(str, parts)).encode(), digest_size=4).digest())


@lru_cache(maxsize=16384)
def _agile_pre_vat_x100(tariff_code: str, outgoing: bool, half_hour: int) -> int:
    day, slot = divmod(half_hour, 48)
    hour = slot / 2
    noise = hash_int(tariff_code, half_hour) % 600 / 100 - 3  # ±3 p
    day_shift = hash_int(tariff_code, day) % 600 / 100 - 3
    if outgoing:  # export price: no VAT, follows the wholesale shape at a lower level
        inc = 8 + (6 if 16 <= hour < 19 else 0) + noise / 2 + day_shift / 2
        return round(inc * 100)
    if 2 <= hour < 5 and hash_int(tariff_code, day, "plunge") % 3 == 0:
        inc = -0.5 - (hash_int(tariff_code, half_hour, "neg") % 450) / 100  # windy night
    else:
        if hour < 4 or hour >= 23:
            level = 13.0
        elif hour < 7:
            level = 15.0
        elif hour < 16:
            level = 21.0
        elif hour < 19:
            level = 30.0
        else:
            level = 22.0
        inc = min(35.0, max(-5.0, level + noise + day_shift))
    return round(inc / 1.05 * 100)


def agile_published_until(now: datetime) -> datetime:
    """End of published Agile prices: 23:00 UK today, or tomorrow once it is 16:00 UK."""
    local = now.astimezone(LONDON)
    day = local.date() + timedelta(days=1 if local.hour >= 16 else 0)
    return datetime(day.year, day.month, day.day, 23, 0, tzinfo=LONDON).astimezone(UTC)


def _fixed_rows(
    *rows: tuple[datetime, datetime | None, str, str | None], vat: Decimal = VAT
) -> tuple[RateRow, ...]:
    """REST rows from (valid_from, valid_to, pre-VAT value, payment method)."""
    return tuple(
        RateRow(a, b, Decimal(pre), Decimal(pre) * vat, method) for a, b, pre, method in rows
    )


AGILE_H = Tariff(
    "agile", "AGILE-24-10-01", "E-1R-AGILE-24-10-01-H", "Agile Octopus", Decimal("60.06")
)
AGILE_J = Tariff(
    "agile", "AGILE-24-10-01", "E-1R-AGILE-24-10-01-J", "Agile Octopus", Decimal("61.53")
)
AGILE_OUTGOING_J = Tariff(
    "agile_outgoing",
    "AGILE-OUTGOING-BB-23-02-28",
    "E-1R-AGILE-OUTGOING-BB-23-02-28-J",
    "Agile Outgoing Octopus",
    Decimal(0),
)
#: Outgoing Octopus (fixed export): 15 p/kWh, no VAT, the same price for either payment method.
OUTGOING_FIXED_J = Tariff(
    "outgoing_fixed",
    "OUTGOING-FIX-12M-19-05-13",
    "E-1R-OUTGOING-FIX-12M-19-05-13-J",
    "Outgoing Octopus",
    Decimal(0),
    _fixed_rows((datetime(2019, 5, 13, 0, 0, tzinfo=UTC), None, "15.00", None), vat=Decimal(1)),
)
VAR_A = Tariff(
    "standard",
    "VAR-22-11-01",
    "E-1R-VAR-22-11-01-A",
    "Flexible Octopus",
    Decimal("53.35"),
    _fixed_rows(
        (VAR_CHANGE, None, "23.40", "DIRECT_DEBIT"),  # 24.57 p/kWh inc VAT
        (VAR_CHANGE, None, "24.60", "NON_DIRECT_DEBIT"),
        (VAR_START, VAR_CHANGE, "27.52", "DIRECT_DEBIT"),
        (VAR_START, VAR_CHANGE, "28.96", "NON_DIRECT_DEBIT"),
    ),
)
GAS_VAR_H = Tariff(
    "gas",
    "VAR-22-11-01",
    "G-1R-VAR-22-11-01-H",
    "Flexible Octopus",
    Decimal("31.43"),
    _fixed_rows(
        (VAR_CHANGE, None, "5.94", "DIRECT_DEBIT"),  # 6.237 p/kWh inc VAT
        (VAR_CHANGE, None, "6.24", "NON_DIRECT_DEBIT"),
        (VAR_START, VAR_CHANGE, "6.89", "DIRECT_DEBIT"),
        (VAR_START, VAR_CHANGE, "7.19", "NON_DIRECT_DEBIT"),
    ),
)
VAR_H = replace(VAR_A, tariff_code="E-1R-VAR-22-11-01-H")
TARIFFS: dict[str, Tariff] = {
    t.tariff_code: t
    for t in (AGILE_H, AGILE_J, AGILE_OUTGOING_J, OUTGOING_FIXED_J, VAR_A, VAR_H, GAS_VAR_H)
}
_REGIONS = "ABCDEFGHJKLMNP"


def tariff_for(product_code: str, tariff_code: str) -> Tariff | None:
    """A product's tariff in any region (e.g. E-1R-AGILE-24-10-01-C), or None if unknown."""
    for known in TARIFFS.values():
        if known.product_code != product_code:
            continue
        prefix = known.tariff_code[:-1]
        if tariff_code.startswith(prefix) and tariff_code[len(prefix) :] in _REGIONS:
            return replace(known, tariff_code=tariff_code)  # Agile prices differ per region
    return None


def is_product(product_code: str) -> bool:
    """Whether the simulator knows this product."""
    return any(t.product_code == product_code for t in TARIFFS.values())
