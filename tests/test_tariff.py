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


def test_day_night_follows_the_meter_clock() -> None:
    """Night is 00:30-07:30 UTC (a smart meter's clock): 01:30-08:30 in British summer time."""
    tariff = _tariff(TariffKind.DAY_NIGHT, day_rate_pence=Decimal(30), night_rate_pence=Decimal(12))
    for utc, rate in (
        ((0, 29), 30),
        ((0, 30), 12),
        ((7, 29), 12),
        ((7, 30), 30),
        ((11, 0), 30),
        ((23, 45), 30),  # 00:45 BST: still the day rate
    ):
        at = datetime(2026, 7, 1, *utc, tzinfo=UTC)
        assert unit_rate_pence(tariff, at) == Decimal(rate), at
    winter_night = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
    assert unit_rate_pence(tariff, winter_night) == Decimal(12)


def test_three_rate_uses_all_three_rates() -> None:
    """Three-rate: the night window, the afternoon off-peak window, the day rate otherwise."""
    tariff = _tariff(
        TariffKind.THREE_RATE,
        day_rate_pence=Decimal(32),
        night_rate_pence=Decimal(11),
        off_peak_rate_pence=Decimal(19),
    )
    for utc, rate in (
        ((0, 30), 11),
        ((7, 29), 11),
        ((7, 30), 32),
        ((12, 59), 32),
        ((13, 0), 19),
        ((15, 59), 19),
        ((16, 0), 32),
        ((23, 59), 32),
    ):
        at = datetime(2026, 1, 15, *utc, tzinfo=UTC)
        assert unit_rate_pence(tariff, at) == Decimal(rate), at
    assert rates_cover(tariff, NOON)


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
