"""Config flow: API key and account number in, one entry per meter with a Home Mini out."""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_API_KEY
from homeassistant.data_entry_flow import section
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio as vol

from .api import (
    KrakenAccountNotFoundError,
    KrakenAuthenticationError,
    KrakenClient,
    KrakenError,
    KrakenNoHomeMiniError,
    KrakenRateLimitError,
    KrakenServiceUnavailableError,
    SmartMeter,
)
from .const import (
    CONF_ACCOUNT_NUMBER,
    CONF_API_URL,
    CONF_DEVICE_ID,
    CONF_EXPORT_DEVICE_ID,
    CONF_MPAN,
    CONF_SERIAL_NUMBER,
    DEFAULT_API_URL,
    DOMAIN,
    LOGGER,
    SECTION_ADVANCED,
)

ACCOUNT_NUMBER = re.compile(r"^A-[A-Z0-9]{8}$")
NO_TELEMETRY_CODE = "KT-GB-4039"


class _FlowError(Exception):
    """A validation failure: the form error key and the field it belongs to."""

    def __init__(self, key: str, field: str = "base") -> None:
        super().__init__(key)
        self.key = key
        self.field = field


def _user_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_API_KEY): TextSelector(
                TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="off")
            ),
            vol.Required(
                CONF_ACCOUNT_NUMBER, default=defaults.get(CONF_ACCOUNT_NUMBER, vol.UNDEFINED)
            ): TextSelector(),
            vol.Optional(SECTION_ADVANCED, default={}): section(
                vol.Schema(
                    {
                        vol.Optional(
                            CONF_API_URL, default=defaults.get(CONF_API_URL, DEFAULT_API_URL)
                        ): TextSelector(TextSelectorConfig(type=TextSelectorType.URL)),
                    }
                ),
                {"collapsed": True},
            ),
        }
    )


def _meter_label(meter: SmartMeter) -> str:
    return f"MPAN {meter.mpan} · meter {meter.serial_number}"


class OctopusHomeMiniConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up one Home Mini (one smart meter) per entry."""

    VERSION = 1

    def __init__(self) -> None:
        """Hold what the user entered between steps."""
        self._credentials: dict[str, str] = {}
        self._meters: dict[str, SmartMeter] = {}

    async def _validate(self, api_key: str, account_number: str, api_url: str) -> list[SmartMeter]:
        """Make real calls: token, account, meters, and a latest read for each meter."""
        client = KrakenClient(async_get_clientsession(self.hass), api_key, base_url=api_url)
        try:
            await client.authenticate()
            account = await client.get_account(account_number)
            reporting = []
            for meter in account.smart_meters:
                try:
                    if await client.get_latest_telemetry(meter.device_id) is not None:
                        reporting.append(meter)
                except KrakenNoHomeMiniError:
                    continue
                except KrakenServiceUnavailableError as err:
                    # Token and account answered, so the API is up: Kraken answers KT-GB-4039
                    # for a meter with no consumption device (no Home Mini) reporting.
                    if err.code != NO_TELEMETRY_CODE:
                        raise
        except KrakenAuthenticationError as err:
            raise _FlowError("invalid_auth", CONF_API_KEY) from err
        except KrakenAccountNotFoundError as err:
            raise _FlowError("invalid_account", CONF_ACCOUNT_NUMBER) from err
        except KrakenRateLimitError as err:
            raise _FlowError("rate_limited") from err
        except KrakenError as err:
            raise _FlowError("cannot_connect") from err
        except Exception as err:
            LOGGER.exception("Unexpected error while validating the Octopus account")
            raise _FlowError("unknown") from err
        if not reporting:
            raise _FlowError("no_home_mini")
        return reporting

    async def _validate_input(
        self, user_input: dict[str, Any]
    ) -> tuple[dict[str, str], list[SmartMeter]]:
        """Normalise the form and validate it; returns the credentials and reporting meters."""
        account_number = str(user_input[CONF_ACCOUNT_NUMBER]).strip().upper()
        api_key = str(user_input[CONF_API_KEY]).strip()
        api_url = str(
            user_input.get(SECTION_ADVANCED, {}).get(CONF_API_URL) or DEFAULT_API_URL
        ).strip()
        if not ACCOUNT_NUMBER.match(account_number):
            raise _FlowError("invalid_account_format", CONF_ACCOUNT_NUMBER)
        meters = await self._validate(api_key, account_number, api_url.rstrip("/"))
        credentials = {
            CONF_API_KEY: api_key,
            CONF_ACCOUNT_NUMBER: account_number,
            CONF_API_URL: api_url.rstrip("/"),
        }
        return credentials, meters

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the API key and account number."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                self._credentials, meters = await self._validate_input(user_input)
            except _FlowError as err:
                errors[err.field] = err.key
            else:
                self._meters = {meter.device_id: meter for meter in meters}
                if len(meters) == 1:
                    return await self._async_create(meters[0])
                return await self.async_step_meter()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                _user_schema(user_input or {}), user_input
            ),
            errors=errors,
        )

    async def async_step_meter(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick one of several meters with a Home Mini."""
        if user_input is not None:
            return await self._async_create(self._meters[user_input[CONF_DEVICE_ID]])
        configured = {entry.unique_id for entry in self._async_current_entries()}
        options = [
            SelectOptionDict(value=device_id, label=_meter_label(meter))
            for device_id, meter in self._meters.items()
            if device_id not in configured
        ]
        if not options:
            return self.async_abort(reason="already_configured")
        return self.async_show_form(
            step_id="meter",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_DEVICE_ID): SelectSelector(
                        SelectSelectorConfig(options=options)
                    )
                }
            ),
        )

    async def _async_create(self, meter: SmartMeter) -> ConfigFlowResult:
        await self.async_set_unique_id(meter.device_id)
        self._abort_if_unique_id_configured()
        return self.async_create_entry(
            title=f"Home Mini {meter.serial_number}",
            data={**self._credentials, **_meter_data(meter)},
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The API key was rejected: ask for a new one."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Validate a new API key against the same account and meter."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                _, meters = await self._validate_input(
                    {
                        **entry.data,
                        CONF_API_KEY: user_input[CONF_API_KEY],
                        SECTION_ADVANCED: {CONF_API_URL: entry.data[CONF_API_URL]},
                    }
                )
            except _FlowError as err:
                if err.key == "invalid_account":
                    return self.async_abort(reason="wrong_account")
                errors[CONF_API_KEY if err.field != "base" else "base"] = err.key
            else:
                if entry.unique_id not in {meter.device_id for meter in meters}:
                    return self.async_abort(reason="wrong_account")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_API_KEY: user_input[CONF_API_KEY].strip()}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_API_KEY): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="off")
                    )
                }
            ),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the API key, account number or API URL of an existing meter."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                credentials, meters = await self._validate_input(user_input)
            except _FlowError as err:
                errors[err.field] = err.key
            else:
                await self.async_set_unique_id(entry.unique_id)
                if entry.unique_id not in {meter.device_id for meter in meters}:
                    return self.async_abort(reason="wrong_account")
                return self.async_update_reload_and_abort(entry, data_updates=credentials)
        defaults = user_input or {
            CONF_ACCOUNT_NUMBER: entry.data[CONF_ACCOUNT_NUMBER],
            CONF_API_URL: entry.data[CONF_API_URL],
        }
        return self.async_show_form(
            step_id="reconfigure", data_schema=_user_schema(defaults), errors=errors
        )


def _meter_data(meter: SmartMeter) -> dict[str, str]:
    data = {
        CONF_DEVICE_ID: meter.device_id,
        CONF_MPAN: meter.mpan,
        CONF_SERIAL_NUMBER: meter.serial_number,
    }
    if meter.export_device_id:
        data[CONF_EXPORT_DEVICE_ID] = meter.export_device_id
    return data
