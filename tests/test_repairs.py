"""Meter exchange: a fixable repair moves the entry to the new meter, entity ids unchanged."""

from datetime import timedelta
from decimal import Decimal

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.octopus_home_mini.account import Job
from custom_components.octopus_home_mini.const import (
    CONF_DEVICE_ID,
    CONF_EXPORT_DEVICE_ID,
    CONF_MPAN,
    CONF_SERIAL_NUMBER,
    DOMAIN,
)
from tests.common import Sim, advance, entry_for, settle, setup_entry
from tests.simulator import SINGLE, SOLAR, KrakenSimulator

OLD = SINGLE.device_ids[0]
NEW = "00-0A-1B-FF-FE-2C-3D-99"
NEW_SERIAL = "24E7654321"
CONSUMPTION = "sensor.home_mini_21e1234567_consumption"


def issue_for(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    """The entry's meter-exchange issue, if raised."""
    return ir.async_get(hass).async_get_issue(DOMAIN, f"meter_replaced_{entry.entry_id}")


def account_lookups(sim: KrakenSimulator) -> int:
    """Account queries sent so far."""
    return sum(1 for r in sim.requests if r.operation_name == "Account")


@pytest.mark.parametrize("minutes", [50, 170], ids=["fixed-in-50-min", "fixed-in-170-min"])
async def test_meter_exchange_is_fixed_in_place(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory, minutes: int
) -> None:
    """Old meter gone (KT-GB-4050), new one on the MPAN: repair, fix, same entity ids, live.

    Confirmed within the hour a live window reaches back over, or hours later: either way
    today holds the old meter's energy to its last reading and the new meter's since."""
    sim, url = frozen_sim
    assert await async_setup_component(hass, "repairs", {})
    entry = await setup_entry(hass, url)
    await settle(hass, freezer)
    await advance(hass, freezer, 60)
    entities = er.async_get(hass)
    before = {
        e.entity_id: e.unique_id
        for e in er.async_entries_for_config_entry(entities, entry.entry_id)
    }
    assert CONSUMPTION in before
    midnight = dt_util.start_of_local_day(dt_util.utcnow())
    last_old = entry.runtime_data.coordinator.data.newest.read_at
    old_today = sim.true_energy_wh(OLD, midnight, last_old + timedelta(seconds=1))
    swapped_at = dt_util.utcnow()
    sim.swap_meter(OLD, NEW, NEW_SERIAL)
    lookups = account_lookups(sim)
    for _ in range(minutes * 2):  # failing polls before the user confirms
        await advance(hass, freezer, 30)
    assert hass.states.get(CONSUMPTION).state == STATE_UNAVAILABLE
    issue = issue_for(hass, entry)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {"meter": entry.title, "serial": NEW_SERIAL}
    assert account_lookups(sim) - lookups == 1  # once per few hours, not per poll

    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_init(DOMAIN, data={"issue_id": issue.issue_id})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert entry.unique_id == NEW
    assert entry.title == f"Home Mini {NEW_SERIAL}"
    assert entry.data[CONF_DEVICE_ID] == NEW
    assert entry.data[CONF_SERIAL_NUMBER] == NEW_SERIAL
    assert entry.data[CONF_MPAN] == SINGLE.mpans[0]
    after = {
        e.entity_id: e.unique_id
        for e in er.async_entries_for_config_entry(entities, entry.entry_id)
    }
    assert after.keys() == before.keys()  # the Energy panel's statistics stay attached
    assert all(unique_id.startswith(f"{NEW}_") for unique_id in after.values())
    devices = dr.async_get(hass)
    assert devices.async_get_device_by_identifier((DOMAIN, OLD), entry.entry_id) is None
    device = devices.async_get_device_by_identifier((DOMAIN, NEW), entry.entry_id)
    assert device is not None
    assert device.serial_number == NEW_SERIAL
    assert issue_for(hass, entry) is None
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"home_mini_missing_{entry.entry_id}") is None
    # Case 5 of the record issue: the minutes between the swap and the fix are read from the
    # new meter; today is the old meter's energy to its last reading plus the new meter's since
    # (hours after the swap, once the half hours in between are filled).
    # The budget's hour still holds the failing polls: the first slots may send nothing.
    link = entry.runtime_data.link
    for _ in range(10):
        await advance(hass, freezer, 30)
        if link.sent.get(Job.LIVE):
            break
    await settle(hass, freezer)
    newest = entry.runtime_data.coordinator.data.newest.read_at + timedelta(seconds=1)
    new_today = sim.true_energy_wh(NEW, swapped_at, newest)
    today = Decimal(hass.states.get("sensor.home_mini_21e1234567_consumption_today").state)
    assert abs(today * 1000 - (old_today + new_today)) <= 1
    # The swap's hour holds both meters' parts (the new meter's row alone lacks the old's),
    # once the hour is over.
    hour = swapped_at.replace(minute=0, second=0)
    while dt_util.utcnow() < hour + timedelta(hours=1, minutes=2):
        await advance(hass, freezer, 30)
    both = sim.true_energy_wh(OLD, hour, last_old + timedelta(seconds=1)) + sim.true_energy_wh(
        NEW, swapped_at, hour + timedelta(hours=1)
    )
    buckets = entry.runtime_data.coordinator.meter.ledger.buckets
    held = sum(buckets[hour + timedelta(minutes=m)].import_wh for m in (0, 30))
    assert abs(held - both) <= 1

    lives = link.sent.get(Job.LIVE, 0)
    while link.sent.get(Job.LIVE, 0) == lives:  # the next live slot (one may go elsewhere)
        await advance(hass, freezer, 30)
    truth = sim.latest_readable(NEW)
    assert truth is not None
    # The new meter's register, not held back by the old meter's (higher) floor.
    assert Decimal(hass.states.get(CONSUMPTION).state) == Decimal(truth.register_wh) / 1000


async def test_exchange_found_at_setup(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """Exchanged while Home Assistant was down: setup retries and the repair is offered."""
    sim, url = frozen_sim
    sim.swap_meter(OLD, NEW, NEW_SERIAL)
    entry = await setup_entry(hass, url)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert issue_for(hass, entry) is not None


async def test_no_replacement_no_fixable_issue(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """No other meter on the entry's MPAN: only the plain 'missing' notice."""
    _, url = frozen_sim
    entry = entry_for(url)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_DEVICE_ID: "FF-FF-FF-FF-FF-FF-FF-FF", CONF_MPAN: "1"}
    )
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert issue_for(hass, entry) is None
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"home_mini_missing_{entry.entry_id}")


async def test_lookup_failure_is_quiet(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """The account lookup failing leaves only the 'missing' notice; it is tried again later."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    await settle(hass, freezer)
    sim.swap_meter(OLD, NEW, NEW_SERIAL)
    sim.set_fault("internal", operation="Account", count=1)
    await advance(hass, freezer, 30)
    assert issue_for(hass, entry) is None
    await advance(hass, freezer, timedelta(hours=3).total_seconds())
    await advance(hass, freezer, 30)
    assert issue_for(hass, entry) is not None


async def test_fix_for_a_removed_entry_aborts(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """The entry was deleted before the fix was confirmed: abort, nothing else happens."""
    sim, url = frozen_sim
    assert await async_setup_component(hass, "repairs", {})
    sim.swap_meter(OLD, NEW, NEW_SERIAL)
    entry = await setup_entry(hass, url)
    issue = issue_for(hass, entry)
    assert issue is not None
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_init(DOMAIN, data={"issue_id": issue.issue_id})
    await hass.config_entries.async_remove(entry.entry_id)
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_removed"


async def fix(hass: HomeAssistant, issue: ir.IssueEntry) -> None:
    """Run the repair's fix flow to the end."""
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_init(DOMAIN, data={"issue_id": issue.issue_id})
    result = await manager.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_exchange_moves_the_export_device_too(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """A solar meter exchanged: the entry's export device is the new meter's, not the old."""
    sim, url = frozen_sim
    assert await async_setup_component(hass, "repairs", {})
    entry = entry_for(url, SOLAR)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_EXPORT_DEVICE_ID: SOLAR.device_ids[0]}
    )
    sim.swap_meter(SOLAR.device_ids[0], NEW, NEW_SERIAL)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    issue = issue_for(hass, entry)
    assert issue is not None
    await fix(hass, issue)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_EXPORT_DEVICE_ID] == NEW


async def test_new_meter_without_a_mini_is_not_offered(
    hass: HomeAssistant, frozen_sim: Sim
) -> None:
    """The new meter's Home Mini is not paired yet: nothing to move to (the notice stays)."""
    sim, url = frozen_sim
    sim.swap_meter(OLD, NEW, NEW_SERIAL, home_mini=False)
    entry = await setup_entry(hass, url)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert issue_for(hass, entry) is None
