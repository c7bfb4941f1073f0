"""Sensors: live demand, the meter's registers, the tariff, and what it all costs."""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfEnergy, UnitOfPower, UnitOfVolume
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .const import DEMAND_LEVELS
from .coordinator import HomeMiniConfigEntry
from .data import HomeMiniData, gas_volume_m3, next_local_midnight
from .entity import HomeMiniEntity

PARALLEL_UPDATES = 0

CURRENCY = "GBP"
PENCE_PER_POUND = Decimal(100)
#: Money is shown to 1/1000 p; it is summed exactly (Decimal) underneath.
MONEY_QUANTUM = Decimal("0.00001")

type StateType = Decimal | datetime | str | None

ELECTRICITY = frozenset({"electricity"})
GAS = frozenset({"gas"})
BOTH = ELECTRICITY | GAS


def demand_level(demand_w: Decimal | None) -> str | None:
    """The band a demand falls into (export counts as low)."""
    if demand_w is None:
        return None
    for level, upper in DEMAND_LEVELS:
        if upper is None or demand_w < upper:
            return level
    return None  # pragma: no cover - the last band has no upper bound


def pounds(pence: Decimal | None) -> Decimal | None:
    """Pence to pounds, for display."""
    return None if pence is None else (pence / PENCE_PER_POUND).quantize(MONEY_QUANTUM)


def _price(pence: Decimal | None) -> Decimal | None:
    """A price in pence to pounds, exactly (Agile rates have four decimals of a penny)."""
    return None if pence is None else pence / PENCE_PER_POUND


def _kwh(wh: Decimal | None) -> Decimal | None:
    return None if wh is None else wh / 1000


def _demand(data: HomeMiniData) -> Decimal | None:
    return data.newest.demand_w if data.newest else None


def cost_rate(data: HomeMiniData, now: datetime) -> Decimal | None:
    """Current demand priced at the current unit rate, in GBP per hour."""
    demand, rate = _demand(data), data.unit_rate_pence(now)
    if demand is None or rate is None:
        return None
    return pounds(demand / 1000 * rate)


def _projected(
    cost: Decimal, typical: Decimal | None, elapsed: Decimal, left: Decimal, unheld: Decimal
) -> Decimal | None:
    """Cost held so far plus, at a pace, the time still to come and the time not held yet.

    The pace is the last week's typical day; without one, the pace of the time the ledger
    holds (never a partly filled period divided by all of it).
    """
    if typical is not None:
        pace = typical / 86400
    elif (held := elapsed - unheld) > 0:
        pace = cost / held
    else:
        return None
    return pounds(cost + pace * (left + unheld))


def projected_today(data: HomeMiniData, now: datetime) -> Decimal | None:
    """Cost so far, plus the rest of the day at the last week's typical pace (else today's)."""
    day_end = next_local_midnight(now, data.time_zone)
    day_seconds = Decimal((day_end - data.day_started).total_seconds())
    left = Decimal(max(0.0, (day_end - now).total_seconds()))
    return _projected(
        data.cost_today_pence,
        data.typical_day_cost_pence,
        day_seconds - left,
        left,
        data.day_unheld_s,
    )


def projected_month(data: HomeMiniData, now: datetime) -> Decimal | None:
    """Month to date, plus the rest of the month at the last week's typical daily cost (else
    at the pace of the part of the month the ledger holds)."""
    local = now.astimezone(data.time_zone)
    month_days = Decimal(monthrange(local.year, local.month)[1])
    elapsed = Decimal((now - data.month_started).total_seconds())
    left = max(Decimal(0), month_days * 86400 - elapsed)
    return _projected(
        data.month_cost_pence, data.typical_day_cost_pence, elapsed, left, data.month_unheld_s
    )


@dataclass(frozen=True, kw_only=True)
class HomeMiniSensorDescription(SensorEntityDescription):
    """How one sensor reads the coordinator's snapshot."""

    value_fn: Callable[[HomeMiniData, datetime], StateType]
    last_reset_fn: Callable[[HomeMiniData], datetime] | None = None
    #: Whether the value is live data that turns unavailable when the Mini is offline.
    needs_online: bool = False
    #: The meters that have it: electricity, gas or both.
    fuels: frozenset[str] = ELECTRICITY
    #: Only for a meter paid for export; unavailable while it reports no export register.
    exports: bool = False


SENSORS: tuple[HomeMiniSensorDescription, ...] = (
    HomeMiniSensorDescription(
        key="demand",
        translation_key="demand",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        needs_online=True,
        value_fn=lambda data, _: _demand(data),
    ),
    HomeMiniSensorDescription(
        key="consumption",
        translation_key="consumption",
        fuels=BOTH,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=3,
        value_fn=lambda data, _: _kwh(data.consumption_wh),
    ),
    HomeMiniSensorDescription(
        key="consumption_volume",
        translation_key="consumption_volume",
        device_class=SensorDeviceClass.GAS,
        native_unit_of_measurement=UnitOfVolume.CUBIC_METERS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=3,
        fuels=GAS,
        value_fn=lambda data, _: gas_volume_m3(
            data.consumption_wh, data.calorific_value, data.volume_from
        ),
    ),
    HomeMiniSensorDescription(
        key="export",
        translation_key="export",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=3,
        entity_registry_enabled_default=False,
        value_fn=lambda data, _: _kwh(data.export_wh),
    ),
    HomeMiniSensorDescription(
        key="demand_level",
        translation_key="demand_level",
        device_class=SensorDeviceClass.ENUM,
        options=[level for level, _ in DEMAND_LEVELS],
        needs_online=True,
        value_fn=lambda data, _: demand_level(_demand(data)),
    ),
    HomeMiniSensorDescription(
        key="last_reading",
        translation_key="last_reading",
        fuels=BOTH,
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data, _: data.newest.read_at if data.newest else None,
    ),
    HomeMiniSensorDescription(
        key="unit_rate",
        translation_key="unit_rate",
        fuels=BOTH,
        native_unit_of_measurement=f"{CURRENCY}/{UnitOfEnergy.KILO_WATT_HOUR}",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=4,
        value_fn=lambda data, now: _price(data.unit_rate_pence(now)),
    ),
    HomeMiniSensorDescription(
        key="standing_charge",
        translation_key="standing_charge",
        fuels=BOTH,
        native_unit_of_measurement=f"{CURRENCY}/d",
        suggested_display_precision=4,
        value_fn=lambda data, _: pounds(data.tariff.standing_charge_pence) if data.tariff else None,
    ),
    HomeMiniSensorDescription(
        key="session_cost",
        translation_key="session_cost",
        state_class=SensorStateClass.TOTAL,
        value_fn=lambda data, _: pounds(data.session_cost_pence),
        last_reset_fn=lambda data: data.session_started,
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=CURRENCY,
        suggested_display_precision=2,
    ),
    HomeMiniSensorDescription(
        key="cost_today",
        translation_key="cost_today",
        fuels=BOTH,
        state_class=SensorStateClass.TOTAL,
        value_fn=lambda data, _: pounds(data.cost_today_pence),
        last_reset_fn=lambda data: data.day_started,
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=CURRENCY,
        suggested_display_precision=2,
    ),
    HomeMiniSensorDescription(
        key="consumption_today",
        translation_key="consumption_today",
        fuels=BOTH,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=3,
        value_fn=lambda data, _: _kwh(data.energy_today_wh),
        last_reset_fn=lambda data: data.day_started,
    ),
    HomeMiniSensorDescription(
        key="export_today",
        translation_key="export_today",
        exports=True,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=3,
        value_fn=lambda data, _: _kwh(data.export_today_wh),
        last_reset_fn=lambda data: data.day_started,
    ),
    HomeMiniSensorDescription(
        key="export_earnings_today",
        translation_key="export_earnings_today",
        exports=True,
        state_class=SensorStateClass.TOTAL,
        value_fn=lambda data, _: pounds(data.earnings_today_pence),
        last_reset_fn=lambda data: data.day_started,
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=CURRENCY,
        suggested_display_precision=2,
    ),
    HomeMiniSensorDescription(
        key="net_cost_today",
        translation_key="net_cost_today",
        exports=True,
        state_class=SensorStateClass.TOTAL,
        value_fn=lambda data, _: pounds(data.cost_today_pence - data.earnings_today_pence),
        last_reset_fn=lambda data: data.day_started,
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=CURRENCY,
        suggested_display_precision=2,
    ),
    HomeMiniSensorDescription(
        key="export_rate",
        translation_key="export_rate",
        exports=True,
        native_unit_of_measurement=f"{CURRENCY}/{UnitOfEnergy.KILO_WATT_HOUR}",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=4,
        value_fn=lambda data, now: _price(data.export_rate_pence(now)),
    ),
    HomeMiniSensorDescription(
        key="cost_rate",
        translation_key="cost_rate",
        native_unit_of_measurement=f"{CURRENCY}/h",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=3,
        needs_online=True,
        value_fn=cost_rate,
    ),
    HomeMiniSensorDescription(
        key="projected_cost_today",
        translation_key="projected_cost_today",
        value_fn=projected_today,
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=CURRENCY,
        suggested_display_precision=2,
    ),
    HomeMiniSensorDescription(
        key="projected_cost_month",
        translation_key="projected_cost_month",
        value_fn=projected_month,
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=CURRENCY,
        suggested_display_precision=2,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeMiniConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the meter's sensors."""
    coordinator = entry.runtime_data.coordinator
    fuel = "gas" if coordinator.gas else "electricity"
    exports = coordinator.extras.exports_created = (
        not coordinator.gas and coordinator.meter.export_tariff is not None
    )
    entities: list[SensorEntity] = [
        HomeMiniSensor(coordinator, description)
        for description in SENSORS
        if fuel in description.fuels and (exports or not description.exports)
    ]
    if entry.runtime_data.link.points.supported is not False:
        entities.append(ApiRequestsSensor(coordinator, API_REQUESTS))
    async_add_entities(entities)


class HomeMiniSensor(HomeMiniEntity, SensorEntity):
    """A sensor backed by the meter's coordinator."""

    entity_description: HomeMiniSensorDescription

    @property
    def available(self) -> bool:
        """Live values are unavailable, not stale, while the Mini is offline."""
        if not super().available:
            return False
        data = self.coordinator.data
        if self.entity_description.exports and (data.export_tariff is None or not data.export_wh):
            return False  # no export agreement now, or the meter reports no export register
        return not self.entity_description.needs_online or data.is_online(dt_util.utcnow())

    @property
    def native_value(self) -> StateType:
        """The value from the newest snapshot."""
        return self.entity_description.value_fn(self.coordinator.data, dt_util.utcnow())

    @property
    def last_reset(self) -> datetime | None:
        """When a `total` sensor last started again from zero."""
        if self.entity_description.last_reset_fn is None:
            return None
        return self.entity_description.last_reset_fn(self.coordinator.data)


API_REQUESTS = SensorEntityDescription(
    key="api_requests",
    translation_key="api_requests",
    native_unit_of_measurement="requests",
    state_class=SensorStateClass.MEASUREMENT,
    entity_category=EntityCategory.DIAGNOSTIC,
)


class ApiRequestsSensor(HomeMiniEntity, SensorEntity):
    """The account's requests in the last hour (ours), with Kraken's points as attributes.

    Our count is the state: Kraken's points allowance may not be the limit that binds (the
    telemetry field has its own throttle), so its figures are evidence beside it.
    """

    @property
    def native_value(self) -> int:
        """Requests this account made in the last hour."""
        return int(self.coordinator.link.budget.used())

    @property
    def extra_state_attributes(self) -> dict[str, object]:
        """Kraken's figures as last read (every 30 minutes)."""
        allowance = self.coordinator.link.points.allowance
        if allowance is None:
            return {}
        return {
            "points_limit": allowance.limit,
            "points_used": allowance.used,
            "points_remaining": allowance.remaining,
            "points_renew_at": allowance.renews_at.isoformat() if allowance.renews_at else None,
            "blocked": allowance.blocked,
        }
