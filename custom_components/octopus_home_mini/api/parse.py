"""Turn the API's JSON into models; any shape the client cannot use is an invalid response."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
import json
from typing import Any, Final

from .errors import KrakenInvalidResponseError
from .models import (
    Account,
    AccountTariffs,
    Allowance,
    ElectricityMeter,
    ElectricityMeterPoint,
    GasMeter,
    GasMeterPoint,
    MeterDirection,
    Tariff,
    TariffKind,
    TelemetryReading,
    Token,
    UnitRate,
)

#: Kraken's documented access-token lifetime, used only when a token states no expiry.
TOKEN_LIFETIME: Final = timedelta(hours=1)


def _invalid(what: str) -> KrakenInvalidResponseError:
    return KrakenInvalidResponseError(f"Unexpected response shape: {what}")


def obj(value: Any, what: str) -> dict[str, Any]:
    """A JSON object, or an invalid-response error naming what was expected."""
    if not isinstance(value, dict):
        raise _invalid(what)
    return value


def seq(value: Any, what: str) -> list[Any]:
    """A JSON list (null counts as empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(what)
    return value


def optional_str(value: Any, what: str) -> str | None:
    """A string or null."""
    if value is None or isinstance(value, str):
        return value
    raise _invalid(what)


def decimal(value: Any, what: str) -> Decimal | None:
    """A Decimal from the API's string encoding (``"624.0"``, ``"0E+1"``) or a JSON number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _invalid(what)
    try:
        result = Decimal(str(value))
    except InvalidOperation as err:
        raise _invalid(what) from err
    if not result.is_finite():
        raise _invalid(what)
    return result


def timestamp(value: Any, what: str) -> datetime | None:
    """An aware datetime; a value without an offset is UTC, as the API documents."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(what)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise _invalid(what) from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date(value: Any, what: str) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(what)
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise _invalid(what) from err


def _epoch(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(what)
    return datetime.fromtimestamp(value, UTC)


def _jwt_exp(jwt: str) -> Any:
    """The ``exp`` claim read from the token itself (its signature is not ours to check)."""
    try:
        body = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (IndexError, ValueError):
        return None
    return claims.get("exp") if isinstance(claims, dict) else None


def token(data: dict[str, Any], now: datetime) -> Token:
    """The ``obtainKrakenToken`` result.

    Expiry comes from ``payload.exp``, else from the JWT's own claims, else the documented
    one-hour lifetime from ``now``.
    """
    result = obj(data.get("obtainKrakenToken"), "obtainKrakenToken")
    jwt = result.get("token")
    if not isinstance(jwt, str) or not jwt:
        raise _invalid("obtainKrakenToken.token")
    payload = result.get("payload")
    exp = payload.get("exp") if isinstance(payload, dict) else None
    expires_at = _epoch(exp if exp is not None else _jwt_exp(jwt), "payload.exp")
    if expires_at is None:
        expires_at = now + TOKEN_LIFETIME
    return Token(
        token=jwt,
        expires_at=expires_at,
        refresh_token=optional_str(result.get("refreshToken"), "refreshToken"),
        refresh_expires_at=_epoch(result.get("refreshExpiresIn"), "refreshExpiresIn"),
    )


def tariff(value: Any, agreement: dict[str, Any] | None = None) -> Tariff | None:
    """An ``ElectricityTariffType`` member or a ``GasTariffType``; unknown members are skipped.

    ``agreement`` (the agreement object holding the tariff) supplies its validity.
    """
    if value is None:
        return None
    data = obj(value, "tariff")
    agreement = agreement or {}
    typename = data.get("__typename")
    if typename not in TariffKind:
        return None  # a union member this client does not model
    kind = TariffKind(str(typename))

    def price(key: str) -> Decimal | None:
        return decimal(data.get(key), f"tariff.{key}")

    rates = []
    for item in seq(data.get("unitRates"), "unitRates"):
        rate = obj(item, "unitRate")
        value_pence = decimal(rate.get("value"), "unitRate.value")
        if value_pence is not None:
            rates.append(
                UnitRate(
                    valid_from=timestamp(rate.get("validFrom"), "unitRate.validFrom"),
                    valid_to=timestamp(rate.get("validTo"), "unitRate.validTo"),
                    value_pence=value_pence,
                )
            )
    rates.sort(key=lambda r: r.valid_from or datetime.min.replace(tzinfo=UTC))
    return Tariff(
        kind=kind,
        product_code=optional_str(data.get("productCode"), "productCode"),
        tariff_code=optional_str(data.get("tariffCode"), "tariffCode"),
        display_name=optional_str(data.get("displayName"), "displayName"),
        standing_charge_pence=price("standingCharge"),
        unit_rate_pence=price("unitRate"),
        day_rate_pence=price("dayRate"),
        night_rate_pence=price("nightRate"),
        off_peak_rate_pence=price("offPeakRate"),
        unit_rates=tuple(rates),
        valid_from=timestamp(agreement.get("validFrom"), "agreement.validFrom"),
        valid_to=timestamp(agreement.get("validTo"), "agreement.validTo"),
    )


def _electricity_meter(value: Any) -> ElectricityMeter:
    data = obj(value, "meter")
    serial = data.get("serialNumber")
    if not isinstance(serial, str):
        raise _invalid("meter.serialNumber")

    def device(key: str) -> str | None:
        found = data.get(key)
        if found is None:
            return None
        return optional_str(obj(found, key).get("deviceId"), f"{key}.deviceId")

    return ElectricityMeter(
        serial_number=serial,
        active_from=_date(data.get("activeFrom"), "activeFrom"),
        active_to=_date(data.get("activeTo"), "activeTo"),
        meter_type=optional_str(data.get("meterType"), "meterType"),
        import_device_id=device("smartImportElectricityMeter"),
        export_device_id=device("smartExportElectricityMeter"),
    )


def _electricity_point(agreement: Any) -> ElectricityMeterPoint:
    data = obj(agreement, "electricityAgreement")
    point = obj(data.get("meterPoint"), "meterPoint")
    mpan = point.get("mpan")
    if not isinstance(mpan, str):
        raise _invalid("meterPoint.mpan")
    meters = tuple(_electricity_meter(m) for m in seq(point.get("meters"), "meters"))
    direction_value = point.get("direction")
    if direction_value is None:
        # Older schema without `direction`: an export-only meter tells us.
        exporting = any(m.export_device_id and not m.import_device_id for m in meters)
        direction = MeterDirection.EXPORT if exporting else MeterDirection.IMPORT
    else:
        try:
            direction = MeterDirection(direction_value)
        except ValueError as err:
            raise _invalid("meterPoint.direction") from err
    return ElectricityMeterPoint(
        mpan=mpan, direction=direction, meters=meters, tariff=tariff(data.get("tariff"), data)
    )


def _gas_meter(value: Any) -> GasMeter:
    meter = obj(value, "gas meter")
    smart = meter.get("smartGasMeter")
    return GasMeter(
        serial_number=str(meter.get("serialNumber") or ""),
        device_id=None
        if smart is None
        else optional_str(obj(smart, "smartGasMeter").get("deviceId"), "deviceId"),
        active_from=_date(meter.get("activeFrom"), "gas activeFrom"),
        active_to=_date(meter.get("activeTo"), "gas activeTo"),
        consumption_units=optional_str(meter.get("consumptionUnits"), "consumptionUnits"),
        mechanism=optional_str(meter.get("mechanism"), "mechanism"),
    )


def _gas_point(agreement: Any) -> GasMeterPoint:
    data = obj(agreement, "gasAgreement")
    point = obj(data.get("meterPoint"), "gas meterPoint")
    mprn = point.get("mprn")
    if not isinstance(mprn, str):
        raise _invalid("meterPoint.mprn")
    return GasMeterPoint(
        mprn=mprn,
        meters=tuple(_gas_meter(m) for m in seq(point.get("meters"), "gas meters")),
        tariff=tariff(data.get("tariff"), data),
    )


def account(data: dict[str, Any], account_number: str) -> Account:
    """The ``account`` query result."""
    result = obj(data.get("account"), "account")
    number = result.get("number")
    return Account(
        number=number if isinstance(number, str) else account_number,
        electricity_meter_points=tuple(
            _electricity_point(a)
            for a in seq(result.get("electricityAgreements"), "electricityAgreements")
        ),
        gas_meter_points=tuple(
            _gas_point(a) for a in seq(result.get("gasAgreements"), "gasAgreements")
        ),
    )


def tariffs(data: dict[str, Any]) -> AccountTariffs:
    """Active tariffs by meter point (MPAN, or MPRN for gas), from the ``Tariff`` query."""
    result = obj(data.get("account"), "account")
    found: dict[str, Tariff] = {}
    exports: dict[str, tuple[str, ...]] = {}
    for agreements, key in (("electricityAgreements", "mpan"), ("gasAgreements", "mprn")):
        for item in seq(result.get(agreements), agreements):
            agreement = obj(item, agreements)
            meter_point = obj(agreement.get("meterPoint"), "meterPoint")
            point = meter_point.get(key)
            parsed = tariff(agreement.get("tariff"), agreement)
            if not isinstance(point, str) or parsed is None:
                continue
            found[point] = parsed
            if meter_point.get("direction") == MeterDirection.EXPORT:
                meters = seq(meter_point.get("meters") or [], "meters")
                exports[point] = tuple(
                    serial
                    for meter in meters
                    if isinstance(serial := obj(meter, "meter").get("serialNumber"), str)
                )
    return AccountTariffs(found, exports)


def rest_unit_rates(body: Any) -> tuple[list[tuple[UnitRate, str | None]], str | None]:
    """One page of a REST rates listing: (rate, payment method) pairs and the next page's URL."""
    page = obj(body, "rates page")
    found = []
    for item in seq(page.get("results"), "results"):
        row = obj(item, "rate")
        value = decimal(row.get("value_inc_vat"), "value_inc_vat")
        valid_from = timestamp(row.get("valid_from"), "valid_from")
        if value is None or valid_from is None:
            raise _invalid("rate without value_inc_vat or valid_from")
        rate = UnitRate(valid_from, timestamp(row.get("valid_to"), "valid_to"), value)
        found.append((rate, optional_str(row.get("payment_method"), "payment_method")))
    return found, optional_str(page.get("next"), "next")


def _int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(what)
    return int(value)


def allowance(data: dict[str, Any]) -> Allowance | None:
    """``rateLimitInfo``'s points allowance; None when Kraken reports none."""
    info = data.get("rateLimitInfo")
    if info is None:
        return None
    points = obj(info, "rateLimitInfo").get("pointsAllowanceRateLimit")
    if points is None:
        return None
    points = obj(points, "pointsAllowanceRateLimit")
    return Allowance(
        limit=_int(points.get("limit"), "limit"),
        used=_int(points.get("usedPoints"), "usedPoints"),
        remaining=_int(points.get("remainingPoints"), "remainingPoints"),
        renews_at=_epoch(points.get("ttl"), "ttl"),
        blocked=points.get("isBlocked") is True,
    )


def telemetry(data: dict[str, Any]) -> list[TelemetryReading]:
    """Telemetry rows sorted by ``read_at``, duplicates dropped, nulls kept as ``None``."""
    readings: dict[datetime, TelemetryReading] = {}
    for item in seq(data.get("smartMeterTelemetry"), "smartMeterTelemetry"):
        if item is None:
            continue
        row = obj(item, "telemetry row")
        read_at = timestamp(row.get("readAt"), "readAt")
        if read_at is None:
            continue  # a row without a time cannot be placed; nothing to keep
        readings.setdefault(
            read_at,
            TelemetryReading(
                read_at=read_at,
                consumption_wh=decimal(row.get("consumption"), "consumption"),
                demand_w=decimal(row.get("demand"), "demand"),
                consumption_delta_wh=decimal(row.get("consumptionDelta"), "consumptionDelta"),
                cost_delta_pence=decimal(row.get("costDelta"), "costDelta"),
                cost_delta_with_tax_pence=decimal(row.get("costDeltaWithTax"), "costDeltaWithTax"),
                export_wh=decimal(row.get("export"), "export"),
            ),
        )
    return [readings[key] for key in sorted(readings)]
