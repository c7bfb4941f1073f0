"""A meter's requests beside its own readings: the tariff, history fills and published rates.

Each is one request in a slot the account's cadence lends. A failure here never fails the
entities: it waits, doubling up to half an hour (a rate limit backs off the whole account).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .account import AccountLink, Job
from .api import (
    Fuel,
    KrakenAuthenticationError,
    KrakenError,
    KrakenInvalidResponseError,
    KrakenRateLimitError,
    KrakenRequestError,
    TariffKind,
    TelemetryGrouping,
)
from .const import (
    CONF_ACCOUNT_NUMBER,
    CONF_DEVICE_ID,
    CONF_SERIAL_NUMBER,
    HISTORY_RETRY,
    HISTORY_RETRY_MAX,
    LOGGER,
    TARIFF_MAX_AGE,
    TARIFF_MIN_INTERVAL,
    is_gas,
    meter_point,
)
from .data import previous_month_start
from .ledger import BUCKET, bucket_start, half_hours
from .meter import MeterState
from .tariff import product_code_of, rates_cover

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


class MeterExtras:
    """One meter's tariff, history fills and historical rates: what is due, and doing it."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        link: AccountLink,
        meter: MeterState,
        rates_known: Callable[[datetime], None],
    ) -> None:
        """``rates_known(start)``: rates from ``start`` on arrived (their hours are rewritten)."""
        self.hass = hass
        self.entry = entry
        self.link = link
        self.client = link.client
        self.meter = meter
        self.gas = is_gas(entry.data)
        self.device_id: str = entry.data[CONF_DEVICE_ID]
        self._rates_known = rates_known
        self.tariff_fetched: datetime | None = None
        self.retry_at = datetime.min.replace(tzinfo=dt_util.UTC)
        self._failures = 0
        #: The last span of rates asked for, import's and export's (not asked twice).
        self._rates_tried: dict[bool, tuple[datetime, datetime]] = {}
        #: Whether the export entities were created (set by the sensor platform).
        self.exports_created: bool | None = None
        self._unearned_cache: tuple[tuple[object, ...], list[datetime]] | None = None
        self._fill_failures: dict[datetime, int] = {}
        #: Half hours per history request (halved while Kraken refuses the size).
        self.fill_buckets = FILL_BUCKETS

    def due(self, now: datetime) -> Job | None:
        """The most urgent of the tariff, a fill and rates, if any is due and not waiting."""
        if now < self.retry_at:
            return None
        if self.tariff_due(now):
            return Job.TARIFF
        if self.meter.next_fill(now):
            return Job.FILL
        if self.unpriced_span(now):
            return Job.RATES
        return None

    async def run(self, job: Job) -> None:
        """The tariff, a day of history or historical rates: one request.

        The live data is untouched: a failing request here never fails the entities, and backs
        off on its own (a rate limit backs off the whole account).
        """
        async with self.link.poll_lock:
            await self.try_job(job, dt_util.utcnow())

    async def try_job(self, job: Job, now: datetime) -> None:
        """Do ``job`` now (the account's request lock held); a failure waits or backs off."""
        try:
            await self._extra(job, now)
        except KrakenAuthenticationError:
            self.entry.async_start_reauth(self.hass)
        except KrakenRateLimitError as err:
            self.link.back_off(err.retry_after)
        except KrakenError as err:
            self._defer(now, err)
        else:
            self._failures = 0
            self.link.succeeded()

    async def _extra(self, job: Job, now: datetime) -> None:
        if job is Job.TARIFF:
            await self.fetch_tariff(now)
        elif job is Job.FILL and (fill := self.meter.next_fill(now, self.fill_buckets)):
            await self.fill(*fill, now)
        elif job is Job.RATES and (unpriced := self.unpriced_span(now)):
            await self._fetch_rates(*unpriced)

    def _defer(self, now: datetime, err: KrakenError) -> None:
        """A failed tariff, history or rates request: wait, doubling up to half an hour."""
        self._failures += 1
        delay = min(HISTORY_RETRY_MAX, HISTORY_RETRY * 2 ** (self._failures - 1))
        self.retry_at = now + delay
        LOGGER.debug("Deferred a tariff/history request for %s: %s", delay, err)

    async def fill(self, start: datetime, end: datetime, now: datetime) -> None:
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

    def unpriced_span(self, now: datetime) -> tuple[bool, datetime, datetime] | None:
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
        self._rates_known(start)  # their hours are written again with their cost

    def tariff_due(self, now: datetime) -> bool:
        fetched = self.tariff_fetched
        if fetched is None:
            return True
        if now - fetched < TARIFF_MIN_INTERVAL:
            return False
        if now - fetched >= TARIFF_MAX_AGE or not rates_cover(self.meter.tariff, now):
            return True
        export = self.meter.export_tariff
        return export is not None and not rates_cover(export, now)

    async def fetch_tariff(self, now: datetime) -> None:
        self.tariff_fetched = now
        data = self.entry.data
        tariffs = await self.client.get_tariffs(data[CONF_ACCOUNT_NUMBER])
        self.meter.tariff = tariffs.get(meter_point(data))
        if self.gas:
            return
        self.meter.export_tariff = tariffs.export_for(data[CONF_SERIAL_NUMBER])
        exports = self.meter.export_tariff is not None
        if self.exports_created is not None and exports != self.exports_created:
            # An export agreement began (or ended): its entities come (or go) with a reload.
            LOGGER.info("Export tariff of %s changed: reloading", self.entry.title)
            self.exports_created = exports
            self.hass.config_entries.async_schedule_reload(self.entry.entry_id)
