"""The Live card's feed: `octopus_home_mini/samples/subscribe` over the real websocket API."""

from datetime import UTC, datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.octopus_home_mini.const import (
    CONF_LIVE_INTERVAL,
    DEMAND_LEVELS,
    DOMAIN,
    SAMPLE_BUFFER,
)
from tests.common import Sim, advance, entry_for, settle, setup_entry
from tests.simulator import SINGLE, KrakenSimulator

DEVICE = SINGLE.device_ids[0]
SUBSCRIBE = "octopus_home_mini/samples/subscribe"


def _device_id(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    """The meter's id in the device registry (what the card subscribes with)."""
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, DEVICE), entry.entry_id)
    assert device is not None
    return device.id


def _truth(sim: KrakenSimulator, pairs: list[list[float]]) -> list[list[float]]:
    """The simulator's samples over the same span, as the feed encodes them."""
    first = datetime.fromtimestamp(pairs[0][0], UTC)
    last = datetime.fromtimestamp(pairs[-1][0], UTC)
    return [
        [sample.read_at.timestamp(), float(sample.demand_w)]
        for sample in sim.samples(DEVICE, first, last + timedelta(seconds=1))
    ]


async def _sent(client: Any) -> list[dict[str, Any]]:
    """The events sent so far: everything before a ping's pong (a connection keeps order)."""
    await client.send_json_auto_id({"type": "ping"})
    events = []
    while (message := await client.receive_json())["type"] != "pong":
        assert message["type"] == "event", message
        events.append(dict(message["event"]))
    return events


async def _subscribe(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, entry: MockConfigEntry
) -> tuple[Any, dict[str, Any]]:
    """A websocket client subscribed to the meter's samples, and the subscription's result."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": SUBSCRIBE, "device_id": _device_id(hass, entry)})
    return client, await client.receive_json()


async def _subscribed(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, entry: MockConfigEntry
) -> Any:
    """A websocket client whose subscription to the meter's samples succeeded."""
    client, result = await _subscribe(hass, hass_ws_client, entry)
    assert result["success"], result
    return client


async def _event(client: Any) -> dict[str, Any]:
    """Exactly one event was sent."""
    (event,) = await _sent(client)
    return event


async def _quiet(client: Any) -> None:
    """Nothing was sent."""
    assert await _sent(client) == []


async def test_buffer_then_each_polls_new_samples(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On subscribe every held sample, then only the new ones of each poll, all true."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    await settle(hass, freezer)
    client = await _subscribed(hass, hass_ws_client, entry)

    first = await _event(client)
    # Nothing deprecated on the way (HA reports it as a warning in a real instance).
    assert not [r for r in caplog.get_records("call") if "deprecated" in r.getMessage()]
    assert first["replace"] is True
    assert first["online_within"] == 180  # the Online sensor's rule at the 30-s interval
    held = entry.runtime_data.coordinator.data.samples
    assert [pair[0] for pair in first["samples"]] == [s.read_at.timestamp() for s in held]
    assert len(first["samples"]) > 20
    assert first["samples"] == _truth(sim, first["samples"])
    # What the card draws by comes with the samples, not as a copy in the card.
    assert first["limits"] == {
        "bands": [[key, None if upper is None else int(upper)] for key, upper in DEMAND_LEVELS],
        "keep_s": SAMPLE_BUFFER.total_seconds(),
    }

    await advance(hass, freezer, 30)
    update = await _event(client)
    assert update["replace"] is False
    assert "limits" not in update
    assert update["samples"], "a poll brought no sample"
    assert update["samples"][0][0] > first["samples"][-1][0]  # only what is new
    assert update["samples"] == _truth(sim, update["samples"])
    newest = entry.runtime_data.coordinator.data.newest
    assert newest is not None
    assert update["samples"][-1][0] == newest.read_at.timestamp()


async def test_quiet_when_nothing_new(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A poll without new samples (the Mini is silent) and a session reset send nothing."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    await settle(hass, freezer)
    client = await _subscribed(hass, hass_ws_client, entry)
    await _event(client)
    sim.set_fault("stale")
    await advance(hass, freezer, 30)  # what was read before the fault is still published
    await _event(client)
    await advance(hass, freezer, 30)
    assert entry.runtime_data.coordinator.last_update_success
    await _quiet(client)
    entry.runtime_data.coordinator.reset_session()
    await _quiet(client)


async def test_unknown_device_is_an_error(
    hass: HomeAssistant, frozen_sim: Sim, hass_ws_client: WebSocketGenerator
) -> None:
    """No such device, another integration's device, an unloaded meter: `not_found`."""
    _, url = frozen_sim
    entry = await setup_entry(hass, url)
    other_entry = MockConfigEntry(domain="other")
    other_entry.add_to_hass(hass)
    other = dr.async_get(hass).async_get_or_create(
        config_entry_id=other_entry.entry_id, identifiers={("other", "x")}
    )
    meter = _device_id(hass, entry)
    client = await hass_ws_client(hass)
    for device_id in ("no-such-device", other.id, meter):
        if device_id == meter:
            assert await hass.config_entries.async_unload(entry.entry_id)
        await client.send_json_auto_id({"type": SUBSCRIBE, "device_id": device_id})
        result = await client.receive_json()
        assert result["success"] is False, device_id
        assert result["error"]["code"] == "not_found"


async def test_unsubscribe_stops_the_feed(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """After `unsubscribe_events` the next polls send nothing and the listener is gone."""
    _, url = frozen_sim
    entry = await setup_entry(hass, url)
    coordinator = entry.runtime_data.coordinator
    listeners = len(coordinator._listeners)
    client, subscribed = await _subscribe(hass, hass_ws_client, entry)
    await _event(client)
    assert len(coordinator._listeners) == listeners + 1

    await client.send_json_auto_id({"type": "unsubscribe_events", "subscription": subscribed["id"]})
    assert (await client.receive_json())["success"]
    assert len(coordinator._listeners) == listeners
    await advance(hass, freezer, 30)
    await _quiet(client)


async def test_follows_a_reload(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A reload (e.g. after reconfigure) replaces the coordinator: the feed carries on."""
    _, url = frozen_sim
    entry = await setup_entry(hass, url)
    await settle(hass, freezer)
    client = await _subscribed(hass, hass_ws_client, entry)
    first_limits = (await _event(client))["limits"]

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    again = await _event(client)
    assert again["replace"] is True
    assert again["limits"] == first_limits
    assert len(again["samples"]) > 20
    await advance(hass, freezer, 30)
    assert (await _event(client))["replace"] is False


async def test_needs_read_access_to_demand(
    hass: HomeAssistant,
    frozen_sim: Sim,
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: MockUser,
) -> None:
    """A user who may not read the Demand sensor does not get its samples."""
    _, url = frozen_sim
    entry = await setup_entry(hass, url)
    hass_admin_user.mock_policy({"entities": {"entity_ids": {"sensor.other": True}}})
    _, result = await _subscribe(hass, hass_ws_client, entry)
    assert result["success"] is False
    assert result["error"]["code"] == "unauthorized"


async def test_buffer_holds_the_cards_longest_window(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """After 32 minutes of samples the feed starts with exactly the last 30 minutes."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)  # holds the 5 minutes before the start
    # A poll fetches everything since the last; the client's token lives 30 minutes.
    for seconds in (300, 300, 300, 300, 300, 120):
        await advance(hass, freezer, seconds)
    client = await _subscribed(hass, hass_ws_client, entry)
    pairs = (await _event(client))["samples"]
    assert len(pairs) == 181  # both ends of the 30 minutes
    assert pairs[-1][0] - pairs[0][0] == 30 * 60
    assert pairs == _truth(sim, pairs)


async def test_the_feed_says_how_old_a_live_sample_may_be(
    hass: HomeAssistant, frozen_sim: Sim, hass_ws_client: WebSocketGenerator
) -> None:
    """At a 2-minute live interval the Online sensor allows 7 minutes: the card is told the
    same, so it does not say "Offline" between two polls."""
    _, url = frozen_sim
    entry = entry_for(url)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={CONF_LIVE_INTERVAL: 120})
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    client = await _subscribed(hass, hass_ws_client, entry)
    first = await _event(client)
    assert first["online_within"] == 420
    assert first["online_within"] == entry.runtime_data.link.online_within().total_seconds()
