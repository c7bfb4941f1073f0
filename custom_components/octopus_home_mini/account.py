"""The account: one client, one request budget and one request cadence for all its meters.

Every request an account makes goes out in a slot of one cadence (one slot every 30 s). Each
slot carries the most urgent work that is due: a gas meter's new half hour, the tariff, the
newest half hours still to fill, historical rates; otherwise live telemetry. Live readings
never wait more than :data:`LIVE_MAX_WAIT` slots, and the next live window reaches back over
a slot lent to other work, so every 10-s sample is still kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
import random
from typing import Any, Protocol

from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .api import (
    KrakenClient,
    KrakenRateLimitError,
)
from .budget import Points, RequestBudget
from .const import (
    ACCOUNT_REQUESTS_PER_HOUR,
    BACKOFF_MAX,
    CONF_ACCOUNT_NUMBER,
    CONF_API_URL,
    DEFAULT_API_URL,
    DOMAIN,
    LOGGER,
    MAX_BACKOFF_STEPS,
    ONLINE_MAX_AGE,
    POLL_INTERVAL,
)
from .discovery import Offers

#: A slot's request plus one spare for a token renewal must fit under the hour's ceiling.
SPARE_FOR_TOKEN = 1
#: Live telemetry of an electricity meter waits at most this many slots for other work.
LIVE_MAX_WAIT = 2
#: Slots left empty to make room for requests beside the cadence are at least this far apart
#: (a setup's few requests are made room for within half an hour, live never waits long).
PAY_EVERY = 8
#: While Kraken says the allowance is low, only every this many slots sends a request.
LOW_ALLOWANCE_STRETCH = 2


class Job(StrEnum):
    """What one slot's request is for."""

    LIVE = "live"  # an electricity meter's TEN_SECONDS window
    GAS = "gas"  # a gas meter's newest HALF_HOURLY rows
    TARIFF = "tariff"
    FILL = "fill"  # HALF_HOURLY rows for half hours Home Assistant did not see
    RATES = "rates"  # published unit rates the tariff no longer covers
    ALLOWANCE = "allowance"  # Kraken's count of the account's points (rateLimitInfo)
    DISCOVER = "discover"  # the account's other meters with a Home Mini, to offer for setup


#: Work other than live electricity, most urgent first.
URGENCY: tuple[Job, ...] = (Job.GAS, Job.TARIFF, Job.FILL, Job.RATES, Job.DISCOVER)


class Meter(Protocol):
    """What the cadence needs of a meter's coordinator."""

    @property
    def gas(self) -> bool:
        """Whether the meter reports half hours (gas) rather than 10-s readings."""

    @property
    def live_interval(self) -> timedelta | None:
        """The time between slots its entry asks for (electricity), if any."""

    @property
    def healthy(self) -> bool:
        """Whether its last requests went through (optional work waits otherwise)."""

    def due(self, now: datetime) -> Job | None:
        """The meter's most urgent work other than live electricity, if any is due."""

    async def async_run(self, job: Job | None) -> None:
        """Do ``job`` (one request), or only bring the entities up to date (None)."""


@dataclass
class AccountLink:
    """What the meters of one account share: one client, one budget, one cadence."""

    client: KrakenClient
    budget: RequestBudget
    #: The account's requests run one at a time, so meters never burst together.
    poll_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    coordinators: list[Any] = field(default_factory=list)
    slot: timedelta = POLL_INTERVAL
    #: Slots since each electricity meter's last live request, by meter.
    waited: dict[int, int] = field(default_factory=dict)
    #: Rate limited: no request before this; the backoff's step.
    resume_at: datetime | None = None
    backoff_steps: int = 0
    #: Requests per job in this run, for diagnostics and the benchmark.
    sent: dict[str, int] = field(default_factory=dict)
    #: Kraken's own count of the account's points.
    points: Points = field(init=False)
    slots: int = 0
    #: The account, for offering its other meters: (API URL, account number).
    account: tuple[str, str] | None = None
    offers: Offers | None = None
    _unsubscribe: Callable[[], None] | None = None
    _busy: bool = False
    _paid_at: int = 0
    _hass: HomeAssistant | None = None

    def __post_init__(self) -> None:
        """Kraken's count is read with the account's client."""
        self.points = Points(self.client)

    # Meters ----------------------------------------------------------------------------

    def join(self, hass: HomeAssistant, meter: Meter) -> None:
        """A meter set up on this account takes part in its cadence."""
        self.coordinators.append(meter)
        self.waited[id(meter)] = 0  # its first refresh read it just now
        self._hass = hass
        if self.offers is None and self.account is not None:
            self.offers = Offers(hass, self.account, self.client)
        self.retime()

    def retime(self) -> None:
        """Run the cadence at the slowest interval the account's meters ask for."""
        asked = [m.live_interval for m in self.coordinators if m.live_interval is not None]
        slot = max(asked, default=POLL_INTERVAL)
        if self._unsubscribe is not None and slot == self.slot:
            return
        self.slot = slot
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._hass is not None and self.coordinators:
            self._unsubscribe = async_track_time_interval(
                self._hass,
                self._async_tick,
                self.slot,
                name=f"{DOMAIN} cadence",
                cancel_on_shutdown=True,
            )

    def leave(self, meter: Meter) -> bool:
        """A meter leaves; True when it was the account's last (the cadence stops)."""
        if meter in self.coordinators:
            self.coordinators.remove(meter)
        self.waited.pop(id(meter), None)
        if self.coordinators:
            self.retime()
            return False
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        return True

    # The cadence -----------------------------------------------------------------------

    def pick(self, now: datetime) -> tuple[Meter | None, Job] | None:
        """The slot's work: overdue live first, then the most urgent due work, else live."""
        meters: list[Meter] = list(self.coordinators)
        # Longest waiting first. Each is read live within LIVE_MAX_WAIT slots of the last (with
        # more meters than leave room beside them, within one slot per meter): live goes now
        # when lending this slot would make some meter wait longer (earliest deadline first).
        electric = sorted(
            (m for m in meters if not m.gas), key=lambda m: -self.waited.get(id(m), 0)
        )
        longest = electric[0] if electric else None
        most = max(LIVE_MAX_WAIT, len(electric))
        if any(most - self.waited.get(id(m), 0) <= i for i, m in enumerate(electric)):
            return longest, Job.LIVE
        if self.points.due(now):
            return None, Job.ALLOWANCE
        ranked: list[tuple[int, int, Meter | None, Job]] = [
            (URGENCY.index(job), index, m, job)
            for index, m in enumerate(meters)
            if (job := m.due(now))
        ]
        if self.discovery_due():
            ranked.append((URGENCY.index(Job.DISCOVER), -1, None, Job.DISCOVER))
        if ranked:
            _, _, meter, job = min(ranked, key=lambda r: r[:2])
            return meter, job
        return (longest, Job.LIVE) if longest is not None else None

    async def _async_tick(self, now: datetime) -> None:
        """One slot: at most one request, then every meter's entities are brought up to date."""
        if self._busy:
            return  # the previous slot's request is still running
        self._busy = True
        self.budget.open_slot()
        try:
            await self._async_slot(dt_util.utcnow())
        finally:
            self.budget.close_slot()
            self._busy = False
        self.retime()  # an entry's options may have changed the interval

    def _held_back(self, now: datetime) -> str | None:
        """Why this slot sends nothing, if it must not."""
        if self.resume_at is not None and now < self.resume_at:
            return f"rate limited until {self.resume_at.isoformat()}"
        if not self.budget.allows(1 + SPARE_FOR_TOKEN):
            return "the account's hourly budget is spent"
        if self.budget.owed() > 0 and self.slots - self._paid_at >= PAY_EVERY:
            # Room for a request beside the cadence (setup, a token renewal): one empty slot
            # now and then, not a run of them when the hour's ceiling is reached.
            self.budget.pay()
            self._paid_at = self.slots
            return "room for a request beside the cadence"
        if self.points.low and self.slots % LOW_ALLOWANCE_STRETCH:
            return "Kraken reports the points allowance nearly spent"
        return None

    async def _async_slot(self, now: datetime) -> None:
        chosen: tuple[Meter | None, Job] | None = None
        self.slots += 1
        if reason := self._held_back(now):
            LOGGER.debug("No request this slot: %s", reason)
        else:
            chosen = self.pick(now)
        if chosen is not None:
            meter, job = chosen
            for other in self.coordinators:
                if not other.gas:
                    self.waited[id(other)] = self.waited.get(id(other), 0) + 1
            if job is Job.LIVE:
                self.waited[id(meter)] = 0
            self.sent[job] = self.sent.get(job, 0) + 1
            if job is Job.ALLOWANCE:
                await self.points.async_read(now)
            elif job is Job.DISCOVER:
                await self.async_discover()
        for each in list(self.coordinators):
            if each in self.coordinators:  # not unloaded while an earlier one ran
                await each.async_run(chosen[1] if chosen and chosen[0] is each else None)

    # The account's other meters ------------------------------------------------------

    def discovery_due(self) -> bool:
        """Whether to look at the account's meters not set up, in a slot no meter's work
        needs, while every meter's last request went through (see discovery.py)."""
        return (
            self.offers is not None
            and self.offers.due()
            and all(m.healthy for m in self.coordinators)
        )

    async def async_discover(self) -> None:
        """One request towards offering the account's other meters (rate limited: backs off,
        and the same step comes again)."""
        assert self.offers is not None
        try:
            await self.offers.async_step()
        except KrakenRateLimitError as err:
            self.back_off(err.retry_after)

    # Rate limits -----------------------------------------------------------------------

    def online_within(self) -> timedelta:
        """How old an electricity meter's newest reading may be while it is online: live
        waits up to two slots for other work, and Kraken publishes about 30 s late."""
        return max(ONLINE_MAX_AGE, self.slot * (LIVE_MAX_WAIT + 1) + timedelta(seconds=60))

    def back_off(self, retry_after: float | None) -> float:
        """Rate limited: the whole account waits (exponential, full jitter, ≤ 15 min)."""
        self.backoff_steps = min(self.backoff_steps + 1, MAX_BACKOFF_STEPS)
        ceiling = min(BACKOFF_MAX, self.slot * 2**self.backoff_steps)
        jitter = random.uniform(0, ceiling.total_seconds())  # noqa: S311 (not crypto)
        # Never sooner than the next slot; the server's word wins when it gives one.
        delay = max(self.slot.total_seconds(), jitter, retry_after or 0)
        self.resume_at = dt_util.utcnow() + timedelta(seconds=delay)
        return delay

    def succeeded(self) -> None:
        """A request went through: one step back towards the normal cadence."""
        self.backoff_steps = max(0, self.backoff_steps - 1)
        if self.backoff_steps == 0:
            self.resume_at = None


#: The accounts with a loaded meter, by (API URL, account number): one link per account,
#: whichever key each meter was set up with.
ACCOUNTS: HassKey[dict[tuple[str, str], AccountLink]] = HassKey(DOMAIN)


def account_key(data: Mapping[str, Any]) -> tuple[str, str]:
    """An entry's account: its API URL and account number."""
    return data.get(CONF_API_URL, DEFAULT_API_URL), data[CONF_ACCOUNT_NUMBER]


def account_budget(hass: HomeAssistant, api_url: str, account_number: str) -> RequestBudget | None:
    """The request budget of an account with a loaded meter (the flows count against it)."""
    link = hass.data.get(ACCOUNTS, {}).get((api_url, account_number))
    return link.budget if link else None


@callback
def async_link_for(hass: HomeAssistant, data: Mapping[str, Any]) -> AccountLink:
    """The account's link, created with its first meter; a newer key serves the whole account."""
    accounts = hass.data.setdefault(ACCOUNTS, {})
    key = account_key(data)
    if (link := accounts.get(key)) is not None:
        link.client.use_api_key(data[CONF_API_KEY])
        return link
    budget = RequestBudget(ACCOUNT_REQUESTS_PER_HOUR, dt_util.utcnow)
    client = KrakenClient(
        async_get_clientsession(hass),
        data[CONF_API_KEY],
        base_url=key[0],
        request_hook=budget.record,
    )
    accounts[key] = link = AccountLink(client=client, budget=budget, account=key)
    return link


@callback
def async_forget(hass: HomeAssistant, meter: Meter, link: AccountLink) -> None:
    """Take a meter off its account; the last one closes the link."""
    if not link.leave(meter):
        return
    accounts = hass.data.get(ACCOUNTS, {})
    for key in [key for key, held in accounts.items() if held is link]:
        del accounts[key]
