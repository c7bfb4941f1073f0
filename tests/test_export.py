"""Export on the pure layers: which tariff pays a meter's export, and the ledger's export half
hours and earnings (the Home Assistant side is in test_solar.py)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from custom_components.octopus_home_mini.api import TelemetryReading, parse
from custom_components.octopus_home_mini.ledger import BUCKET, Ledger
from custom_components.octopus_home_mini.settle import apply_rows
from custom_components.octopus_home_mini.statistics import hours

T0 = datetime(2026, 3, 14, 12, tzinfo=UTC)
STANDARD = {"__typename": "StandardTariff", "unitRate": 24.57}
OUTGOING = {"__typename": "StandardTariff", "unitRate": 15, "tariffCode": "E-1R-OUTGOING-X-J"}


def _point(mpan: str, direction: str, *serials: str) -> dict[str, object]:
    return {
        "mpan": mpan,
        "direction": direction,
        "meters": [{"serialNumber": serial} for serial in serials],
    }


def _tariffs(*agreements: tuple[dict[str, object], dict[str, object]]) -> parse.AccountTariffs:
    return parse.tariffs(
        {
            "account": {
                "electricityAgreements": [
                    {"meterPoint": point, "tariff": tariff} for point, tariff in agreements
                ]
            }
        }
    )


def test_the_export_tariff_of_the_same_meter() -> None:
    """The export point sharing the import meter's serial pays for its export."""
    tariffs = _tariffs(
        (_point("1", "IMPORT", "S1"), STANDARD),
        (_point("2", "IMPORT", "S2"), STANDARD),
        (_point("9", "EXPORT", "S2"), OUTGOING),
    )
    assert set(tariffs) == {"1", "2", "9"}
    assert tariffs.exports == {"9": ("S2",)}
    export = tariffs.export_for("S2")
    assert export is not None
    assert export.unit_rate_pence == Decimal(15)
    assert tariffs.export_for("S1") is None  # another meter of the account: not paid


def test_an_export_point_without_meters_serves_only_when_it_is_the_only_one() -> None:
    """An export point that lists no meters is the account's export only if it is alone."""
    alone = _tariffs((_point("1", "IMPORT", "S1"), STANDARD), (_point("9", "EXPORT"), OUTGOING))
    assert alone.export_for("S1") is not None
    two = _tariffs(
        (_point("1", "IMPORT", "S1"), STANDARD),
        (_point("8", "EXPORT"), OUTGOING),
        (_point("9", "EXPORT"), OUTGOING),
    )
    assert two.export_for("S1") is None
    assert _tariffs((_point("1", "IMPORT", "S1"), STANDARD)).export_for("S1") is None


def _rows_missing(ledger: Ledger, start: datetime, end: datetime) -> None:
    """Kraken has no row for [start, end) (the Mini was offline): final, empty half hours."""
    ledger.mark_pending(start, end)
    apply_rows(ledger, start, end, [], lambda _: None, end + timedelta(hours=2))


def test_export_after_half_hours_without_a_row_is_shared_over_them() -> None:
    """A register move after two half hours Kraken has no row for is shared over the three;
    each share earns its own half hour's rate; the hours it reaches are rewritten."""
    ledger = Ledger()
    ledger.add_export(T0 + timedelta(minutes=29, seconds=50), Decimal(1_000))
    _rows_missing(ledger, T0 + BUCKET, T0 + 3 * BUCKET)
    ledger.take_changes()
    ledger.add_export(T0 + 3 * BUCKET + timedelta(minutes=29, seconds=50), Decimal(1_300))
    assert ledger.take_changes() == T0 + BUCKET  # the hours of the shares change too
    shares = ledger.exports(T0, T0 + 4 * BUCKET)
    assert shares == [(T0 + k * BUCKET, Decimal(100)) for k in (1, 2, 3)]

    def rate(at: datetime) -> Decimal:
        return Decimal(10) if at < T0 + 2 * BUCKET else Decimal(20)

    totals = ledger.totals(T0, T0 + 4 * BUCKET, lambda _: None, rate)
    assert (totals.export_wh, totals.earnings_pence, totals.earned) == (300, Decimal(5), True)
    # A range that ends inside the run still gets its share (the register comes after it).
    assert ledger.totals(T0, T0 + 2 * BUCKET, lambda _: None).export_wh == 100
    found = hours(ledger, T0, T0 + 4 * BUCKET, lambda _: None, rate)
    assert [totals.earnings_pence for _, totals in found] == [Decimal(1), Decimal(4)]


def test_export_without_a_rate_is_left_out_of_earnings_and_said_so() -> None:
    """Agile Outgoing's past rates not fetched yet: the energy counts, its earnings wait."""
    ledger = Ledger()
    ledger.add_export(T0 + timedelta(minutes=29, seconds=50), Decimal(1_000))
    ledger.add_export(T0 + timedelta(minutes=59, seconds=50), Decimal(1_250))
    totals = ledger.totals(T0, T0 + 2 * BUCKET, lambda _: None, lambda _: None)
    assert (totals.export_wh, totals.earnings_pence, totals.earned) == (250, 0, False)


def test_export_next_to_a_half_hour_read_without_an_export_register_is_not_shared() -> None:
    """A half hour that was read but carried no export register ends a run: nothing is
    shared into it (its export is unknown, not missing)."""
    ledger = Ledger()
    ledger.add_export(T0 + timedelta(minutes=29, seconds=50), Decimal(1_000))
    live = TelemetryReading(
        read_at=T0 + BUCKET + timedelta(minutes=5),
        consumption_wh=None,
        demand_w=None,
        consumption_delta_wh=Decimal(3),
        cost_delta_pence=None,
        cost_delta_with_tax_pence=None,
        export_wh=None,
    )
    ledger.add_reading(live, None)
    ledger.add_export(T0 + 2 * BUCKET + timedelta(minutes=29, seconds=50), Decimal(1_100))
    assert ledger.exports(T0, T0 + 3 * BUCKET) == [(T0 + 2 * BUCKET, Decimal(100))]
