"""Decoding the API's answers: encodings, nulls, and every malformed shape we refuse."""

import base64
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
import json
from typing import Any

import pytest

from custom_components.octopus_home_mini.api import (
    Fuel,
    KrakenAccountNotFoundError,
    KrakenAuthenticationError,
    KrakenInvalidResponseError,
    KrakenRateLimitError,
    KrakenRequestError,
    MeterDirection,
    TariffKind,
    parse,
)
from custom_components.octopus_home_mini.api.client import KrakenClient


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("624.0", Decimal("624.0")), ("0E+1", Decimal(0)), (12, Decimal(12)), (None, None)],
)
def test_decimals(raw: Any, expected: Decimal | None) -> None:
    """Strings in plain and exponent form and JSON numbers; null stays None."""
    assert parse.decimal(raw, "x") == expected


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", True, [1], {"a": 1}])
def test_bad_decimals(raw: Any) -> None:
    """Anything that is not a finite number is an invalid response."""
    with pytest.raises(KrakenInvalidResponseError):
        parse.decimal(raw, "x")


def test_timestamps() -> None:
    """Offsets are kept; a missing offset means UTC; garbage is refused."""
    assert parse.timestamp("2025-03-14T16:29:20+01:00", "t") == datetime(
        2025, 3, 14, 15, 29, 20, tzinfo=UTC
    )
    assert parse.timestamp("2025-03-14T16:29:20", "t") == datetime(
        2025, 3, 14, 16, 29, 20, tzinfo=UTC
    )
    assert parse.timestamp(None, "t") is None
    for bad in ("yesterday", 1700000000):
        with pytest.raises(KrakenInvalidResponseError):
            parse.timestamp(bad, "t")


def test_telemetry_sorted_deduplicated_nulls_kept() -> None:
    """Rows are sorted by readAt, duplicates and rows without a time dropped."""
    rows = [
        {"readAt": "2024-03-20T17:00:10+00:00", "consumption": None, "demand": "630.0"},
        {"readAt": "2024-03-20T17:00:00+00:00", "consumption": "22905794.0", "demand": "-9.0"},
        {"readAt": "2024-03-20T17:00:10+00:00", "consumption": "1", "demand": "1"},
        {"readAt": None, "demand": "1"},
        None,
    ]
    readings = parse.telemetry({"smartMeterTelemetry": rows})
    assert [r.read_at.second for r in readings] == [0, 10]
    assert readings[0].demand_w == Decimal(-9)
    assert readings[1].consumption_wh is None
    assert readings[1].export_wh is None
    assert parse.telemetry({"smartMeterTelemetry": None}) == []


@pytest.mark.parametrize(
    "data",
    [
        {"smartMeterTelemetry": "nope"},
        {"smartMeterTelemetry": ["row"]},
        {"smartMeterTelemetry": [{"readAt": "2024-03-20T17:00:00+00:00", "demand": "x"}]},
    ],
)
def test_bad_telemetry(data: dict[str, Any]) -> None:
    """A wrong shape anywhere is an invalid response."""
    with pytest.raises(KrakenInvalidResponseError):
        parse.telemetry(data)


NOW = datetime(2026, 3, 14, 12, tzinfo=UTC)


def test_token_expiry_sources() -> None:
    """Expiry from payload.exp, else the JWT's claims, else one hour from now."""
    good = {"token": "a.b.c", "payload": {"exp": 1724158972}, "refreshToken": None}
    token = parse.token({"obtainKrakenToken": good}, NOW)
    assert token.expires_at == datetime.fromtimestamp(1724158972, UTC)
    assert token.refresh_expires_at is None
    assert "a.b.c" not in repr(token)
    claims = base64.urlsafe_b64encode(json.dumps({"exp": 1724158000}).encode()).decode()
    from_jwt = parse.token({"obtainKrakenToken": {"token": f"h.{claims.rstrip('=')}.s"}}, NOW)
    assert from_jwt.expires_at == datetime.fromtimestamp(1724158000, UTC)
    opaque = parse.token({"obtainKrakenToken": {**good, "payload": {}}}, NOW)
    assert opaque.expires_at == NOW + timedelta(hours=1)
    for bad in (
        {**good, "token": ""},
        {**good, "payload": {"exp": "soon"}},
        {**good, "refreshToken": 5},
    ):
        with pytest.raises(KrakenInvalidResponseError):
            parse.token({"obtainKrakenToken": bad}, NOW)


def _agreement(meter_point: dict[str, Any], tariff: Any = None) -> dict[str, Any]:
    return {"meterPoint": meter_point, "tariff": tariff}


def test_account_without_direction_and_odd_tariffs() -> None:
    """An older schema without `direction`; unknown tariff members are skipped."""
    export_only = {"serialNumber": "S1", "smartExportElectricityMeter": {"deviceId": "E"}}
    importing = {"serialNumber": "S1", "smartImportElectricityMeter": {"deviceId": "I"}}
    account = parse.account(
        {
            "account": {
                "electricityAgreements": [
                    _agreement({"mpan": "1", "meters": [importing]}, {"__typename": "Other"}),
                    _agreement(
                        {"mpan": "2", "meters": [export_only]},
                        {
                            "__typename": "DayNightTariff",
                            "dayRate": 30.5,
                            "nightRate": 12,
                            "standingCharge": None,
                        },
                    ),
                ],
                "gasAgreements": [{"meterPoint": {"mprn": "9", "meters": [{"serialNumber": "G"}]}}],
            }
        },
        "A-1",
    )
    assert account.number == "A-1"
    first, second = account.electricity_meter_points
    assert first.direction is MeterDirection.IMPORT
    assert first.tariff is None
    assert second.direction is MeterDirection.EXPORT
    assert second.tariff is not None
    assert second.tariff.kind is TariffKind.DAY_NIGHT
    assert second.tariff.day_rate_pence == Decimal("30.5")
    (meter,) = account.smart_meters
    assert meter.export_device_id == "E"
    assert account.gas_meter_points[0].meters[0].device_id is None


@pytest.mark.parametrize(
    "point",
    [
        {"mpan": 1, "meters": []},
        {"mpan": "1", "meters": [{"serialNumber": None}]},
        {"mpan": "1", "direction": "SIDEWAYS", "meters": []},
        {"mpan": "1", "meters": [{"serialNumber": "S", "activeFrom": "soon"}]},
        {"mpan": "1", "meters": [{"serialNumber": "S", "activeFrom": 5}]},
        {"mpan": "1", "meters": [{"serialNumber": "S", "smartImportElectricityMeter": 5}]},
    ],
)
def test_bad_meter_points(point: dict[str, Any]) -> None:
    """Missing identifiers or unknown enum values are invalid responses."""
    with pytest.raises(KrakenInvalidResponseError):
        parse.account({"account": {"electricityAgreements": [_agreement(point)]}}, "A-1")


def test_bad_gas_point() -> None:
    """A gas meter point without an MPRN is refused."""
    with pytest.raises(KrakenInvalidResponseError):
        parse.account({"account": {"gasAgreements": [{"meterPoint": {"mprn": None}}]}}, "A-1")


def _gas_meter(serial: str, device: str | None, **extra: Any) -> dict[str, Any]:
    smart = None if device is None else {"deviceId": device}
    return {"serialNumber": serial, "smartGasMeter": smart, **extra}


def test_gas_smart_meters_skip_records_without_a_device_and_inactive_ones() -> None:
    """Only active records with a device id are gas smart meters, newest first, each once."""
    account = parse.account(
        {
            "account": {
                "gasAgreements": [
                    _agreement(
                        {
                            "mprn": "111",
                            "meters": [
                                _gas_meter("NO-DEVICE", None, activeFrom="2024-01-01"),
                                _gas_meter("OLD", "G-OLD", activeTo="2023-04-23"),
                                _gas_meter("FIRST", "G-1", activeFrom="2022-01-01"),
                                _gas_meter("SECOND", "G-2", activeFrom="2023-05-01"),
                                _gas_meter("FIRST-AGAIN", "G-1", activeFrom="2021-01-01"),
                            ],
                        },
                        {
                            "__typename": "GasTariffType",
                            "unitRate": 6.237,
                            "standingCharge": "31.43",
                            "tariffCode": "G-1R-VAR-22-11-01-H",
                        },
                    ),
                    _agreement({"mprn": "222", "meters": [_gas_meter("X", None)]}),
                ]
            }
        },
        "A-1",
    )
    assert account.smart_meters == ()
    meters = account.gas_smart_meters
    assert [(m.device_id, m.serial_number) for m in meters] == [("G-2", "SECOND"), ("G-1", "FIRST")]
    assert {(m.meter_point, m.fuel, m.export_device_id) for m in meters} == {
        ("111", Fuel.GAS, None)
    }
    assert meters[0].mpan == "111"  # the electricity name still reads the meter point
    first, second = account.gas_meter_points
    assert first.meters[1].active_to == date(2023, 4, 23)
    assert first.tariff is not None
    assert first.tariff.kind is TariffKind.GAS
    assert first.tariff.kind.fuel is Fuel.GAS
    assert first.tariff.unit_rate_pence == Decimal("6.237")
    assert first.tariff.standing_charge_pence == Decimal("31.43")
    assert second.tariff is None


@pytest.mark.parametrize(
    "meter",
    [
        {"serialNumber": "G", "activeFrom": "soon"},
        {"serialNumber": "G", "activeTo": 5},
        {"serialNumber": "G", "consumptionUnits": 3},
        {"serialNumber": "G", "mechanism": ["S2"]},
        {"serialNumber": "G", "smartGasMeter": "G-1"},
    ],
)
def test_bad_gas_meters(meter: dict[str, Any]) -> None:
    """A gas meter record of the wrong shape is an invalid response."""
    with pytest.raises(KrakenInvalidResponseError):
        parse.account(
            {"account": {"gasAgreements": [_agreement({"mprn": "1", "meters": [meter]})]}}, "A-1"
        )


def test_tariffs_by_meter_point_for_both_fuels() -> None:
    """MPANs and MPRNs key one map; agreement validity comes along."""
    result = parse.tariffs(
        {
            "account": {
                "electricityAgreements": [
                    {
                        "meterPoint": {"mpan": "1900012345678"},
                        "validFrom": "2024-10-01T00:00:00+01:00",
                        "validTo": None,
                        "tariff": {"__typename": "StandardTariff", "unitRate": 24.57},
                    }
                ],
                "gasAgreements": [
                    {
                        "meterPoint": {"mprn": "1234567890"},
                        "validFrom": "2024-10-01T00:00:00+01:00",
                        "validTo": "2025-10-01T00:00:00+01:00",
                        "tariff": {"__typename": "GasTariffType", "unitRate": 6.237},
                    },
                    {"meterPoint": {"mprn": "99"}, "tariff": None},
                ],
            }
        }
    )
    assert list(result) == ["1900012345678", "1234567890"]
    gas = result["1234567890"]
    assert (gas.kind, gas.unit_rate_pence) == (TariffKind.GAS, Decimal("6.237"))
    assert gas.valid_from == datetime(2024, 9, 30, 23, tzinfo=UTC)
    assert gas.valid_to == datetime(2025, 9, 30, 23, tzinfo=UTC)
    assert result["1900012345678"].kind.fuel is Fuel.ELECTRICITY


def test_rest_rate_pages() -> None:
    """REST rows become rates with their payment method; open-ended rows keep valid_to None."""
    rows, following = parse.rest_unit_rates(
        {
            "next": "https://api.octopus.energy/v1/products/P/?page=2",
            "results": [
                {
                    "value_inc_vat": 6.237,
                    "valid_from": "2024-03-31T23:00:00Z",
                    "valid_to": None,
                    "payment_method": "DIRECT_DEBIT",
                },
                {"value_inc_vat": -2.8571, "valid_from": "2025-05-13T21:30:00Z"},
            ],
        }
    )
    assert following == "https://api.octopus.energy/v1/products/P/?page=2"
    (current, method), (negative, none) = rows
    assert (current.value_pence, current.valid_to, method) == (
        Decimal("6.237"),
        None,
        "DIRECT_DEBIT",
    )
    assert (negative.value_pence, none) == (Decimal("-2.8571"), None)
    assert parse.rest_unit_rates({"results": [], "next": None}) == ([], None)
    for bad in (
        [],
        {"results": "x"},
        {"results": [{"valid_from": "2024-01-01T00:00:00Z"}]},
        {"results": [{"value_inc_vat": 1}]},
        {"results": [{"value_inc_vat": "x", "valid_from": "2024-01-01T00:00:00Z"}]},
        {"results": [], "next": 5},
    ):
        with pytest.raises(KrakenInvalidResponseError):
            parse.rest_unit_rates(bad)


def test_tariffs_by_mpan_skip_unknown() -> None:
    """The tariff query maps MPANs to tariffs and skips agreements it cannot use."""
    result = parse.tariffs(
        {
            "account": {
                "electricityAgreements": [
                    _agreement({"mpan": "1"}, {"__typename": "StandardTariff", "unitRate": 24.5}),
                    _agreement({"mpan": "2"}, None),
                ]
            }
        }
    )
    assert list(result) == ["1"]
    assert result["1"].unit_rate_pence == Decimal("24.5")


def _decode(status: int, body: str, retry_after: str | None = None) -> dict[str, Any]:
    return KrakenClient._decode("Op", status, retry_after, body)


def test_decode_envelopes() -> None:
    """Error envelopes without a code, a malformed error list, or no data are refused."""
    assert _decode(200, '{"data": {"x": 1}}') == {"x": 1}
    for body in (
        '{"errors": [{"message": "no code"}]}',
        '{"errors": ["flat"]}',
        '{"errors": "flat"}',
        '{"data": null}',
        "[1, 2]",
    ):
        with pytest.raises(KrakenInvalidResponseError):
            _decode(200, body)
    with pytest.raises(KrakenInvalidResponseError) as caught:
        _decode(302, "{}")
    assert caught.value.code == "HTTP 302"


def test_decode_codes_by_path() -> None:
    """KT-CT-1111 is 'not your account' on the account field, an auth failure elsewhere."""

    def error(code: str, path: str) -> str:
        return json.dumps(
            {
                "errors": [
                    {"message": "Unauthorized.", "path": [path], "extensions": {"errorCode": code}}
                ],
                "data": {path: None},
            }
        )

    with pytest.raises(KrakenAccountNotFoundError):
        _decode(200, error("KT-CT-1111", "account"))
    with pytest.raises(KrakenAuthenticationError):
        _decode(200, error("KT-CT-1111", "smartMeterTelemetry"))
    with pytest.raises(KrakenRequestError) as caught:
        _decode(200, error("KT-GB-4041", "smartMeterTelemetry"))
    assert caught.value.code == "KT-GB-4041"


def test_decode_retry_after() -> None:
    """HTTP 429's Retry-After is carried when it is a number of seconds."""
    for header, expected in (("30", 30.0), ("soon", None), (None, None)):
        with pytest.raises(KrakenRateLimitError) as caught:
            _decode(429, "", header)
        assert caught.value.retry_after == expected
