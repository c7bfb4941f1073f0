"""Account data as dicts for graphql-core's default resolver.

A dict value that is callable is called with the field's arguments, which is how fields
such as ``electricityAgreements(active:)`` and ``meters(includeInactive:)`` filter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .fixtures import (
    ESME_FIRMWARE,
    ESME_MANUFACTURER,
    ESME_MODEL,
    ElectricityPoint,
    Fixture,
    GasPoint,
)
from .tariffs import HALF_HOUR, Tariff, agile_published_until, hash_int

Node = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Agreement:
    """A supply agreement on a meter point."""

    id: int
    valid_from: datetime
    valid_to: datetime | None
    tariff: Tariff

    def active(self, now: datetime) -> bool:
        """Whether the agreement is in force at ``now``."""
        return self.valid_from <= now and (self.valid_to is None or now < self.valid_to)


def agreements_of(point: ElectricityPoint | GasPoint) -> tuple[Agreement, ...]:
    """The point's current agreement, preceded by an ended one if it had a previous tariff."""
    if point.tariff is None:
        return ()
    current = Agreement(point.meter_id * 10 + 1, point.agreed_from, None, point.tariff)
    if point.previous_tariff is None:
        return (current,)
    start = datetime(2023, 4, 23, 23, 0, tzinfo=UTC)
    previous = Agreement(point.meter_id * 10, start, point.agreed_from, point.previous_tariff)
    return (previous, current)


def tariff_node(tariff: Tariff, now: datetime) -> Node:
    """A tariff as the ElectricityTariffType member (or GasTariffType) it is."""
    node: Node = {
        "id": str(hash_int(tariff.tariff_code) % 100_000),
        "displayName": tariff.display_name,
        "fullName": f"{tariff.display_name} ({tariff.product_code})",
        "description": f"Simulated {tariff.display_name} tariff.",
        "productCode": tariff.product_code,
        "tariffCode": tariff.tariff_code,
        "standingCharge": float(tariff.standing_inc_vat),
        "preVatStandingCharge": float(tariff.standing_pre_vat),
    }
    if tariff.half_hourly:
        node["__typename"] = "HalfHourlyTariff"
        node["unitRates"] = lambda _info: _unit_rates(tariff, now)
        node["agileCalculationInfo"] = {
            "priceCap": 100.0,
            "peakOffset": 12.0,
            "gspCoefficient": 2.2,
        }
        return node
    pre, inc = tariff.unit_rate(now)
    node["__typename"] = "GasTariffType" if tariff.kind == "gas" else "StandardTariff"
    node.update(unitRate=float(inc), preVatUnitRate=float(pre), unitRateEpgApplied=False)
    return node


def _unit_rates(tariff: Tariff, now: datetime) -> list[Node]:
    """Half-hourly rates from the start of today (UTC) to the end of the published prices."""
    first = int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()) // HALF_HOUR
    end = int(agile_published_until(now).timestamp()) // HALF_HOUR
    rows = []
    for half_hour in range(first, end):
        start = datetime.fromtimestamp(half_hour * HALF_HOUR, UTC)
        pre, inc = tariff.unit_rate(start)
        valid_to = start + timedelta(seconds=HALF_HOUR)
        rows.append(
            {
                "validFrom": start,
                "validTo": valid_to,
                "value": float(inc),
                "preVatValue": float(pre),
            }
        )
    return rows


def _device(device_id: str, serial: str, kind: str, node_id: int) -> Node:
    electric = kind == "ESME"
    return {
        "id": str(node_id),
        "deviceId": device_id,
        "serialNumber": serial,
        "type": kind,
        "status": "COMMISSIONED",
        "manufacturer": ESME_MANUFACTURER if electric else "1021 - Landis+Gyr",
        "model": ESME_MODEL if electric else "G470",
        "firmwareVersion": ESME_FIRMWARE if electric else "02000A00",
    }


def _meters(records: list[tuple[Node, int]], now: datetime) -> Callable[..., list[Node]]:
    """MeterPoint.meters(id, includeInactive): (meter node, meter id) records, inactive hidden."""

    def resolve(_info: object, **args: Any) -> list[Node]:
        wanted = args.get("id")
        return [
            meter
            for meter, meter_id in records
            if (wanted is None or wanted == meter_id)
            and (
                args.get("includeInactive")
                or meter["activeTo"] is None
                or meter["activeTo"] > now.date()
            )
        ]

    return resolve


def _agreements(
    point: ElectricityPoint | GasPoint, point_node: Node, now: datetime
) -> Callable[..., list[Node]]:
    """MeterPoint.agreements(validAfter, includeInactive, excludeFuture)."""

    def resolve(_info: object, **args: Any) -> list[Node]:
        kept = []
        for agreement in agreements_of(point):
            ended = agreement.valid_to is not None and agreement.valid_to <= now
            after = args.get("validAfter")
            if (ended and not args.get("includeInactive")) or (
                after and agreement.valid_to is not None and agreement.valid_to <= after
            ):
                continue
            if args.get("excludeFuture") and agreement.valid_from > now:
                continue
            kept.append(_agreement_node(agreement, point_node, now))
        return kept

    return resolve


def _electricity_point(point: ElectricityPoint, now: datetime) -> Node:
    device = _device(point.device_id, point.serial, "ESME", 10_000 + point.meter_id)
    export = point.direction == "EXPORT"
    meter = {
        "id": str(point.meter_id),
        "serialNumber": point.serial,
        "activeFrom": point.active_from,
        "activeTo": None,
        "makeAndType": "EDMI ES-10B",
        "meterType": point.meter_type,
        "smartImportElectricityMeter": None if export else device,
        "smartExportElectricityMeter": device if export else None,
        "consumptionUnits": "kWh",
        "smartDevices": [device],
    }
    node: Node = {
        "id": str(20_000 + point.meter_id),
        "mpan": point.mpan,
        "direction": point.direction,
        "gspGroupId": f"_{point.tariff.tariff_code[-1] if point.tariff else 'J'}",
        "meters": _meters([(meter, point.meter_id)], now),
    }
    node["agreements"] = _agreements(point, node, now)
    return node


def _gas_meter(
    serial: str,
    meter_id: int,
    device_id: str | None,
    active: tuple[date, date | None],
    mechanism: str,
) -> tuple[Node, int]:
    device = None if device_id is None else _device(device_id, serial, "GSME", 10_000 + meter_id)
    meter = {
        "id": str(meter_id),
        "serialNumber": serial,
        "activeFrom": active[0],
        "activeTo": active[1],
        "modelName": "E6S" if mechanism == "S2" else "G4SZV-1",
        "mechanism": mechanism,
        "smartGasMeter": device,
        "consumptionUnits": "m³",  # the meter's own unit; telemetry is in kWh (API.md §3.3)
        "smartDevices": [] if device is None else [device],
    }
    return meter, meter_id


def _gas_point(point: GasPoint, now: datetime) -> Node:
    records = [
        _gas_meter(r.serial, r.meter_id, r.device_id, (r.active_from, r.active_to), r.mechanism)
        for r in point.other_meters
    ]
    records.append(
        _gas_meter(point.serial, point.meter_id, point.device_id, (date(2023, 4, 24), None), "S2")
    )
    node: Node = {
        "id": str(20_000 + point.meter_id),
        "mprn": point.mprn,
        "meters": _meters(records, now),
    }
    node["agreements"] = _agreements(point, node, now)
    return node


def _agreement_node(agreement: Agreement, point_node: Node, now: datetime) -> Node:
    return {
        "id": agreement.id,
        "validFrom": agreement.valid_from,
        "validTo": agreement.valid_to,
        "meterPoint": point_node,
        "tariff": tariff_node(agreement.tariff, now),
    }


def account_node(fixture: Fixture, now: datetime) -> Node:
    """The AccountType of a fixture as seen at ``now``."""
    electricity: list[tuple[Agreement, Node]] = []
    for point in fixture.electricity:
        node = _electricity_point(point, now)
        electricity.extend((agreement, node) for agreement in agreements_of(point))
    gas: list[tuple[Agreement, Node]] = []
    for gas_point in fixture.gas:
        node = _gas_point(gas_point, now)
        gas.extend((agreement, node) for agreement in agreements_of(gas_point))

    def pick(pairs: list[tuple[Agreement, Node]]) -> Callable[..., list[Node]]:
        def resolve(_info: object, active: bool | None = None) -> list[Node]:
            return [
                _agreement_node(agreement, node, now)
                for agreement, node in pairs
                if active is None or agreement.active(now) == active
            ]

        return resolve

    return {
        "__typename": "AccountType",
        "id": str(fixture.user_id + 500_000),
        "number": fixture.account_number,
        "electricityAgreements": pick(electricity),
        "gasAgreements": pick(gas),
    }


def viewer_node(fixture: Fixture, now: datetime) -> Node:
    """The AccountUserType behind a fixture's API key."""
    return {
        "id": str(fixture.user_id),
        "accounts": [account_node(fixture, now)],
        "givenName": "Sim",
        "familyName": "Customer",
        "email": fixture.email,
    }
