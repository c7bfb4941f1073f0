"""The Octopus Home Mini integration."""

from __future__ import annotations

from homeassistant.const import CONF_API_KEY, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import config_validation as cv, issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .api import KrakenClient, KrakenInvalidUrlError
from .budget import RequestBudget
from .card import async_register_card
from .const import (
    ACCOUNT_REQUESTS_PER_HOUR,
    CONF_ACCOUNT_NUMBER,
    CONF_API_URL,
    DEFAULT_API_URL,
    DOMAIN,
    EXTRA_REQUESTS_PER_HOUR,
)
from .coordinator import (
    AccountLink,
    HomeMiniConfigEntry,
    HomeMiniCoordinator,
    HomeMiniRuntimeData,
)
from .store import meter_store
from .websocket_api import async_register_commands

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.BUTTON, Platform.SENSOR]

#: The accounts with a loaded meter, by (API URL, account number): one budget per account,
#: whichever key each meter was set up with.
ACCOUNTS: HassKey[dict[tuple[str, str], AccountLink]] = HassKey(DOMAIN)


def account_budget(hass: HomeAssistant, api_url: str, account_number: str) -> RequestBudget | None:
    """The request budget of an account with a loaded meter (the flows count against it)."""
    link = hass.data.get(ACCOUNTS, {}).get((api_url, account_number))
    return link.budget if link else None


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Once per Home Assistant: the Live card's feed, and the card where there is a frontend."""
    async_register_commands(hass)
    # `frontend` is an after-dependency: loaded before us whenever it is loaded at all.
    if "frontend" in hass.config.components:
        await async_register_card(hass)
    return True


def _link_for(hass: HomeAssistant, entry: HomeMiniConfigEntry) -> AccountLink:
    """The account's shared client and budget, created with its first meter."""
    accounts = hass.data.setdefault(ACCOUNTS, {})
    key = (entry.data.get(CONF_API_URL, DEFAULT_API_URL), entry.data[CONF_ACCOUNT_NUMBER])
    if (link := accounts.get(key)) is not None:
        # A meter set up with a newer key (reauth, reconfigure) brings it to the whole account.
        link.client.use_api_key(entry.data[CONF_API_KEY])
        return link
    budget = RequestBudget(ACCOUNT_REQUESTS_PER_HOUR, dt_util.utcnow)
    client = KrakenClient(
        async_get_clientsession(hass),
        entry.data[CONF_API_KEY],
        base_url=key[0],
        request_hook=budget.record,
    )
    extras = RequestBudget(EXTRA_REQUESTS_PER_HOUR, dt_util.utcnow)
    accounts[key] = link = AccountLink(client=client, budget=budget, extras=extras)
    return link


def _restretch(link: AccountLink) -> None:
    for coordinator in link.coordinators:
        coordinator.update_interval = coordinator.normal_interval()


async def async_setup_entry(hass: HomeAssistant, entry: HomeMiniConfigEntry) -> bool:
    """Set up one meter on its account's shared client."""
    try:
        link = _link_for(hass, entry)
    except KrakenInvalidUrlError as err:
        # Only a hand-edited entry gets here; the flows refuse such URLs.
        raise ConfigEntryError(translation_domain=DOMAIN, translation_key="insecure_url") from err
    coordinator = HomeMiniCoordinator(hass, entry, link)
    link.coordinators.append(coordinator)
    _restretch(link)
    try:
        await coordinator.async_config_entry_first_refresh()
    except Exception:
        _forget(hass, coordinator)
        raise
    entry.runtime_data = HomeMiniRuntimeData(link=link, coordinator=coordinator)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


def _forget(hass: HomeAssistant, coordinator: HomeMiniCoordinator) -> None:
    """Take a meter off the link it was set up on (the entry's data may have changed since)."""
    link = coordinator.link
    link.coordinators.remove(coordinator)
    if link.coordinators:
        _restretch(link)
        return
    accounts = hass.data.get(ACCOUNTS, {})
    for key in [key for key, held in accounts.items() if held is link]:
        del accounts[key]


async def async_unload_entry(hass: HomeAssistant, entry: HomeMiniConfigEntry) -> bool:
    """Unload a config entry; the last meter of an account closes its link."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        _forget(hass, entry.runtime_data.coordinator)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: HomeMiniConfigEntry) -> None:
    """Deleting a meter deletes its stored session, counting position and repairs."""
    await meter_store(hass, entry.entry_id).async_remove()
    suffix = f"_{entry.entry_id}"
    for domain, issue_id in list(ir.async_get(hass).issues):
        if domain == DOMAIN and issue_id.endswith(suffix):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
