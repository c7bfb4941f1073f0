"""Typed, immutable models of the Kraken API's answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class TelemetryGrouping(StrEnum):
    """Granularity of a ``smartMeterTelemetry`` range query (the API's enum, complete)."""

    TEN_SECONDS = "TEN_SECONDS"
    ONE_MINUTE = "ONE_MINUTE"
    FIVE_MINUTES = "FIVE_MINUTES"
    HALF_HOURLY = "HALF_HOURLY"
    HOURLY = "HOURLY"


class Fuel(StrEnum):
    """What a meter measures."""

    ELECTRICITY = "electricity"
    GAS = "gas"


class MeterDirection(StrEnum):
    """Whether an electricity meter point imports or exports."""

    IMPORT = "IMPORT"
    EXPORT = "EXPORT"


class TariffKind(StrEnum):
    """The GraphQL type a tariff came from: an ``ElectricityTariffType`` member, or gas."""

    STANDARD = "StandardTariff"
    DAY_NIGHT = "DayNightTariff"
    THREE_RATE = "ThreeRateTariff"
    HALF_HOURLY = "HalfHourlyTariff"
    PREPAY = "PrepayTariff"
    GAS = "GasTariffType"

    @property
    def fuel(self) -> Fuel:
        """The fuel a tariff of this kind prices."""
        return Fuel.GAS if self is TariffKind.GAS else Fuel.ELECTRICITY


@dataclass(frozen=True, slots=True)
class Token:
    """An access token with its refresh token; secrets are kept out of ``repr``."""

    token: str = field(repr=False)
    expires_at: datetime
    refresh_token: str | None = field(repr=False)
    refresh_expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Allowance:
    """Kraken's points allowance for the viewer (``rateLimitInfo``); any figure may be absent."""

    limit: int | None
    used: int | None
    remaining: int | None
    #: When a new allowance starts.
    renews_at: datetime | None
    blocked: bool

    @property
    def low(self) -> bool:
        """Blocked, or less than a tenth of the allowance left."""
        if self.blocked:
            return True
        if self.limit and self.remaining is not None:
            return self.remaining < self.limit / 10
        return False


@dataclass(frozen=True, slots=True)
class UnitRate:
    """One price period, pence per kWh including VAT; ``valid_to`` None is open-ended."""

    valid_from: datetime | None
    valid_to: datetime | None
    value_pence: Decimal


@dataclass(frozen=True, slots=True)
class Tariff:
    """An electricity or gas tariff; prices in pence including VAT.

    ``valid_from``/``valid_to`` bound the agreement the tariff came with (None: not given,
    or open-ended).
    """

    kind: TariffKind
    product_code: str | None
    tariff_code: str | None
    display_name: str | None
    standing_charge_pence: Decimal | None
    unit_rate_pence: Decimal | None = None
    day_rate_pence: Decimal | None = None
    night_rate_pence: Decimal | None = None
    off_peak_rate_pence: Decimal | None = None
    unit_rates: tuple[UnitRate, ...] = ()
    valid_from: datetime | None = None
    valid_to: datetime | None = None


class AccountTariffs(dict[str, Tariff]):
    """Active tariffs by meter point (MPAN, or MPRN for gas), and which are export tariffs.

    ``exports`` maps each EXPORT meter point with an agreement to the serial numbers of its
    meters: an export point and its import point share the physical meter (API.md §3.4).
    """

    def __init__(
        self, tariffs: dict[str, Tariff], exports: dict[str, tuple[str, ...]] | None = None
    ) -> None:
        """Tariffs by meter point; ``exports``: export MPAN -> its meters' serial numbers."""
        super().__init__(tariffs)
        self.exports = dict(exports or {})

    def export_for(self, serial_number: str) -> Tariff | None:
        """The export tariff paid for what the meter ``serial_number`` exports, if any.

        An export point whose meters are not listed serves the account's only import meter
        only when it is the account's only export point.
        """
        for mpan, serials in self.exports.items():
            if serial_number in serials:
                return self.get(mpan)
        unlisted = [mpan for mpan, serials in self.exports.items() if not serials]
        return self.get(unlisted[0]) if len(self.exports) == 1 and unlisted else None


@dataclass(frozen=True, slots=True)
class ElectricityMeter:
    """A physical electricity meter and its smart devices."""

    serial_number: str
    active_from: date | None
    active_to: date | None
    meter_type: str | None
    import_device_id: str | None
    export_device_id: str | None


@dataclass(frozen=True, slots=True)
class ElectricityMeterPoint:
    """An MPAN with its meters and the tariff of its active agreement."""

    mpan: str
    direction: MeterDirection
    meters: tuple[ElectricityMeter, ...]
    tariff: Tariff | None


@dataclass(frozen=True, slots=True)
class GasMeter:
    """A gas meter record and its smart device (GSME).

    ``consumption_units`` is the meter's own unit (``m³`` or ``kWh``); its telemetry comes in
    kWh-equivalent Wh either way.
    """

    serial_number: str
    device_id: str | None
    active_from: date | None = None
    active_to: date | None = None
    consumption_units: str | None = None
    mechanism: str | None = None


@dataclass(frozen=True, slots=True)
class GasMeterPoint:
    """An MPRN with its meters and the tariff of its active agreement."""

    mprn: str
    meters: tuple[GasMeter, ...]
    tariff: Tariff | None = None


@dataclass(frozen=True, slots=True)
class SmartMeter:
    """A smart meter that can report telemetry: an import ESME, or a GSME.

    ``meter_point`` is the MPAN (electricity) or MPRN (gas); gas has no export device.
    """

    device_id: str
    meter_point: str
    serial_number: str
    export_device_id: str | None = None
    fuel: Fuel = Fuel.ELECTRICITY

    @property
    def mpan(self) -> str:
        """``meter_point`` by its electricity name (callers written before gas use it)."""
        return self.meter_point


@dataclass(frozen=True, slots=True)
class Account:
    """An account's meter points."""

    number: str
    electricity_meter_points: tuple[ElectricityMeterPoint, ...]
    gas_meter_points: tuple[GasMeterPoint, ...]

    @property
    def smart_meters(self) -> tuple[SmartMeter, ...]:
        """Active electricity import meters with a device id, newest first per meter point."""
        found: list[SmartMeter] = []
        for point in self.electricity_meter_points:
            if point.direction is not MeterDirection.IMPORT:
                continue
            active = sorted(
                (m for m in point.meters if m.active_to is None and m.import_device_id),
                key=lambda m: m.active_from or date.min,
                reverse=True,
            )
            found.extend(
                SmartMeter(
                    device_id=meter.import_device_id,
                    meter_point=point.mpan,
                    serial_number=meter.serial_number,
                    export_device_id=meter.export_device_id or self._export_device(meter),
                )
                for meter in active
                if meter.import_device_id is not None
            )
        return tuple(found)

    @property
    def gas_smart_meters(self) -> tuple[SmartMeter, ...]:
        """Active gas meters with a GSME device id, newest first per meter point.

        A meter point can list several meter records of which only one has a device id
        (BottlecapDave #1672); records without one, inactive ones and repeats are skipped.
        """
        found: dict[str, SmartMeter] = {}
        for point in self.gas_meter_points:
            active = sorted(
                (m for m in point.meters if m.active_to is None and m.device_id),
                key=lambda m: m.active_from or date.min,
                reverse=True,
            )
            for meter in active:
                if meter.device_id is not None and meter.device_id not in found:
                    found[meter.device_id] = SmartMeter(
                        device_id=meter.device_id,
                        meter_point=point.mprn,
                        serial_number=meter.serial_number,
                        fuel=Fuel.GAS,
                    )
        return tuple(found.values())

    @property
    def telemetry_meters(self) -> tuple[SmartMeter, ...]:
        """Every meter a Home Mini could report: electricity imports, then gas."""
        return (*self.smart_meters, *self.gas_smart_meters)

    def _export_device(self, import_meter: ElectricityMeter) -> str | None:
        """The export device of the same physical meter, from an EXPORT meter point."""
        for point in self.electricity_meter_points:
            if point.direction is MeterDirection.EXPORT:
                for meter in point.meters:
                    if meter.serial_number == import_meter.serial_number:
                        return meter.export_device_id
        return None


@dataclass(frozen=True, slots=True)
class TelemetryReading:
    """One telemetry row; ``None`` means the API sent null (never turned into 0)."""

    read_at: datetime
    consumption_wh: Decimal | None
    demand_w: Decimal | None
    consumption_delta_wh: Decimal | None
    cost_delta_pence: Decimal | None
    cost_delta_with_tax_pence: Decimal | None
    export_wh: Decimal | None
