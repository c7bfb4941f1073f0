"""Sensors: demand, the meter's registers, demand level and the last reading's time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfEnergy, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .const import DEMAND_LEVELS
from .coordinator import HomeMiniConfigEntry, HomeMiniData
from .entity import HomeMiniEntity

PARALLEL_UPDATES = 0

type StateType = Decimal | datetime | str | None


def demand_level(demand_w: Decimal | None) -> str | None:
    """The band a demand falls into (export counts as low)."""
    if demand_w is None:
        return None
    for level, upper in DEMAND_LEVELS:
        if upper is None or demand_w < upper:
            return level
    return None  # pragma: no cover - the last band has no upper bound


def _kwh(wh: Decimal | None) -> Decimal | None:
    return None if wh is None else wh / 1000


@dataclass(frozen=True, kw_only=True)
class HomeMiniSensorDescription(SensorEntityDescription):
    """How one sensor reads the coordinator's snapshot."""

    value_fn: Callable[[HomeMiniData], StateType]
    #: Whether the value is live data that turns unavailable when the Mini is offline.
    needs_online: bool = False


SENSORS: tuple[HomeMiniSensorDescription, ...] = (
    HomeMiniSensorDescription(
        key="demand",
        translation_key="demand",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        needs_online=True,
        value_fn=lambda data: data.newest.demand_w if data.newest else None,
    ),
    HomeMiniSensorDescription(
        key="consumption",
        translation_key="consumption",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=3,
        value_fn=lambda data: _kwh(data.consumption_wh),
    ),
    HomeMiniSensorDescription(
        key="export",
        translation_key="export",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=3,
        entity_registry_enabled_default=False,
        value_fn=lambda data: _kwh(data.export_wh),
    ),
    HomeMiniSensorDescription(
        key="demand_level",
        translation_key="demand_level",
        device_class=SensorDeviceClass.ENUM,
        options=[level for level, _ in DEMAND_LEVELS],
        needs_online=True,
        value_fn=lambda data: demand_level(data.newest.demand_w if data.newest else None),
    ),
    HomeMiniSensorDescription(
        key="last_reading",
        translation_key="last_reading",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: data.newest.read_at if data.newest else None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeMiniConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the meter's sensors."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(HomeMiniSensor(coordinator, description) for description in SENSORS)


class HomeMiniSensor(HomeMiniEntity, SensorEntity):
    """A sensor backed by the meter's coordinator."""

    entity_description: HomeMiniSensorDescription
    _unrecorded_attributes = frozenset({"samples"})

    @property
    def available(self) -> bool:
        """Live values are unavailable, not stale, while the Mini is offline."""
        if not super().available:
            return False
        return not self.entity_description.needs_online or self.coordinator.data.is_online(
            dt_util.utcnow()
        )

    @property
    def native_value(self) -> StateType:
        """The value from the newest snapshot."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The last five minutes of 10-s demand samples, for charts (not recorded)."""
        if self.entity_description.key != "demand":
            return None
        return {
            "samples": [
                [sample.read_at.isoformat(), float(sample.demand_w)]
                for sample in self.coordinator.data.samples
                if sample.demand_w is not None
            ]
        }
