"""Polling: one coordinator per meter, fetching every 10-second sample once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
import logging
import random
from typing import Any, cast

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
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
from .budget import RequestBudget
from .const import (
    BACKOFF_MAX,
    CONF_ACCOUNT_NUMBER,
    CONF_DEVICE_ID,
    CONF_MPAN,
    DOMAIN,
    LOGGER,
    MAX_BACKOFF_STEPS,
    POLL_INTERVAL,
    STALE_REPAIR_AFTER,
    TARIFF_MAX_AGE,
    TARIFF_MIN_INTERVAL,
)
from .meter import HomeMiniData, MeterState, PriorDays, local_midnight, month_start
from .repairs import async_look_for_replacement
from .tariff import rates_cover

type HomeMiniConfigEntry = ConfigEntry[HomeMiniRuntimeData]

ISSUE_NOT_REPORTING = "home_mini_not_reporting"
ISSUE_MISSING = "home_mini_missing"
STORAGE_VERSION = 1
#: Coalesce state writes: the session total is saved at most this often (and on shutdown).
STORAGE_DELAY = 60
#: When the month's earlier days are out of Kraken's telemetry retention, look back this far.
PRIOR_DAYS_FALLBACK = timedelta(days=7)


@dataclass
class AccountLink:
    """What the meters of one account share: one client, one token, one request budget."""

    client: KrakenClient
    budget: RequestBudget
    #: Polls of one account run one at a time, so meters never burst together.
    poll_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    coordinators: list[HomeMiniCoordinator] = field(default_factory=list)

    def poll_interval(self) -> timedelta:
        """30 s for one meter; stretched so the account's total stays the same."""
        return POLL_INTERVAL * max(1, len(self.coordinators))


@dataclass
class HomeMiniRuntimeData:
    """What a loaded entry holds."""

    link: AccountLink
    coordinator: HomeMiniCoordinator


class _WarnWhenUnavailable(logging.LoggerAdapter[logging.Logger]):
    """Home Assistant logs a failed poll once, at error level; a flaky cloud is a warning."""

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Log the one line per outage as a warning."""
        self.warning(msg, *args, **kwargs)


class HomeMiniCoordinator(DataUpdateCoordinator[HomeMiniData]):
    """Fetches the TEN_SECONDS readings published since the last poll, in one request.

    The tariff (every few hours, or when its rates run out), today's totals after a start-up
    and the month's earlier days (once a day) cost a request each, only when due.
    """

    config_entry: HomeMiniConfigEntry

    def __init__(self, hass: HomeAssistant, entry: HomeMiniConfigEntry, link: AccountLink) -> None:
        """One coordinator per meter (config entry), sharing its account's link."""
        super().__init__(
            hass,
            cast(logging.Logger, _WarnWhenUnavailable(LOGGER)),
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=link.poll_interval(),
        )
        self.link = link
        self.client = link.client
        self._backoff = 0
        self._issues: set[str] = set()
        self.device_id: str = entry.data[CONF_DEVICE_ID]
        self.meter = MeterState(dt_util.utcnow(), dt_util.get_default_time_zone())
        self._store = self.store_for(hass, entry)
        self._tariff_fetched: datetime | None = None

    @staticmethod
    def store_for(hass: HomeAssistant, entry: ConfigEntry[Any]) -> Store[dict[str, Any]]:
        """Where one meter's session and counting position are kept."""
        return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}")

    @property
    def samples_received(self) -> int:
        """Distinct samples taken in since start-up (the benchmark's capture ratio)."""
        return self.meter.samples_received

    async def _async_setup(self) -> None:
        """Continue the session and the register floor of the previous run."""
        if stored := await self._store.async_load():
            self.meter.restore(stored)
            self.link.budget.restore(stored.get("requests", []))

    async def _async_update_data(self) -> HomeMiniData:
        """Poll, mapping the client's errors to translated Home Assistant errors (one place)."""
        try:
            data = await self._poll()
        except KrakenAuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="authentication_failed"
            ) from err
        except KrakenRateLimitError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="rate_limited",
                retry_after=self._back_off(err.retry_after),
            ) from err
        except KrakenNoHomeMiniError as err:
            self._set_issue(ISSUE_MISSING, active=True)
            await async_look_for_replacement(self.hass, self.config_entry, self.link)
            raise UpdateFailed(translation_domain=DOMAIN, translation_key="no_home_mini") from err
        except KrakenError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": str(err)},
            ) from err
        # Back to the normal interval one step per successful poll.
        self._backoff = max(0, self._backoff - 1)
        self.update_interval = min(BACKOFF_MAX, self.link.poll_interval() * 2**self._backoff)
        self._set_issue(ISSUE_MISSING, active=False)
        newest = data.newest
        stale = newest is None or dt_util.utcnow() - newest.read_at >= STALE_REPAIR_AFTER
        self._set_issue(ISSUE_NOT_REPORTING, active=stale)
        return data

    def _back_off(self, retry_after: float | None) -> float:
        """Seconds to the next poll when rate-limited: exponential, full jitter, ≤ 15 min."""
        self._backoff = min(self._backoff + 1, MAX_BACKOFF_STEPS)
        ceiling = min(BACKOFF_MAX, self.link.poll_interval() * 2**self._backoff)
        jitter = random.uniform(0, ceiling.total_seconds())  # noqa: S311 (not crypto)
        # Never sooner than a normal poll; the server's word wins when it gives one.
        return max(POLL_INTERVAL.total_seconds(), jitter, retry_after or 0)

    def _set_issue(self, key: str, *, active: bool) -> None:
        """Raise or clear one of this meter's repair issues (only on a change)."""
        if active == (key in self._issues):
            return
        issue_id = f"{key}_{self.config_entry.entry_id}"
        if active:
            self._issues.add(key)
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=key,
                translation_placeholders={"meter": self.config_entry.title},
            )
        else:
            self._issues.discard(key)
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    async def _poll(self) -> HomeMiniData:
        async with self.link.poll_lock:
            now = dt_util.utcnow()
            start, end = self.meter.fetch_window(now)
            # Keep one request spare for a token renewal.
            if start < end and self.link.budget.allows(2):
                readings = await self.client.get_telemetry(
                    self.device_id, start, end, TelemetryGrouping.TEN_SECONDS
                )
                self.meter.accept(readings, now)
                self.meter.scanned(end, now)
            else:
                LOGGER.debug("Skipping this poll: the account's hourly budget is spent")
                self.meter.roll_day(now)
            await self._refresh_extras(now)
        self._store.async_delay_save(self._stored, STORAGE_DELAY)
        return self.meter.snapshot()

    def _stored(self) -> dict[str, Any]:
        return {**self.meter.as_store(), "requests": self.link.budget.history()}

    async def _refresh_extras(self, now: datetime) -> None:
        """Tariff, today's recovery and the month's earlier days, each only when due."""
        budget = self.link.budget
        try:
            # Each may need a token renewal too, so each keeps one request spare.
            if self._tariff_due(now) and budget.allows(2):
                await self._fetch_tariff(now)
            newest = self.meter.newest
            if not self.meter.today_recovered and newest is not None and budget.allows(2):
                await self._recover_today(newest.read_at)
            if self.meter.prior_days is None and budget.allows(2):
                await self._fetch_prior_days(now)
        except KrakenAuthenticationError:
            raise
        except KrakenError as err:
            # Live data is already in hand; these are retried on a later poll.
            LOGGER.debug("Deferred a tariff/history request: %s", err)

    def _tariff_due(self, now: datetime) -> bool:
        fetched = self._tariff_fetched
        if fetched is None:
            return True
        if now - fetched < TARIFF_MIN_INTERVAL:
            return False
        return now - fetched >= TARIFF_MAX_AGE or not rates_cover(self.meter.tariff, now)

    async def _fetch_tariff(self, now: datetime) -> None:
        self._tariff_fetched = now
        tariffs = await self.client.get_tariffs(self.config_entry.data[CONF_ACCOUNT_NUMBER])
        self.meter.tariff = tariffs.get(self.config_entry.data[CONF_MPAN])

    async def _recover_today(self, through: datetime) -> None:
        """One HALF_HOURLY request: today's cost and energy through the newest sample held."""
        midnight = self.meter.cost_today.started
        if through < midnight:
            self.meter.recover_today([], through)
            return
        buckets = await self.client.get_telemetry(
            self.device_id,
            midnight,
            through + timedelta(seconds=1),
            TelemetryGrouping.HALF_HOURLY,
        )
        self.meter.recover_today(buckets, through)

    async def _fetch_prior_days(self, now: datetime) -> None:
        """The month's complete days before today, in one HOURLY request (once a day)."""
        tz = self.meter.tz
        today = local_midnight(now, tz)
        first = month_start(now, tz)
        start = first
        cost = Decimal(0)
        if today > first:
            try:
                buckets = await self._hourly(start, today)
            except KrakenError as err:
                if err.code != "KT-GB-4051":
                    raise
                start = max(first, today - PRIOR_DAYS_FALLBACK)
                buckets = await self._hourly(start, today)
            cost = sum(
                (self.meter.cost_pence(bucket) or Decimal(0) for bucket in buckets), Decimal(0)
            )
        self.meter.prior_days = PriorDays(
            month_start=first,
            day_start=today,
            cost_pence=cost,
            days=(today - start).total_seconds() / 86400,
        )

    async def _hourly(self, start: datetime, end: datetime) -> list[TelemetryReading]:
        return await self.client.get_telemetry(self.device_id, start, end, TelemetryGrouping.HOURLY)

    async def async_shutdown(self) -> None:
        """Write the session and counting position now, not after the save delay."""
        await super().async_shutdown()
        await self._store.async_save(self._stored())

    def reset_session(self) -> None:
        """Start a new cost session now."""
        self.meter.reset_session(dt_util.utcnow())
        self._store.async_delay_save(self._stored, STORAGE_DELAY)
        self.async_set_updated_data(self.meter.snapshot())
