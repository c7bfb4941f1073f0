"""Dual fuel in one go: the account's other meters with a Home Mini are offered as discovered,
and one click adds each with the key already given."""

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    SOURCE_INTEGRATION_DISCOVERY,
    SOURCE_USER,
    ConfigEntryState,
)
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.octopus_home_mini.api import Fuel, SmartMeter
from custom_components.octopus_home_mini.const import (
    CONF_ACCOUNT_NUMBER,
    CONF_API_URL,
    CONF_DEVICE_ID,
    CONF_FUEL,
    CONF_MPRN,
    CONF_SERIAL_NUMBER,
    DOMAIN,
)
from custom_components.octopus_home_mini.discovery import discovery_data
from tests.common import Sim, advance, ours_loud, setup_entry
from tests.simulator import DUAL, SINGLE, TWOMETERS, KrakenSimulator

GAS = DUAL.gas[0]


def _offers(hass: HomeAssistant) -> list[Any]:
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_INTEGRATION_DISCOVERY
    ]


def _latest_reads(sim: KrakenSimulator) -> int:
    return sum(r.operation_name == "LatestTelemetry" for r in sim.requests)


def _gas_meter() -> SmartMeter:
    return SmartMeter(GAS.device_id, GAS.mprn, GAS.serial, fuel=Fuel.GAS)


async def _set_up_electricity_by_hand(hass: HomeAssistant, url: str) -> None:
    """The user flow for the dual-fuel account, choosing electricity."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_API_KEY: DUAL.api_key,
            CONF_ACCOUNT_NUMBER: DUAL.account_number,
            "advanced": {CONF_API_URL: url},
        },
    )
    assert result["step_id"] == "meter"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE_ID: DUAL.device_ids[0]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_dual_fuel_in_one_go(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """Electricity set up by hand; gas is then offered and one click adds it with the same key."""
    _, url = frozen_sim
    await _set_up_electricity_by_hand(hass, url)
    (offer,) = _offers(hass)
    assert offer["context"]["unique_id"] == GAS.device_id
    assert offer["context"]["title_placeholders"] == {
        "name": f"Gas · MPRN {GAS.mprn} · meter {GAS.serial}"
    }
    assert offer["step_id"] == "discovery_confirm"
    assert DUAL.api_key not in repr(offer)  # the offer carries no key
    result = await hass.config_entries.flow.async_configure(offer["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Home Mini {GAS.serial}"
    assert result["data"] == {
        CONF_API_KEY: DUAL.api_key,
        CONF_ACCOUNT_NUMBER: DUAL.account_number,
        CONF_API_URL: url,
        CONF_DEVICE_ID: GAS.device_id,
        CONF_SERIAL_NUMBER: GAS.serial,
        CONF_FUEL: "gas",
        CONF_MPRN: GAS.mprn,
    }
    await hass.async_block_till_done()
    entries = hass.config_entries.async_entries(DOMAIN)
    assert {e.unique_id for e in entries} == {DUAL.device_ids[0], GAS.device_id}
    assert all(e.state is ConfigEntryState.LOADED for e in entries)
    assert _offers(hass) == []


async def _until_discovery_done(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, limit: int = 200
) -> None:
    for _ in range(limit):
        (link,) = {id(e.runtime_data.link): e.runtime_data.link for e in _loaded(hass)}.values()
        if link.offers.unoffered == []:
            return
        await advance(hass, freezer, 30)
    raise AssertionError("the account's other meters were never looked for")


def _loaded(hass: HomeAssistant) -> list[Any]:
    return [
        e for e in hass.config_entries.async_entries(DOMAIN) if e.state is ConfigEntryState.LOADED
    ]


async def test_a_set_up_account_offers_its_other_meter(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """An account set up before (one meter, no offer made then): the cadence reads the account
    once, in a slot nothing else needs, and offers the gas meter whose Mini reports."""
    sim, url = frozen_sim
    await setup_entry(hass, url, DUAL, 0)
    accounts = sim.request_count(root_field="account")
    await _until_discovery_done(hass, freezer)
    await hass.async_block_till_done()
    (offer,) = _offers(hass)
    assert offer["context"]["unique_id"] == GAS.device_id
    assert sim.request_count(root_field="account") == accounts + 1
    assert _latest_reads(sim) == 1  # the gas meter's, to see its Mini reports
    # Once per start: later slots ask nothing more about the account.
    for _ in range(10):
        await advance(hass, freezer, 30)
    assert sim.request_count(root_field="account") == accounts + 1
    result = await hass.config_entries.flow.async_configure(offer["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_API_KEY] == DUAL.api_key


async def test_a_meter_without_a_reporting_mini_is_not_offered(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SINGLE's gas meter has no Home Mini: looked at once, not offered, no warning."""
    sim, url = frozen_sim
    await setup_entry(hass, url, SINGLE, 0)
    await _until_discovery_done(hass, freezer)
    await hass.async_block_till_done()
    assert _offers(hass) == []
    assert _latest_reads(sim) == 1
    assert ours_loud(caplog) == []


async def test_an_ignored_meter_costs_nothing(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """A meter the user ignored is not asked about: no latest reading read for it."""
    sim, url = frozen_sim
    MockConfigEntry(domain=DOMAIN, source=SOURCE_IGNORE, unique_id=GAS.device_id).add_to_hass(hass)
    await setup_entry(hass, url, DUAL, 0)
    await _until_discovery_done(hass, freezer)
    assert _offers(hass) == []
    assert _latest_reads(sim) == 0


async def test_the_account_read_fails_then_nothing_more_this_run(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Kraken failing on the account: no offer, and no retry loop in this run."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url, DUAL, 0)
    link = entry.runtime_data.link
    link.offers.unoffered = None
    sim.set_fault("http_502", operation="Account", count=1)
    await link.async_discover()
    assert link.offers.unoffered == []
    assert not link.discovery_due()
    assert _offers(hass) == []


async def test_rate_limited_the_same_step_again(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Rate limited while looking: the account backs off and the step is taken again."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url, DUAL, 0)
    link = entry.runtime_data.link
    link.offers.unoffered = [_gas_meter()]
    sim.set_fault("rate_limit", count=1)
    await link.async_discover()
    assert link.offers.unoffered == [_gas_meter()]
    assert link.resume_at is not None
    await link.async_discover()
    await hass.async_block_till_done()
    assert link.offers.unoffered == []
    assert len(_offers(hass)) == 1


async def _offer(hass: HomeAssistant, url: str) -> dict[str, Any]:
    """Start the offer of DUAL's gas meter, as the cadence would."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data=discovery_data((url, DUAL.account_number), _gas_meter()),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "discovery_confirm"
    assert result["description_placeholders"] == {
        "meter": f"Gas · MPRN {GAS.mprn} · meter {GAS.serial}"
    }
    return result


@pytest.mark.parametrize(
    ("stored_key", "fault", "reason"),
    [
        ("sk_live_regenerated_since", None, "invalid_auth"),
        (TWOMETERS.api_key, None, "invalid_account"),
        (None, "outage", "no_home_mini"),
    ],
)
async def test_an_offer_that_cannot_be_mended_ends_saying_why(
    hass: HomeAssistant,
    frozen_sim: Sim,
    stored_key: str | None,
    fault: str | None,
    reason: str,
) -> None:
    """The stored key rejected, the account gone from it, or the Mini silent: the flow ends."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url, DUAL, 0)
    result = await _offer(hass, url)
    if stored_key:
        hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_API_KEY: stored_key})
    if fault:
        sim.set_fault(fault)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


async def test_an_offer_recovers_from_a_network_error(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """Kraken unreachable at the click: the error shows on the form, and a second click adds."""
    sim, url = frozen_sim
    await setup_entry(hass, url, DUAL, 0)
    result = await _offer(hass, url)
    sim.set_fault("network")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    sim.clear_faults()
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_an_offer_without_the_account_or_for_a_set_up_meter(
    hass: HomeAssistant, frozen_sim: Sim
) -> None:
    """The account's meters removed meanwhile: no key to reuse. The meter set up: no offer."""
    _, url = frozen_sim
    entry = await setup_entry(hass, url, DUAL, 0)
    result = await _offer(hass, url)
    await hass.config_entries.async_remove(entry.entry_id)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "account_removed"
    await setup_entry(hass, url, DUAL, 0)
    result = await _offer(hass, url)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data=discovery_data((url, DUAL.account_number), _gas_meter()),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_a_replaced_meter_is_left_to_its_repair(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """After a meter exchange the new meter sits on the set-up MPAN: the repair's, not an offer."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url, DUAL, 0)
    sim.swap_meter(DUAL.device_ids[0], "00-0A-1B-FF-FE-44-44-99", "24H4444499")
    link = entry.runtime_data.link
    await link.async_discover()
    assert link.offers.unoffered is not None
    assert [m.device_id for m in link.offers.unoffered] == [GAS.device_id]
