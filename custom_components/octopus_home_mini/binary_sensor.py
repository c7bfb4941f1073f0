"""Whether the Home Mini is reporting."""

from __future__ import annotations

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .coordinator import HomeMiniConfigEntry
from .entity import HomeMiniEntity

PARALLEL_UPDATES = 0

ONLINE = BinarySensorEntityDescription(
    key="online",
    translation_key="online",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeMiniConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the online sensor."""
    async_add_entities([HomeMiniOnline(entry.runtime_data.coordinator, ONLINE)])


class HomeMiniOnline(HomeMiniEntity, BinarySensorEntity):
    """On while the newest sample is younger than three minutes."""

    @property
    def is_on(self) -> bool:
        """Whether the Mini's newest sample is recent."""
        return self.coordinator.data.is_online(dt_util.utcnow())
