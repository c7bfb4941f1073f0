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
    Fuel,
    KrakenAuthenticationError,
    KrakenError,
    KrakenInvalidResponseError,
    KrakenNoHomeMiniError,
    KrakenRateLimitError,
    KrakenRequestError,
    TariffKind,
    TelemetryGrouping,
)
from .const import (
    CONF_ACCOUNT_NUMBER,
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
    HISTORY_RETRY,
    HISTORY_RETRY_MAX,
    LOGGER,
    ONLINE_MAX_AGE,
    STALE_REPAIR_AFTER,
    TARIFF_MAX_AGE,
    TARIFF_MIN_INTERVAL,
    is_gas,
    meter_point,
)
from .exchange import async_look_for_replacement
from .issues import ISSUE_EXCHANGED, ISSUE_MISSING, ISSUE_NOT_REPORTING, MeterIssues
from .ledger import BUCKET, bucket_start, half_hours
from .meter import HomeMiniData, MeterState, previous_month_start
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
from .tariff import product_code_of, rates_cover

type HomeMiniConfigEntry = ConfigEntry[HomeMiniRuntimeData]

#: Kraken's answer for a range that starts before the telemetry it keeps.
RETENTION_CODE = "KT-GB-4051"
#: A history range that fails this often (other than for retention) is given up.
FILL_ATTEMPTS = 5
#: Half hours asked for in one HALF_HOURLY request: four days (192 rows, ~1,500 nodes of
#: Kraken's 10,000), so two months back-fill in under 30 minutes. Kraken publishes no range
#: limit: a refused range is halved, down to one day, before it counts as a failure.
FILL_BUCKETS = 192
FILL_BUCKETS_MIN = 48
#: Answers that refuse the request itself, not a passing trouble.
REFUSALS = (KrakenRequestError, KrakenInvalidResponseError)
#: Below this a range refused for retention is not halved again.
RETENTION_RETRY_MIN = timedelta(hours=3)
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
        self._tariff_fetched: datetime | None = None
        self._extras_retry_at = datetime.min.replace(tzinfo=dt_util.UTC)
        self._extras_failures = 0
        #: The last span of rates asked for, import's and export's (not asked twice).
        self._rates_tried: dict[bool, tuple[datetime, datetime]] = {}
        #: Whether the export entities were created (set by the sensor platform).
        self.exports_created: bool | None = None
        self._export_missing_told = False
        self._unearned_cache: tuple[tuple[object, ...], list[datetime]] | None = None
        self._fill_failures: dict[datetime, int] = {}
        #: Half hours per history request (halved while Kraken refuses the size).
        self.fill_buckets = FILL_BUCKETS
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
        return self.last_update_success and dt_util.utcnow() >= self._extras_retry_at

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
        if now < self._extras_retry_at:
            return None
        if self._tariff_due(now):
            return Job.TARIFF
        if self.meter.next_fill(now):
            return Job.FILL
        if self._unpriced_span(now):
            return Job.RATES
        return None

    async def async_run(self, job: Job | None) -> None:
        """One slot's ``job`` for this meter; None only brings the entities up to date."""
        if job in (Job.LIVE, Job.GAS):
            self._job = job
            await self.async_refresh()
            return
        if job is not None:
            await self._run_extra(job)
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
            if self._tariff_fetched is None:  # every cost needs it: read with the first poll
                await self._try_extra(Job.TARIFF, now)
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
        data = self.meter.snapshot(
            now, dt_util.get_default_time_zone(), calorific_value, volume_from
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

    async def _run_extra(self, job: Job) -> None:
        """The tariff, a day of history or historical rates: one request.

        The live data is untouched: a failing request here never fails the entities, and backs
        off on its own (a rate limit backs off the whole account).
        """
        async with self.link.poll_lock:
            await self._try_extra(job, dt_util.utcnow())

    async def _try_extra(self, job: Job, now: datetime) -> None:
        try:
            await self._extra(job, now)
        except KrakenAuthenticationError:
            self.config_entry.async_start_reauth(self.hass)
        except KrakenRateLimitError as err:
            self.link.back_off(err.retry_after)
        except KrakenError as err:
            self._defer_extras(now, err)
        else:
            self._extras_failures = 0
            self.link.succeeded()

    async def _extra(self, job: Job, now: datetime) -> None:
        if job is Job.TARIFF:
            await self._fetch_tariff(now)
        elif job is Job.FILL and (fill := self.meter.next_fill(now, self.fill_buckets)):
            await self._fill(*fill, now)
        elif job is Job.RATES and (unpriced := self._unpriced_span(now)):
            await self._fetch_rates(*unpriced)

    def _defer_extras(self, now: datetime, err: KrakenError) -> None:
        """A failed tariff, history or rates request: wait, doubling up to half an hour."""
        self._extras_failures += 1
        delay = min(HISTORY_RETRY_MAX, HISTORY_RETRY * 2 ** (self._extras_failures - 1))
        self._extras_retry_at = now + delay
        LOGGER.debug("Deferred a tariff/history request for %s: %s", delay, err)

    async def _fill(self, start: datetime, end: datetime, now: datetime) -> None:
        """Kraken's HALF_HOURLY rows for half hours Home Assistant did not see (≤ 4 days)."""
        try:
            rows = await self.client.get_telemetry(
                self.device_id, start, end, TelemetryGrouping.HALF_HOURLY
            )
        except KrakenError as err:
            asked = int((end - start) / BUCKET)
            if err.code == RETENTION_CODE:
                # Older than Kraken keeps: try the newer half of the range once, then stop.
                half = bucket_start(start + (end - start) / 2)
                self.meter.ledger.give_up(half if end - start > RETENTION_RETRY_MIN else end)
                return
            if isinstance(err, REFUSALS) and asked > FILL_BUCKETS_MIN:
                # The request itself refused (a node or complexity limit, a range too long for
                # this Kraken): smaller ranges from now on, down to a day.
                self.fill_buckets = max(FILL_BUCKETS_MIN, min(self.fill_buckets, asked // 2))
                LOGGER.debug("History refused (%s); asking %s half hours at a time", err, asked)
                return
            failures = self._fill_failures.get(start, 0) + 1
            self._fill_failures[start] = failures
            if failures >= FILL_ATTEMPTS:  # this range is refused for good: move on
                LOGGER.debug("Giving up on history %s to %s: %s", start, end, err)
                self.meter.ledger.drop_pending(start, end)
            raise
        self.meter.apply_history(rows, start, end, now)

    def _unpriced_span(self, now: datetime) -> tuple[bool, datetime, datetime] | None:
        """Half hours holding energy without a cost or a known rate (Agile's past days), or
        export without a known export rate (Agile Outgoing's); True for export."""
        keep_from = previous_month_start(now, dt_util.get_default_time_zone())
        meter = self.meter
        for export, tariff in ((False, meter.tariff), (True, meter.export_tariff)):
            if tariff is None or tariff.kind is not TariffKind.HALF_HOURLY:
                continue
            if not tariff.tariff_code:
                continue
            if export:
                missing = self._unearned(keep_from, now)
            else:
                held = meter.ledger.unpriced(keep_from, now)
                missing = [at for at in held if meter.rate_at(at) is None]
            span = (missing[0], missing[-1] + BUCKET) if missing else None
            if span is not None and span != self._rates_tried.get(export):
                return (export, *span)
        return None

    def _unearned(self, keep_from: datetime, now: datetime) -> list[datetime]:
        """Half hours that exported with no export rate known (looked again only when the
        ledger, the pending half hours or the rates change: this is asked at every slot)."""
        meter = self.meter
        ledger = meter.ledger
        key = (
            keep_from,
            len(ledger.buckets),
            len(ledger.pending),
            len(meter.export_rates),
            id(meter.export_tariff),  # a new tariff read prices more half hours
        )
        if self._unearned_cache is None or self._unearned_cache[0] != key:
            exported = ledger.exports(keep_from, now)
            missing = [at for at, _ in exported if meter.export_rate_at(at) is None]
            self._unearned_cache = (key, missing)
        return self._unearned_cache[1]

    async def _fetch_rates(self, export: bool, start: datetime, end: datetime) -> None:
        """The tariff's published rates for half hours the cached tariff no longer covers."""
        self._rates_tried[export] = (start, end)
        tariff = self.meter.export_tariff if export else self.meter.tariff
        if tariff is None or tariff.tariff_code is None:
            return
        product = tariff.product_code or product_code_of(tariff.tariff_code)
        rates = await self.client.get_standard_unit_rates(
            Fuel.ELECTRICITY, product, tariff.tariff_code, start, end
        )
        known = self.meter.export_rates if export else self.meter.rates
        for rate in rates:
            first = max(start, rate.valid_from or start)
            for at in half_hours(first, min(end, rate.valid_to or end)):
                known[at] = rate.value_pence
        # The hours those half hours fall in are written again with their cost.
        state = self._statistics
        state.unwritten_from = min(state.unwritten_from or start, start)

    def _tariff_due(self, now: datetime) -> bool:
        fetched = self._tariff_fetched
        if fetched is None:
            return True
        if now - fetched < TARIFF_MIN_INTERVAL:
            return False
        if now - fetched >= TARIFF_MAX_AGE or not rates_cover(self.meter.tariff, now):
            return True
        export = self.meter.export_tariff
        return export is not None and not rates_cover(export, now)

    async def _fetch_tariff(self, now: datetime) -> None:
        self._tariff_fetched = now
        data = self.config_entry.data
        tariffs = await self.client.get_tariffs(data[CONF_ACCOUNT_NUMBER])
        self.meter.tariff = tariffs.get(meter_point(data))
        if self.gas:
            return
        self.meter.export_tariff = tariffs.export_for(data[CONF_SERIAL_NUMBER])
        exports = self.meter.export_tariff is not None
        if self.exports_created is not None and exports != self.exports_created:
            # An export agreement began (or ended): its entities come (or go) with a reload.
            LOGGER.info("Export tariff of %s changed: reloading", self.config_entry.title)
            self.exports_created = exports
            self.hass.config_entries.async_schedule_reload(self.config_entry.entry_id)

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
