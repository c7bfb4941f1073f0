"""Polling: one coordinator per meter, fetching every 10-second sample once."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from . import statistics
from .account import AccountLink, Job
from .api import (
    KrakenAuthenticationError,
    KrakenError,
    KrakenNoHomeMiniError,
    KrakenRateLimitError,
)
from .const import (
    CONF_CALORIFIC_VALUE,
    CONF_DEVICE_ID,
    CONF_LIVE_INTERVAL,
    CONF_SERIAL_NUMBER,
    CONF_STATISTICS_SERIAL,
    CONF_VOLUME_FROM,
    DEFAULT_CALORIFIC_VALUE,
    DOMAIN,
    LOGGER,
    ONLINE_MAX_AGE,
    is_gas,
)
from .data import HomeMiniData, previous_month_start, snapshot
from .exchange import async_look_for_replacement
from .extras import MeterExtras
from .issues import ISSUE_MISSING, MeterIssues
from .ledger import bucket_start
from .meter import MeterState
from .polls import GasPoll, async_poll_live
from .statistics import StatisticsState
from .store import (
    Stored,
    dump,
    load_meter,
    meter_store,
    requests_from_json,
    statistics_from_json,
)

type HomeMiniConfigEntry = ConfigEntry[HomeMiniRuntimeData]


@dataclass
class HomeMiniRuntimeData:
    """What a loaded entry holds."""

    link: AccountLink
    coordinator: HomeMiniCoordinator


class HomeMiniCoordinator(DataUpdateCoordinator[HomeMiniData]):
    """One meter's work and entities; its account's cadence says when it may ask Kraken.

    Each request it is given is one of: the TEN_SECONDS readings since the last (electricity),
    the newest HALF_HOURLY rows (gas), the tariff, a day of half hours Home Assistant did not
    see, or historical rates. All of it goes into the meter's ledger; the entities are brought
    up to date at every slot of the cadence, with or without a request.
    """

    config_entry: HomeMiniConfigEntry

    def __init__(self, hass: HomeAssistant, entry: HomeMiniConfigEntry, link: AccountLink) -> None:
        """One coordinator per meter (config entry), sharing its account's link."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=None,  # the account's cadence runs every meter
        )
        self.link = link
        self.client = link.client
        self._job: Job | None = None
        self.issues = MeterIssues(hass, entry, dt_util.utcnow())
        self.device_id: str = entry.data[CONF_DEVICE_ID]
        #: A gas meter reports each half hour once: it is asked only when a row is due.
        self.gas = is_gas(entry.data)
        self.meter = MeterState(dt_util.utcnow(), gas=self.gas)
        self._gas = GasPoll(self.meter)
        self._store = meter_store(hass, entry.entry_id)
        self._statistics = StatisticsState()
        self.extras = MeterExtras(hass, entry, link, self.meter, self._rewrite_from)

    @property
    def samples_received(self) -> int:
        """Distinct samples taken in since start-up (the benchmark's capture ratio)."""
        return self.meter.samples_received

    async def _async_setup(self) -> None:
        """Continue the previous run's ledger, or start one with the history Kraken holds."""
        now = dt_util.utcnow()
        first = previous_month_start(now, dt_util.get_default_time_zone())
        if stored := await self._store.async_load():
            load_meter(self.meter, stored)
            self._statistics = statistics_from_json(stored.get("statistics"))
            self.link.budget.restore(requests_from_json(stored.get("requests", [])))
            return
        # A new install: the history Kraken holds.
        self.meter.ledger.mark_pending(first, bucket_start(now - ONLINE_MAX_AGE))

    @property
    def healthy(self) -> bool:
        """Whether its last requests went through (live and other work)."""
        return self.last_update_success and dt_util.utcnow() >= self.extras.retry_at

    @property
    def live_interval(self) -> timedelta | None:
        """The time between the account's slots this entry asks for (electricity only)."""
        if self.gas:
            return None
        return timedelta(seconds=self.config_entry.options.get(CONF_LIVE_INTERVAL, 30))

    def due(self, now: datetime) -> Job | None:
        """This meter's most urgent work other than live electricity, if any is due."""
        if self.gas and self._gas.due(now):
            return Job.GAS
        return self.extras.due(now)

    async def async_run(self, job: Job | None) -> None:
        """One slot's ``job`` for this meter; None only brings the entities up to date."""
        if job in (Job.LIVE, Job.GAS):
            self._job = job
            await self.async_refresh()
            return
        if job is not None:
            await self.extras.run(job)
        if self.data is not None:  # a slot without a request keeps the last outcome
            self.data = await self._publish(dt_util.utcnow())
            self.async_update_listeners()

    async def _async_update_data(self) -> HomeMiniData:
        """Poll, mapping the client's errors to translated Home Assistant errors (one place)."""
        job, self._job = self._job or (Job.GAS if self.gas else Job.LIVE), None
        try:
            data = await self._poll(job)
        except KrakenAuthenticationError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="authentication_failed"
            ) from err
        except KrakenRateLimitError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="rate_limited",
                retry_after=self.link.back_off(err.retry_after),
            ) from err
        except KrakenNoHomeMiniError as err:
            self.issues.set(ISSUE_MISSING, active=True)
            await async_look_for_replacement(
                self.hass, self.config_entry, self.link.client, self.link.budget
            )
            raise UpdateFailed(translation_domain=DOMAIN, translation_key="no_home_mini") from err
        except KrakenError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": str(err)},
            ) from err
        self.link.succeeded()
        self.issues.set(ISSUE_MISSING, active=False)
        return data

    async def _poll(self, job: Job) -> HomeMiniData:
        """The meter's own readings: live electricity, or a gas meter's newest rows."""
        async with self.link.poll_lock:
            now = dt_util.utcnow()
            if self.extras.tariff_fetched is None:  # every cost needs it: with the first poll
                await self.extras.try_job(Job.TARIFF, now)
            if job is Job.GAS:
                await self._gas.async_poll(self.client, self.device_id, now)
            else:
                await async_poll_live(self.client, self.device_id, self.meter, now)
        return await self._publish(now)

    async def _publish(self, now: datetime) -> HomeMiniData:
        """Seal, write the statistics, save, raise or clear repairs: the entities' new view."""
        self.meter.ledger.seal(now)
        await self._write_statistics(now)
        self._store.async_save_every(self._stored, now)
        data = self._snapshot(now)
        self.issues.note(data, now, gas=self.gas, exchanged_at=self.meter.consumption.exchanged_at)
        return data

    def _snapshot(self, now: datetime) -> HomeMiniData:
        """The entities' view, in Home Assistant's time zone now (it can change at runtime)."""
        options = self.config_entry.options
        calorific_value = Decimal(str(options.get(CONF_CALORIFIC_VALUE, DEFAULT_CALORIFIC_VALUE)))
        since = options.get(CONF_VOLUME_FROM)
        volume_from = (Decimal(since[0]), Decimal(since[1])) if since else None
        data = snapshot(
            self.meter, now, dt_util.get_default_time_zone(), calorific_value, volume_from
        )
        return data if self.gas else replace(data, online_within=self.link.online_within())

    def _stored(self) -> Stored:
        return dump(self.meter, self._statistics, self.link.budget.sent())

    def _rewrite_from(self, start: datetime) -> None:
        """Rates from ``start`` on arrived: those hours are written again with their cost."""
        state = self._statistics
        state.unwritten_from = min(state.unwritten_from or start, start)

    async def _write_statistics(self, now: datetime) -> None:
        """Hours the ledger completed or changed go to the long-term statistics."""
        data, meter = self.config_entry.data, self.meter
        series = statistics.Series(
            prefix=statistics.statistic_prefix(
                "gas" if self.gas else "electricity",
                data.get(CONF_STATISTICS_SERIAL) or data[CONF_SERIAL_NUMBER],
            ),
            name=self.config_entry.title,
            rate=meter.rate_at,
            export_rate=meter.export_rate_at if meter.export_tariff else None,
            gas=self.gas,
        )
        keep_from = previous_month_start(now, dt_util.get_default_time_zone())
        await statistics.async_write_meter(
            self.hass, self._statistics, meter, series, keep_from, now
        )

    async def async_shutdown(self) -> None:
        """Write the session and counting position now, not after the save delay."""
        await super().async_shutdown()
        await self._store.async_save(self._stored())

    def reset_session(self) -> None:
        """Start a new cost session now."""
        now = dt_util.utcnow()
        self.meter.reset_session(now)
        self._store.async_save_every(self._stored, now, at_once=True)
        self.async_set_updated_data(self._snapshot(now))
