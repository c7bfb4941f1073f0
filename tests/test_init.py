"""Set-up, unload, retry and re-authentication through the real Home Assistant harness."""

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.loader import async_get_integration
from homeassistant.util import dt as dt_util
import pytest

from custom_components.octopus_home_mini.const import DOMAIN
from tests.common import Sim, advance, entry_for, max_requests_in_any_hour, setup_entry
from tests.simulator import SINGLE, TWOMETERS


async def test_setup_and_unload(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """Our custom integration loads an entry, creates its device, and unloads."""
    _, url = frozen_sim
    integration = await async_get_integration(hass, DOMAIN)
    assert integration.is_built_in is False
    entry = await setup_entry(hass, url)
    assert entry.state is ConfigEntryState.LOADED
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, SINGLE.device_ids[0]), entry.entry_id
    )
    assert device is not None
    assert device.manufacturer == "Octopus Energy"
    assert device.model == "Home Mini"
    assert device.serial_number == SINGLE.serials[0]
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_setup_retries_when_api_down(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """A 502 at start-up: not ready, then loaded once the API answers."""
    sim, url = frozen_sim
    sim.set_fault("http_502")
    entry = await setup_entry(hass, url)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "HTTP 502" in entry.reason
    sim.clear_faults()
    await advance(hass, freezer, 60)
    assert entry.state is ConfigEntryState.LOADED


async def test_rejected_key_starts_reauth(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """A key Octopus rejects: setup error and a reauth flow, never a retry loop."""
    _, url = frozen_sim
    entry = entry_for(url)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, "api_key": "sk_live_gone"})
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_transient_errors_never_reauth(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Outages, rate limits and bad gateways at runtime never start a reauth."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    for fault in ("outage", "rate_limit", "http_502", "http_403_html", "malformed_json"):
        sim.set_fault(fault, count=1)
        await advance(hass, freezer, 30)
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
    assert entry.state is ConfigEntryState.LOADED


async def test_unknown_device_is_not_ready(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """A meter Kraken no longer knows (KT-GB-4050): not ready, with a translated reason."""
    _, url = frozen_sim
    entry = entry_for(url)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, "device_id": "FF-FF-FF-FF-FF-FF-FF-FF"}
    )
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason == "Octopus reports no Home Mini for this meter"


async def test_removing_the_entry_removes_its_storage(
    hass: HomeAssistant, frozen_sim: Sim, hass_storage: dict[str, Any]
) -> None:
    """The stored session goes with the entry."""
    _, url = frozen_sim
    entry = await setup_entry(hass, url)
    await hass.config_entries.async_unload(entry.entry_id)
    key = f"{DOMAIN}.{entry.entry_id}"
    assert key in hass_storage
    assert hass_storage[key]["data"]["session"]["carried_pence"] == "0"
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


async def test_restart_does_not_report_a_false_glitch(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After a restart the 5-minute window overlaps the restored register: no warning."""
    _, url = frozen_sim
    entry = await setup_entry(hass, url)
    await advance(hass, freezer, 60)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, 30)
    assert "Ignoring meter register readings" not in caplog.text
    assert entry.runtime_data.coordinator.data.consumption_wh is not None


async def test_stored_insecure_url_is_refused(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """A hand-edited plain-http URL to another host: a setup error, nothing sent."""
    sim, _ = frozen_sim
    entry = await setup_entry(hass, "http://octopus.example.com")
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None
    assert "Reconfigure" in entry.reason
    assert sim.requests == []


async def test_new_key_keeps_one_link_per_account(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Reconfiguring one of two meters with a new key: still one link, one budget, ≤ 125/h."""
    sim, url = frozen_sim
    first = await setup_entry(hass, url, TWOMETERS, 0)
    second = await setup_entry(hass, url, TWOMETERS, 1)
    await advance(hass, freezer, 60)
    new_key = sim.add_api_key(TWOMETERS.account_number)
    result = await first.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "api_key": new_key,
            "account_number": TWOMETERS.account_number,
            "advanced": {"api_url": url},
        },
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert first.state is ConfigEntryState.LOADED
    # The new key serves the account: the other meter stores it too, and reloading it after
    # the old key is revoked keeps both meters running, with no reauth (#18 point 3).
    assert second.data["api_key"] == new_key
    del sim.api_keys[TWOMETERS.api_key]
    assert await hass.config_entries.async_reload(second.entry_id)
    await hass.async_block_till_done()
    await advance(hass, freezer, 60)
    assert first.state is second.state is ConfigEntryState.LOADED
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
    link = first.runtime_data.link
    assert second.runtime_data.link is link
    assert set(link.coordinators) == {
        second.runtime_data.coordinator,
        first.runtime_data.coordinator,
    }
    for _ in range(2 * 120):
        await advance(hass, freezer, 30)
    for entry in (first, second):  # each meter's live readings come every other slot or so
        newest = entry.runtime_data.coordinator.data.newest
        assert dt_util.utcnow() - newest.read_at <= timedelta(seconds=90)
    assert max_requests_in_any_hour(sim, TWOMETERS.account_number) <= 121
    assert [r for r in sim.requests if r.error_code in ("KT-CT-1199", "KT-GB-4042")] == []
    # Unloading both closes the account's link.
    for entry in (first, second):
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert hass.data[DOMAIN] == {}
