"""Config flow for Octopus Home Mini."""

from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult

from .const import DOMAIN


class OctopusHomeMiniConfigFlow(ConfigFlow, domain=DOMAIN):
    """Handle a config flow for Octopus Home Mini."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Handle the initial step."""
        return self.async_abort(reason="not_implemented")
