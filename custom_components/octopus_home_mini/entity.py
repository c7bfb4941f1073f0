"""The base entity: one device per meter, unique ids from the meter's device id."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import CONF_SERIAL_NUMBER, DOMAIN
from .coordinator import HomeMiniCoordinator


class HomeMiniEntity(CoordinatorEntity[HomeMiniCoordinator]):
    """An entity of one Home Mini (one smart meter)."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: HomeMiniCoordinator, description: EntityDescription) -> None:
        """Attach the entity to the meter's device."""
        super().__init__(coordinator)
        self.entity_description = description
        data = coordinator.config_entry.data
        self._attr_unique_id = f"{coordinator.device_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, coordinator.device_id)},
            manufacturer="Octopus Energy",
            model="Home Mini",
            name=f"Home Mini {data[CONF_SERIAL_NUMBER]}",
            serial_number=data[CONF_SERIAL_NUMBER],
        )
