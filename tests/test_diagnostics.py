"""Diagnostics carry no secret and make no API call."""

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from tests.common import Sim, setup_entry
from tests.simulator import SINGLE


async def test_diagnostics_redacted(
    frozen_sim: Sim,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
) -> None:
    """Key, account, MPAN, serial and device id are redacted; no request is made."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    requests_before = len(sim.requests)
    result = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert len(sim.requests) == requests_before
    text = json.dumps(result)
    for secret in (
        SINGLE.api_key,
        SINGLE.account_number,
        SINGLE.mpans[0],
        SINGLE.serials[0],
        SINGLE.device_ids[0],
        *sim.issued_secrets(),
    ):
        assert secret not in text
    assert result["coordinator"]["online"] is True
    samples = entry.runtime_data.coordinator.data.samples
    assert result["coordinator"]["samples_held"] == len(samples) > 20
    assert result["entry"]["data"]["api_key"] == "**REDACTED**"
    assert result["coordinator"]["tariff"] == "HalfHourlyTariff"
    # The account's budget saw every request the simulator received.
    assert result["coordinator"]["account_requests_last_hour"] == requests_before


async def test_gas_diagnostics_redacted(
    frozen_sim: Sim,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
) -> None:
    """A gas entry: MPRN, serial and device id redacted; the ledger is summarised."""
    from tests.simulator import GASONLY  # noqa: PLC0415
    from tests.test_gas import gas_entry  # noqa: PLC0415

    _, url = frozen_sim
    entry = gas_entry(url, GASONLY)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(result)
    point = GASONLY.gas[0]
    for secret in (
        GASONLY.api_key,
        GASONLY.account_number,
        point.mprn,
        point.serial,
        point.device_id,
    ):
        assert secret not in text
    assert result["coordinator"]["fuel"] == "gas"
    assert result["coordinator"]["ledger_pending_half_hours"] > 0  # its history is on its way


async def test_diagnostics_snapshot(
    frozen_sim: Sim,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
) -> None:
    """What a user attaches to a bug report, whole: a change to it shows up in review."""
    _, url = frozen_sim
    entry = await setup_entry(hass, url)
    result = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    # The simulator's address changes with every run; the rest is fixed by the frozen clock.
    assert result == snapshot(exclude=props("entry_id", "created_at", "modified_at", "api_url"))
