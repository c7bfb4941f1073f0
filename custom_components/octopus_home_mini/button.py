"""A button that starts a new cost session (e.g. before an appliance runs)."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import HomeMiniConfigEntry
from .entity import HomeMiniEntity

PARALLEL_UPDATES = 0

RESET_SESSION = ButtonEntityDescription(key="reset_session", translation_key="reset_session")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeMiniConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the session reset button."""
    coordinator = entry.runtime_data.coordinator
    if not coordinator.gas:  # sessions time appliances by the 10-second electricity readings
        async_add_entities([HomeMiniResetSession(coordinator, RESET_SESSION)])


class HomeMiniResetSession(HomeMiniEntity, ButtonEntity):
    """Zero the session cost; only readings taken after the press count."""

    async def async_press(self) -> None:
        """Start a new session now."""
        self.coordinator.reset_session()
