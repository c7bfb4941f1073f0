"""Unit rates looked up locally from each kind of tariff."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from custom_components.octopus_home_mini.api import Tariff, TariffKind, UnitRate
from custom_components.octopus_home_mini.tariff import rates_cover, unit_rate_pence

NOON = datetime(2026, 7, 1, 11, 0, tzinfo=UTC)  # 12:00 BST


def _tariff(kind: TariffKind, **prices: object) -> Tariff:
    return Tariff(
        kind=kind,
        product_code="P",
        tariff_code="T",
        display_name=None,
        standing_charge_pence=Decimal(50),
        **prices,  # type: ignore[arg-type]
    )


def test_standard_and_prepay() -> None:
    """A single rate applies at any time."""
    for kind in (TariffKind.STANDARD, TariffKind.PREPAY):
        tariff = _tariff(kind, unit_rate_pence=Decimal("24.57"))
        assert unit_rate_pence(tariff, NOON) == Decimal("24.57")
    assert unit_rate_pence(None, NOON) is None


def test_day_night_uses_uk_clock() -> None:
    """Night is 00:30-07:30 UK time: in summer that is 23:30-06:30 UTC."""
    tariff = _tariff(TariffKind.DAY_NIGHT, day_rate_pence=Decimal(30), night_rate_pence=Decimal(12))
    night_utc = datetime(2026, 6, 30, 23, 45, tzinfo=UTC)  # 00:45 BST
    assert unit_rate_pence(tariff, night_utc) == Decimal(12)
    assert unit_rate_pence(tariff, NOON) == Decimal(30)
    assert unit_rate_pence(tariff, datetime(2026, 7, 1, 6, 30, tzinfo=UTC)) == Decimal(30)


def test_half_hourly_boundaries_and_running_out() -> None:
    """Each half hour has its own rate (negative too); past the last one there is none."""
    rates = tuple(
        UnitRate(
            valid_from=NOON + timedelta(minutes=30 * i),
            valid_to=NOON + timedelta(minutes=30 * (i + 1)),
            value_pence=Decimal(i) - 1,
        )
        for i in range(3)
    )
    tariff = _tariff(TariffKind.HALF_HOURLY, unit_rates=rates)
    assert unit_rate_pence(tariff, NOON) == Decimal(-1)
    assert unit_rate_pence(tariff, NOON + timedelta(minutes=29, seconds=59)) == Decimal(-1)
    assert unit_rate_pence(tariff, NOON + timedelta(minutes=30)) == Decimal(0)
    assert rates_cover(tariff, NOON + timedelta(minutes=89))
    assert not rates_cover(tariff, NOON + timedelta(minutes=90))
    assert not rates_cover(tariff, NOON - timedelta(seconds=1))
