"""The Live card's feed: a meter's 10-second samples, pushed over Home Assistant's websocket.

The card subscribes with the meter's device id; it gets the held samples at once, then each
poll's new ones. Nothing is written to the state machine for this.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from homeassistant.auth.models import User
from homeassistant.auth.permissions.const import POLICY_READ
from homeassistant.components import websocket_api
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import Unauthorized
from homeassistant.helpers import device_registry as dr, entity_registry as er
import probatio as vol

from .const import DEMAND_LEVELS, DOMAIN, SAMPLE_BUFFER
from .coordinator import HomeMiniConfigEntry, HomeMiniCoordinator

SUBSCRIBE_SAMPLES = f"{DOMAIN}/samples/subscribe"

#: What the card draws by, sent with every message that starts the samples over: the demand
#: bands (upper bound in W, exclusive; None for the last) and how many seconds are kept.
LIMITS: Final = {
    "bands": [[key, None if upper is None else float(upper)] for key, upper in DEMAND_LEVELS],
    "keep_s": SAMPLE_BUFFER.total_seconds(),
}


@callback
def async_register_commands(hass: HomeAssistant) -> None:
    """Register the websocket commands (once per Home Assistant)."""
    websocket_api.async_register_command(hass, ws_subscribe_samples)


def _entry_for(hass: HomeAssistant, device_id: str) -> HomeMiniConfigEntry | None:
    """The loaded entry of the meter with this device registry id."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        return None
    entry = hass.config_entries.async_get_entry(device.config_entry_id)
    if entry and entry.domain == DOMAIN and entry.state is ConfigEntryState.LOADED:
        return entry
    return None


def _check_read(hass: HomeAssistant, entry: HomeMiniConfigEntry, user: User) -> None:
    """The samples are the Demand sensor's data: whoever may not read it may not have them."""
    demand = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{entry.runtime_data.coordinator.device_id}_demand"
    )
    if demand is not None and not user.permissions.check_entity(demand, POLICY_READ):
        raise Unauthorized(context=None, entity_id=demand, permission=POLICY_READ)


def _pairs(coordinator: HomeMiniCoordinator, after: datetime | None) -> list[list[float]]:
    """[epoch seconds, W] of the held samples newer than ``after``."""
    return [
        [sample.read_at.timestamp(), float(sample.demand_w)]
        for sample in coordinator.data.samples
        if sample.demand_w is not None and (after is None or sample.read_at > after)
    ]


class _SampleFeed:
    """One subscription: follows the entry's coordinator, also across reloads."""

    def __init__(
        self, connection: websocket_api.ActiveConnection, msg_id: int, entry: HomeMiniConfigEntry
    ) -> None:
        self._connection = connection
        self._msg_id = msg_id
        self._entry = entry
        self._coordinator: HomeMiniCoordinator | None = None
        self._stop_listening: CALLBACK_TYPE | None = None
        self._sent_through: datetime | None = None

    @callback
    def attach(self) -> None:
        """Listen to the current coordinator and send everything it holds."""
        self.detach()
        self._coordinator = self._entry.runtime_data.coordinator
        self._stop_listening = self._coordinator.async_add_listener(self._updated)
        self._sent_through = None
        self._send(replace=True)

    @callback
    def detach(self) -> None:
        """Stop listening (the subscription itself stays open)."""
        if self._stop_listening is not None:
            self._stop_listening()
        self._stop_listening = self._coordinator = None

    @callback
    def entry_changed(self) -> None:
        """A reload replaces the coordinator: follow it."""
        if self._entry.state is ConfigEntryState.LOADED:
            self.attach()
        else:
            self.detach()

    @callback
    def _updated(self) -> None:
        self._send(replace=False)

    @callback
    def _send(self, *, replace: bool) -> None:
        assert self._coordinator is not None
        pairs = _pairs(self._coordinator, self._sent_through)
        if not pairs and not replace:
            return  # a poll without new samples, or a session reset
        if newest := self._coordinator.data.samples:
            self._sent_through = newest[-1].read_at
        # How old the newest sample may be while the meter is live: the Online sensor's rule,
        # which a longer live interval lengthens (the card says "Live" by the same rule).
        coordinator = self._coordinator
        within = (
            coordinator.data.online_within
            if coordinator.gas
            else self._entry.runtime_data.link.online_within()  # the cadence as it runs now
        )
        message: dict[str, Any] = {
            "samples": pairs,
            "replace": replace,
            "online_within": within.total_seconds(),
        }
        if replace:
            message["limits"] = LIMITS
        self._connection.send_message(websocket_api.event_message(self._msg_id, message))


@websocket_api.websocket_command(
    {
        vol.Required("type"): SUBSCRIBE_SAMPLES,
        vol.Required("device_id"): str,
    }
)
@callback
def ws_subscribe_samples(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """Subscribe to a meter's samples.

    Each event: ``{"samples": [[epoch s, W], ...], "replace": bool, "online_within": s}``;
    one that replaces the samples also carries ``"limits"`` (:data:`LIMITS`).
    """
    entry = _entry_for(hass, msg["device_id"])
    if entry is None:
        connection.send_error(
            msg["id"],
            websocket_api.ERR_NOT_FOUND,
            "No loaded Octopus Home Mini meter has this device id",
        )
        return
    _check_read(hass, entry, connection.user)
    feed = _SampleFeed(connection, msg["id"], entry)
    stop_following = entry.async_on_state_change(feed.entry_changed)

    @callback
    def unsubscribe() -> None:
        stop_following()
        feed.detach()

    connection.subscriptions[msg["id"]] = unsubscribe
    connection.send_result(msg["id"])
    feed.attach()
