"""The meter's store: every layout ever saved loads (fixtures); the current one round-trips."""

from datetime import datetime, timedelta
from decimal import Decimal
import json
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

from custom_components.octopus_home_mini.const import DOMAIN
from custom_components.octopus_home_mini.meter import MeterState
from custom_components.octopus_home_mini.store import (
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
    async_keep_for_new_meter,
    dump,
    load_meter,
    requests_from_json,
    statistics_from_json,
)
from tests.common import Sim, advance, entry_for
from tests.conftest import START
from tests.simulator import SINGLE

FIXTURES = Path(__file__).parent / "fixtures" / "store"
#: The fixtures were saved 40 minutes after the simulator's start (v1.1 before the ledger: 20
#: minutes before it).
SAVED_AT = START + timedelta(minutes=40)


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def sim_start() -> datetime:
    """Start the simulator and the clock where the fixtures were saved."""
    return SAVED_AT


def _put(hass_storage: dict[str, Any], entry_id: str, layout: dict[str, Any]) -> None:
    hass_storage[f"{DOMAIN}.{entry_id}"] = {**layout, "key": f"{DOMAIN}.{entry_id}"}


def test_every_layout_has_a_fixture() -> None:
    """A layout a later change adds comes with its fixture (named by the store's version)."""
    names = {path.stem for path in FIXTURES.glob("*.json")}
    assert f"v{STORAGE_VERSION}.{STORAGE_MINOR_VERSION}" in names
    assert {"v1.1-before-ledger", "v1.1-ledger"} <= names


def test_current_layout_round_trips() -> None:
    """What is loaded and saved again is what was stored, to the character."""
    data = _fixture(f"v{STORAGE_VERSION}.{STORAGE_MINOR_VERSION}")["data"]
    meter = MeterState(SAVED_AT)
    load_meter(meter, data)
    again = dump(
        meter, statistics_from_json(data["statistics"]), requests_from_json(data["requests"])
    )
    assert again == data


@pytest.mark.parametrize(
    "name", ["v1.1-ledger", "v1.2", "v1.3", f"v{STORAGE_VERSION}.{STORAGE_MINOR_VERSION}"]
)
async def test_a_ledger_store_continues(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    name: str,
) -> None:
    """The ledger, the session and the registers carry on; nothing is back-filled again."""
    _, url = frozen_sim
    layout = _fixture(name)
    expected = MeterState(SAVED_AT)
    load_meter(expected, {k: v for k, v in layout["data"].items() if k != "version"})
    entry = entry_for(url)
    _put(hass_storage, entry.entry_id, layout)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    meter = entry.runtime_data.coordinator.meter
    saved_starts = set(expected.ledger.buckets)
    assert saved_starts <= set(meter.ledger.buckets)
    # Only what the saved run had left to fill is asked for: nothing is back-filled again.
    assert meter.ledger.pending <= expected.ledger.pending
    assert meter.session.started == expected.session.started
    assert meter.session_cost() >= expected.session_cost() > 0
    assert meter.consumption.accepted_wh is not None
    assert meter.consumption.accepted_wh >= (expected.consumption.accepted_wh or 0)
    # The next save is in the current layout.
    await advance(hass, freezer, 30)
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    saved = hass_storage[f"{DOMAIN}.{entry.entry_id}"]
    assert (saved["version"], saved["minor_version"]) == (STORAGE_VERSION, STORAGE_MINOR_VERSION)
    assert "version" not in saved["data"]
    assert set(saved["data"]) == set(
        _fixture(f"v{STORAGE_VERSION}.{STORAGE_MINOR_VERSION}")["data"]
    )


async def test_the_store_before_the_ledger_migrates(
    hass: HomeAssistant, frozen_sim: Sim, hass_storage: dict[str, Any]
) -> None:
    """Before the ledger: the session total is carried and the months before are asked for."""
    sim, url = frozen_sim
    layout = _fixture("v1.1-before-ledger")
    entry = entry_for(url)
    _put(hass_storage, entry.entry_id, layout)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    meter = entry.runtime_data.coordinator.meter
    old = layout["data"]
    assert meter.session.carried_pence == Decimal(old["session"]["value"])
    assert meter.session.started == datetime.fromisoformat(old["session"]["started"])
    assert meter.session.offset_by_time
    through = datetime.fromisoformat(old["counted_through"])
    # The back-fill reaches from the start of last month to the half hour the old run stopped in.
    assert min(meter.ledger.pending) < SAVED_AT - timedelta(days=13)
    assert max(meter.ledger.pending) < through
    assert meter.consumption.accepted_wh is not None
    assert meter.consumption.accepted_wh >= Decimal(old["register_wh"])
    assert meter.session_cost() >= Decimal(old["session"]["value"])
    # Requests of the last hour still count against the account.
    assert entry.runtime_data.link.budget.used() >= len(old["requests"])
    assert sim.register_wh(SINGLE.device_ids[0], dt_util.utcnow()) >= meter.consumption.accepted_wh


async def test_an_exchange_keeps_the_ledger_not_the_registers(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A new meter starts its registers afresh; the ledger, session and sums stay."""
    layout = _fixture(f"v{STORAGE_VERSION}.{STORAGE_MINOR_VERSION}")
    _put(hass_storage, "exchanged", layout)
    await async_keep_for_new_meter(hass, "exchanged")
    kept = hass_storage[f"{DOMAIN}.exchanged"]["data"]
    assert set(kept) == {
        "ledger",
        "session",
        "rates",
        "export_rates",
        "counted_through",
        "statistics",
        "requests",
    }
    assert kept["ledger"] == layout["data"]["ledger"]
    meter = MeterState(SAVED_AT)
    load_meter(meter, kept)
    assert meter.consumption.accepted_wh is None
    # The new meter is read from where the old one was last counted: nothing in between is lost.
    assert meter.resume_after == datetime.fromisoformat(layout["data"]["counted_through"])


async def test_no_store_is_no_exchange(hass: HomeAssistant, hass_storage: dict[str, Any]) -> None:
    """An exchange before anything was saved writes nothing."""
    await async_keep_for_new_meter(hass, "never-saved")
    assert f"{DOMAIN}.never-saved" not in hass_storage


@pytest.mark.parametrize(
    ("minor", "data"),
    [
        (1, {}),  # before the ledger, nothing kept yet: only the back-fill is asked for
        (2, {**_fixture("v1.2")["data"], "consumption": {}}),  # no register accepted yet
        # A newer layout (Home Assistant downgraded the integration): loaded as it is.
        (
            STORAGE_MINOR_VERSION + 1,
            _fixture(f"v{STORAGE_VERSION}.{STORAGE_MINOR_VERSION}")["data"],
        ),
    ],
    ids=["v1.1-empty", "v1.2-no-register", "newer"],
)
async def test_sparse_and_newer_stores_load(
    hass: HomeAssistant, frozen_sim: Sim, hass_storage: dict[str, Any], minor: int, data: Any
) -> None:
    """A store without the optional parts, or from a newer minor version, still sets up."""
    _, url = frozen_sim
    entry = entry_for(url)
    _put(
        hass_storage,
        entry.entry_id,
        {"version": STORAGE_VERSION, "minor_version": minor, "data": data},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    meter = entry.runtime_data.coordinator.meter
    if minor == 1:
        assert meter.session.carried_pence == 0
        assert min(meter.ledger.pending) < SAVED_AT - timedelta(days=13)
    else:  # the ledger carries on from what was kept
        first = datetime.fromisoformat(data["ledger"]["buckets"][0][0])
        assert first in meter.ledger.buckets


def test_no_statistics_kept_is_a_fresh_start() -> None:
    """A store without the statistics' part writes every hour from the ledger's first."""
    state = statistics_from_json(None)
    assert not state.written
    assert state.base == {}
    assert state.unwritten_from is None
