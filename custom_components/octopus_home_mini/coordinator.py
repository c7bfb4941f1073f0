"""Polling: one coordinator per meter, fetching every 10-second sample once."""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    KrakenAuthenticationError,
    KrakenClient,
    KrakenError,
    KrakenNoHomeMiniError,
    KrakenRateLimitError,
    TelemetryGrouping,
    TelemetryReading,
)
from .const import (
    CONF_DEVICE_ID,
    DOMAIN,
    LOGGER,
    MAX_FETCH_WINDOW,
    MAX_PLAUSIBLE_POWER_W,
    ONLINE_MAX_AGE,
    POLL_INTERVAL,
    SAMPLE_WINDOW,
)

type HomeMiniConfigEntry = ConfigEntry[HomeMiniRuntimeData]


@dataclass
class HomeMiniRuntimeData:
    """What a loaded entry holds."""

    client: KrakenClient
    coordinator: HomeMiniCoordinator


@dataclass(frozen=True, slots=True)
class HomeMiniData:
    """A snapshot of one meter, as the entities see it."""

    newest: TelemetryReading | None
    samples: tuple[TelemetryReading, ...]
    consumption_wh: Decimal | None
    export_wh: Decimal | None

    def is_online(self, now: datetime) -> bool:
        """Whether the newest sample is recent enough to call the Home Mini online."""
        return self.newest is not None and now - self.newest.read_at < ONLINE_MAX_AGE


def kraken_errors[**P, T](
    func: Callable[P, Awaitable[T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Map the client's errors to translated Home Assistant errors, in one place."""

    @wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await func(*args, **kwargs)
        except KrakenAuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="authentication_failed"
            ) from err
        except KrakenRateLimitError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="rate_limited",
                retry_after=err.retry_after,
            ) from err
        except KrakenNoHomeMiniError as err:
            raise UpdateFailed(translation_domain=DOMAIN, translation_key="no_home_mini") from err
        except KrakenError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": str(err)},
            ) from err

    return wrapper


class HomeMiniCoordinator(DataUpdateCoordinator[HomeMiniData]):
    """Fetches the TEN_SECONDS readings published since the last poll, in one request."""

    config_entry: HomeMiniConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: HomeMiniConfigEntry, client: KrakenClient
    ) -> None:
        """One coordinator per meter (config entry)."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=POLL_INTERVAL,
        )
        self.client = client
        self.device_id: str = entry.data[CONF_DEVICE_ID]
        self._samples: deque[TelemetryReading] = deque()
        self._newest: TelemetryReading | None = None
        self._register: TelemetryReading | None = None
        self._export_wh: Decimal | None = None
        self._glitch_logged = False
        #: Distinct samples taken in since start-up (the benchmark's capture ratio uses it).
        self.samples_received = 0

    @kraken_errors
    async def _async_update_data(self) -> HomeMiniData:
        now = dt_util.utcnow()
        start = now - SAMPLE_WINDOW
        if self._newest is not None:
            # Just after the newest sample we hold; ``start`` is inclusive.
            start = self._newest.read_at + timedelta(seconds=1)
        start = max(start, now - MAX_FETCH_WINDOW)
        if start < now:
            readings = await self.client.get_telemetry(
                self.device_id, start, now, TelemetryGrouping.TEN_SECONDS
            )
            self._accept(readings)
        return self._snapshot()

    def _accept(self, readings: list[TelemetryReading]) -> None:
        for reading in readings:
            if self._newest is not None and reading.read_at <= self._newest.read_at:
                continue  # already counted
            self._newest = reading
            self.samples_received += 1
            self._samples.append(reading)
            self._accept_register(reading)
            if reading.export_wh is not None and (
                self._export_wh is None or reading.export_wh >= self._export_wh
            ):
                self._export_wh = reading.export_wh
        if self._newest is not None:
            while self._newest.read_at - self._samples[0].read_at >= SAMPLE_WINDOW:
                self._samples.popleft()

    def _accept_register(self, reading: TelemetryReading) -> None:
        """Take the reading's register unless it is missing, zero, lower, or implausibly high."""
        value = reading.consumption_wh
        last = self._register
        reason: str | None = None
        if value is None or value <= 0:
            reason = "missing" if value is None else "zero"
        elif last is not None and last.consumption_wh is not None:
            hours = Decimal((reading.read_at - last.read_at).total_seconds()) / 3600
            if value < last.consumption_wh:
                reason = "lower than the last accepted reading"
            elif value - last.consumption_wh > MAX_PLAUSIBLE_POWER_W * hours + 1:
                reason = "an implausible jump"
        if reason is None:
            self._register = reading
            self._glitch_logged = False
            return
        if not self._glitch_logged:
            LOGGER.warning(
                "Ignoring meter register readings from %s on: the register was %s",
                reading.read_at.isoformat(),
                reason,
            )
            self._glitch_logged = True

    def _snapshot(self) -> HomeMiniData:
        return HomeMiniData(
            newest=self._newest,
            samples=tuple(self._samples),
            consumption_wh=self._register.consumption_wh if self._register else None,
            export_wh=self._export_wh,
        )
