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
    TelemetryGrouping,
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
    GAS_PUBLISHED_AFTER,
    GAS_RETRY,
    GAS_RETRY_MAX,
    LOGGER,
    ONLINE_MAX_AGE,
    STALE_REPAIR_AFTER,
    is_gas,
)
from .data import HomeMiniData, previous_month_start, snapshot
from .exchange import async_look_for_replacement
from .extras import MeterExtras
from .issues import ISSUE_EXCHANGED, ISSUE_MISSING, ISSUE_NOT_REPORTING, MeterIssues
from .ledger import BUCKET, bucket_start
from .meter import MeterState
from .statistics import StatisticsState
from .store import (
    SAVE_DELAY,
    Stored,
    dump,
    load_meter,
    meter_store,
    requests_from_json,
    statistics_from_json,
)

type HomeMiniConfigEntry = ConfigEntry[HomeMiniRuntimeData]

#: How long the "meter exchanged" notice stays up unless dismissed.
EXCHANGE_NOTICE = timedelta(days=7)


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
        self._started = dt_util.utcnow()
        self.issues = MeterIssues(hass, entry)
        self.device_id: str = entry.data[CONF_DEVICE_ID]
        #: A gas meter reports each half hour once: it is asked only when a row is due.
        self.gas = is_gas(entry.data)
        self.meter = MeterState(dt_util.utcnow(), gas=self.gas)
        self._gas_next_try = datetime.min.replace(tzinfo=dt_util.UTC)
        self._gas_retry = GAS_RETRY
        self._store = meter_store(hass, entry.entry_id)
        self._statistics = StatisticsState()
        self.extras = MeterExtras(hass, entry, link, self.meter, self._rewrite_from)
        self._export_missing_told = False
        self._mini_online: bool | None = None

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
        if self.gas and self._gas_due(now):
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

    def _note_issues(self, data: HomeMiniData, now: datetime) -> None:
        """The repairs that follow from what the meter holds now."""
        self._note_online(data.is_online(now))
        newest = data.newest
        no_register = data.export_tariff and newest and newest.export_wh is None
        if no_register and not self._export_missing_told:  # nothing to repair: say it once
            self._export_missing_told = True
            LOGGER.info(
                "%s has an export tariff but its meter reports no export register: "
                "export and earnings stay unavailable",
                self.config_entry.title,
            )
        quiet_for = (
            data.online_within if self.gas else max(STALE_REPAIR_AFTER, 2 * data.online_within)
        )
        heard = data.newest.read_at if data.newest else self._started
        self.issues.set(ISSUE_NOT_REPORTING, active=now - heard >= quiet_for)
        exchanged = self.meter.consumption.exchanged_at
        self.issues.set(
            ISSUE_EXCHANGED, active=exchanged is not None and now - exchanged < EXCHANGE_NOTICE
        )

    def _note_online(self, online: bool) -> None:
        """The API answers but the Mini went quiet (or came back): say so once, at info."""
        if self._mini_online is not None and online != self._mini_online:
            if online:
                LOGGER.info("Home Mini %s is reporting again", self.config_entry.title)
            else:
                LOGGER.info(
                    "Home Mini %s has sent no reading for 3 minutes", self.config_entry.title
                )
        self._mini_online = online

    async def _poll(self, job: Job) -> HomeMiniData:
        """The meter's own readings: live electricity, or a gas meter's newest rows."""
        async with self.link.poll_lock:
            now = dt_util.utcnow()
            if self.extras.tariff_fetched is None:  # every cost needs it: with the first poll
                await self.extras.try_job(Job.TARIFF, now)
            if job is Job.GAS:
                await self._poll_gas(now)
            else:
                start, end = self.meter.live_window(now)
                readings = await self.client.get_telemetry(
                    self.device_id, start, end, TelemetryGrouping.TEN_SECONDS
                )
                self.meter.accept(readings, start)
                self.meter.covered(start, end)
        return await self._publish(now)

    async def _publish(self, now: datetime) -> HomeMiniData:
        """Seal, write the statistics, save, raise or clear repairs: the entities' new view."""
        self.meter.ledger.seal(now)
        await self._write_statistics(now)
        self._store.async_delay_save(self._stored, SAVE_DELAY)
        data = self._snapshot(now)
        self._note_issues(data, now)
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

    def _gas_due(self, now: datetime) -> bool:
        """Whether the gas meter's next half-hour row can be there (or it is worth asking)."""
        newest = self.meter.newest
        expected = now if newest is None else newest.read_at + 2 * BUCKET + GAS_PUBLISHED_AFTER
        return now >= max(expected, self._gas_next_try)

    async def _poll_gas(self, now: datetime) -> None:
        """The last two hours' half-hour rows."""
        newest = self.meter.newest
        start, end = self.meter.gas_window(now)
        rows = await self.client.get_telemetry(
            self.device_id, start, end, TelemetryGrouping.HALF_HOURLY
        )
        self.meter.accept_rows(rows, start, end, now)
        if self.meter.newest is not newest:
            self._gas_retry = GAS_RETRY
            self._gas_next_try = now
        else:  # not published yet, or the Mini is quiet: ask less and less often
            self._gas_next_try = now + self._gas_retry
            self._gas_retry = min(GAS_RETRY_MAX, self._gas_retry * 2)

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
        self._store.async_delay_save(self._stored, SAVE_DELAY)
        self.async_set_updated_data(self._snapshot(now))
