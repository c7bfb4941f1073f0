"""Config flow: API key and account number in, one entry per meter with a Home Mini out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
import re
from typing import Any

from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers import discovery_flow
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio as vol

from .account import account_budget, account_key
from .api import (
    Account,
    Fuel,
    KrakenAccountNotFoundError,
    KrakenAuthenticationError,
    KrakenClient,
    KrakenError,
    KrakenInsecureUrlError,
    KrakenInvalidUrlError,
    KrakenNoHomeMiniError,
    KrakenRateLimitError,
    KrakenServiceUnavailableError,
    SmartMeter,
    check_base_url,
)
from .const import (
    CONF_ACCOUNT_NUMBER,
    CONF_API_URL,
    CONF_CALORIFIC_VALUE,
    CONF_DEVICE_ID,
    CONF_LIVE_INTERVAL,
    CONF_VOLUME_FROM,
    DEFAULT_API_URL,
    DEFAULT_CALORIFIC_VALUE,
    DOMAIN,
    LIVE_INTERVAL_MAX,
    LIVE_INTERVAL_MIN,
    LOGGER,
    SECTION_ADVANCED,
    is_gas,
)
from .data import gas_volume_m3
from .discovery import discovered_meter, discovery_data, meter_data, set_up_meters

ACCOUNT_NUMBER = re.compile(r"^A-[A-Z0-9]{8}$")
NO_TELEMETRY_CODE = "KT-GB-4039"


class _FlowError(Exception):
    """A validation failure: the form error key and the field it belongs to."""

    def __init__(self, key: str, field: str = "base") -> None:
        super().__init__(key)
        self.key = key
        self.field = field


@contextmanager
def _flow_errors() -> Iterator[None]:
    """Turn the client's errors into form errors, on the field they concern."""
    try:
        yield
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


def _checked_url(raw: str) -> str:
    """The API URL, normalised, if the API key may be sent there."""
    try:
        return check_base_url(raw)
    except KrakenInsecureUrlError as err:
        raise _FlowError("insecure_url") from err
    except KrakenInvalidUrlError as err:
        raise _FlowError("invalid_url") from err


#: Errors about the API URL: shown at the top of the form (the frontend shows no error on a
#: field inside a section), with the section open so the field is in view.
URL_ERRORS = frozenset({"insecure_url", "invalid_url"})


KEY_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="off"))


def _user_schema(defaults: Mapping[str, Any], errors: Mapping[str, str]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_API_KEY): KEY_SELECTOR,
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
                {"collapsed": errors.get("base") not in URL_ERRORS},
            ),
        }
    )


#: Errors a discovered meter's one-click form cannot mend: the flow ends, saying why.
DISCOVERY_ABORTS = frozenset({"invalid_auth", "invalid_account", "no_home_mini"})


def _meter_label(meter: SmartMeter) -> str:
    if meter.fuel is Fuel.GAS:
        return f"Gas · MPRN {meter.meter_point} · meter {meter.serial_number}"
    return f"Electricity · MPAN {meter.meter_point} · meter {meter.serial_number}"


async def _account(
    hass: HomeAssistant, credentials: Mapping[str, str]
) -> tuple[KrakenClient, Account]:
    """Real calls that prove the key and the account: a token, then the account."""
    budget = account_budget(hass, credentials[CONF_API_URL], credentials[CONF_ACCOUNT_NUMBER])
    client = KrakenClient(
        async_get_clientsession(hass),
        credentials[CONF_API_KEY],
        base_url=credentials[CONF_API_URL],
        request_hook=budget.record if budget else None,
    )
    with _flow_errors():
        await client.authenticate()
        account = await client.get_account(credentials[CONF_ACCOUNT_NUMBER])
    return client, account


async def _reporting(client: KrakenClient, meters: Iterable[SmartMeter]) -> list[SmartMeter]:
    """The meters whose Home Mini reports now (a latest read for each)."""
    reporting = []
    with _flow_errors():
        for meter in meters:
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
    if not reporting:
        raise _FlowError("no_home_mini")
    return reporting


async def _validate_input(
    hass: HomeAssistant, user_input: Mapping[str, Any]
) -> tuple[dict[str, str], list[SmartMeter]]:
    """Normalise and check the form; returns the credentials and the reporting meters."""
    account_number = str(user_input[CONF_ACCOUNT_NUMBER]).strip().upper()
    if not ACCOUNT_NUMBER.match(account_number):
        raise _FlowError("invalid_account_format", CONF_ACCOUNT_NUMBER)
    credentials = {
        CONF_API_KEY: str(user_input[CONF_API_KEY]).strip(),
        CONF_ACCOUNT_NUMBER: account_number,
        CONF_API_URL: _checked_url(
            str(user_input.get(SECTION_ADVANCED, {}).get(CONF_API_URL) or DEFAULT_API_URL)
        ),
    }
    client, account = await _account(hass, credentials)
    return credentials, await _reporting(client, account.telemetry_meters)


def _share_key(hass: HomeAssistant, credentials: Mapping[str, Any]) -> None:
    """A new key serves the whole account: the account's other meters store it too, so
    that reloading any of them never brings the old key back to the shared client."""
    account = account_key(credentials)
    for other in hass.config_entries.async_entries(DOMAIN, include_ignore=False):
        if (
            account_key(other.data) == account
            and other.data[CONF_API_KEY] != credentials[CONF_API_KEY]
        ):
            hass.config_entries.async_update_entry(
                other, data={**other.data, CONF_API_KEY: credentials[CONF_API_KEY]}
            )


class OctopusHomeMiniConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up one Home Mini (one smart meter) per entry."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry[Any]) -> OptionsFlow:
        """A gas meter's calorific value; an electricity meter's interval between requests."""
        return HomeMiniOptionsFlow()

    @classmethod
    @callback
    def async_supports_options_flow(cls, config_entry: ConfigEntry[Any]) -> bool:
        """Every meter has options."""
        return True

    def __init__(self) -> None:
        """Hold what the user entered between steps."""
        self._credentials: dict[str, str] = {}
        self._meters: dict[str, SmartMeter] = {}
        self._discovered: SmartMeter | None = None

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the API key and account number."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                self._credentials, meters = await _validate_input(self.hass, user_input)
            except _FlowError as err:
                errors[err.field] = err.key
            else:
                self._meters = {meter.device_id: meter for meter in meters}
                if len(meters) == 1:
                    return await self._async_create(meters[0])
                return await self.async_step_meter()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(_user_schema({}, errors), user_input),
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
        # A user's flow wins over the same meter's offer (which ends when this entry exists).
        await self.async_set_unique_id(meter.device_id, raise_on_progress=False)
        self._abort_if_unique_id_configured()
        self._offer_the_others(meter)
        return self.async_create_entry(
            title=f"Home Mini {meter.serial_number}",
            data={**self._credentials, **meter_data(meter)},
        )

    def _offer_the_others(self, chosen: SmartMeter) -> None:
        """The account's other reporting meters (gas beside electricity, most often) are
        offered as discovered: one click each, with this key."""
        account = account_key(self._credentials)
        set_up = set_up_meters(self._async_current_entries())
        for meter in self._meters.values():
            if not {meter.device_id, meter.meter_point} & set_up and meter is not chosen:
                discovery_flow.async_create_flow(
                    self.hass,
                    DOMAIN,
                    context={"source": SOURCE_INTEGRATION_DISCOVERY},
                    data=discovery_data(account, meter),
                )

    async def async_step_integration_discovery(
        self, discovery_info: dict[str, Any]
    ) -> ConfigFlowResult:
        """Another meter of a set-up account has a Home Mini reporting: offer it."""
        meter = discovered_meter(discovery_info)
        await self.async_set_unique_id(meter.device_id)
        self._abort_if_unique_id_configured()
        self._discovered = meter
        self._credentials = {
            CONF_ACCOUNT_NUMBER: discovery_info[CONF_ACCOUNT_NUMBER],
            CONF_API_URL: discovery_info[CONF_API_URL],
        }
        self.context["title_placeholders"] = {"name": _meter_label(meter)}
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """One click: the account's key is taken from its set-up meters and checked again."""
        assert self._discovered is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            account = account_key(self._credentials)
            keys = [
                entry.data[CONF_API_KEY]
                for entry in self._async_current_entries(include_ignore=False)
                if account_key(entry.data) == account
            ]
            if not keys:
                return self.async_abort(reason="account_removed")
            self._credentials[CONF_API_KEY] = keys[0]
            try:
                client, found = await _account(self.hass, self._credentials)
                meters = [m for m in found.telemetry_meters if m.device_id == self.unique_id]
                reporting = await _reporting(client, meters)
            except _FlowError as err:
                if err.key in DISCOVERY_ABORTS:
                    return self.async_abort(reason=err.key)
                errors["base"] = err.key
            else:
                return await self._async_create(reporting[0])
        return self.async_show_form(
            step_id="discovery_confirm",
            description_placeholders={"meter": _meter_label(self._discovered)},
            errors=errors,
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The API key was rejected: ask for a new one."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Prove the new key and the account, and that the meter is still on it; nothing more.

        No live Home Mini read: a telemetry outage (KT-GB-4039) must not block a new key.
        """
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            credentials = {**entry.data, CONF_API_KEY: str(user_input[CONF_API_KEY]).strip()}
            try:
                credentials[CONF_API_URL] = _checked_url(entry.data[CONF_API_URL])
                _, account = await _account(self.hass, credentials)
            except _FlowError as err:
                if err.key == "invalid_account":
                    return self.async_abort(reason="wrong_account")
                errors[CONF_API_KEY if err.field == CONF_API_KEY else "base"] = err.key
            else:
                if entry.unique_id not in {m.device_id for m in account.telemetry_meters}:
                    return self.async_abort(reason="wrong_account")
                _share_key(self.hass, credentials)
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_API_KEY: credentials[CONF_API_KEY]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_API_KEY): KEY_SELECTOR}),
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
                credentials, meters = await _validate_input(self.hass, user_input)
            except _FlowError as err:
                errors[err.field] = err.key
            else:
                await self.async_set_unique_id(entry.unique_id)
                if entry.unique_id not in {meter.device_id for meter in meters}:
                    return self.async_abort(reason="wrong_account")
                _share_key(self.hass, credentials)
                return self.async_update_reload_and_abort(entry, data_updates=credentials)
        # Defaults from the entry; after an error, what was typed (the URL sits in its section).
        schema = self.add_suggested_values_to_schema(_user_schema(entry.data, errors), user_input)
        return self.async_show_form(step_id="reconfigure", data_schema=schema, errors=errors)


class HomeMiniOptionsFlow(OptionsFlow):
    """Gas: the calorific value (MJ/m³) that turns kWh into m³. Electricity: the interval."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The meter's own form."""
        if is_gas(self.config_entry.data):
            return await self.async_step_gas()
        return await self.async_step_live()

    async def async_step_live(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Seconds between the account's requests: every 10-s sample is kept at any of them."""
        if user_input is not None:
            return self.async_create_entry(
                data={CONF_LIVE_INTERVAL: int(user_input[CONF_LIVE_INTERVAL])}
            )
        current = self.config_entry.options.get(CONF_LIVE_INTERVAL, LIVE_INTERVAL_MIN)
        return self.async_show_form(
            step_id="live",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_LIVE_INTERVAL, default=current): NumberSelector(
                        NumberSelectorConfig(
                            min=LIVE_INTERVAL_MIN,
                            max=LIVE_INTERVAL_MAX,
                            step=10,
                            unit_of_measurement="s",
                            mode=NumberSelectorMode.SLIDER,
                        )
                    )
                }
            ),
        )

    async def async_step_gas(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One number, with the UK's recent average as the default."""
        if user_input is not None:
            return self.async_create_entry(data={**user_input, **self._volume_now()})
        current = self.config_entry.options.get(CONF_CALORIFIC_VALUE, DEFAULT_CALORIFIC_VALUE)
        return self.async_show_form(
            step_id="gas",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_CALORIFIC_VALUE, default=float(current)): NumberSelector(
                        NumberSelectorConfig(
                            min=30,
                            max=50,
                            step=0.01,
                            unit_of_measurement="MJ/m³",
                            mode=NumberSelectorMode.BOX,
                        )
                    )
                }
            ),
        )

    def _volume_now(self) -> dict[str, Any]:
        """The register and the volume shown now: the new value applies from here on."""
        runtime = getattr(self.config_entry, "runtime_data", None)
        data = runtime.coordinator.data if runtime is not None else None
        if data is None or data.consumption_wh is None:
            return {}
        volume = gas_volume_m3(data.consumption_wh, data.calorific_value, data.volume_from)
        return {CONF_VOLUME_FROM: [str(data.consumption_wh), str(volume)]}
