"""KrakenSimulator: the state behind the fake API, and its Python surface for tests."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
import contextlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
import math

from aiohttp import web

from .app import RecordedRequest, build_app
from .auth import TokenBook
from .faults import FAULT_KINDS, Fault, FaultBook
from .fixtures import ACCOUNTS, BY_NUMBER, Fixture
from .gas import GasMeterModel, HalfHour, gas_reported_before, half_hour_time
from .household import (
    SLOT_SECONDS,
    SLOTS_PER_DAY,
    SLOTS_PER_HALF_HOUR,
    MeterModel,
    Sample,
    slot_of,
    slot_time,
)
from .tariffs import HALF_HOUR, hash_int
from .telemetry import FOREVER, GLITCH_KINDS, Gaps

Clock = Callable[[], datetime]
RATE_WINDOW = timedelta(hours=1)
# Register values at the epoch; the single-meter account starts near API.md's real meter.
_BASE_WH = {"00-0A-1B-FF-FE-2C-3D-4E": 22_905_000}
_EXPORT_BASE_WH = 1_834_000


@dataclass(frozen=True, slots=True)
class Device:
    """A smart meter known to the simulator."""

    device_id: str
    account_number: str
    kind: str  # ESME | GSME
    home_mini: bool


def _utc_now() -> datetime:
    return datetime.now(UTC)


class KrakenSimulator:
    """A deterministic, in-process stand-in for the Kraken API (see package docstring)."""

    def __init__(
        self,
        clock: Clock | None = None,
        lag_seconds: float = 30,
        rate_limit_per_hour: int | None = 125,
        retention_days: float = 14,
        *,
        epoch: datetime | None = None,
        gas_lag_seconds: float = 300,
    ) -> None:
        self.clock: Clock = clock or _utc_now  # looks datetime up per call: freezegun works
        self.lag_seconds = lag_seconds
        self.gas_lag_seconds = gas_lag_seconds  # after the end of the half hour [INF]
        self.rate_limit_per_hour = rate_limit_per_hour
        self.retention = timedelta(days=retention_days)
        self.requests: list[RecordedRequest] = []
        self.issued_tokens = 0  # access tokens minted
        self.token_requests = 0  # obtainKrakenToken calls, successful or not
        self.tokens = TokenBook()
        self.faults = FaultBook()
        self._calls: dict[str, deque[datetime]] = {}
        #: Devices installed while the simulator ran (a meter exchange): their first slot.
        self.installed_at: dict[str, int] = {}
        self._glitches: dict[str, dict[int, str]] = {}
        self._once: dict[str, set[int]] = {}
        #: What the first TEN_SECONDS delta after a gap covers (telemetry.GAP_DELTAS).
        self.gap_delta = "whole"
        #: A Mini back from a stale spell uploads what it buffered: the gap closes [UNKNOWN].
        self.stale_backfills = False
        #: Meters whose Mini sends ``export: null`` although the meter exports (API.md §4.3:
        #: "not all meters report it").
        self.export_unreported: set[str] = set()
        #: Kraken's limits on one telemetry range [UNKNOWN: API.md §4.4 gives no number]:
        #: ``max_range`` refuses a longer range (KT-CT-1189, as a node limit would); the
        #: 10,000-node cap counts one node per row (``node_count`` "rows") or one per selected
        #: field and one for the row ("fields": 8 a row for the integration's selection).
        self.max_range: timedelta | None = None
        #: Documents over this complexity are refused whole with KT-CT-1188 (Kraken documents
        #: 200 per request; how it scores a document is modelled in app.complexity). None: off.
        self.max_complexity: int | None = 200
        self.node_count = "rows"
        #: The path of every REST request (tariff rates), in order.
        self.rest_requests: list[str] = []
        #: The points allowance (API.md §5.4): per hour, and what one request costs [INF: the
        #: real cost per request is not documented]. ``rate_limit_info`` False: this Kraken
        #: does not know the field (a document asking for it is refused with HTTP 400).
        self.points_per_hour = 50_000
        self.points_per_request = 40
        self.rate_limit_info = True
        #: Points used by other clients of the account (the app, other tools), for tests.
        self.points_used_elsewhere = 0
        epoch_day = slot_of(epoch or self.clock()) // SLOTS_PER_DAY  # registers read base here
        self.devices: dict[str, Device] = {}
        self._meters: dict[str, MeterModel] = {}
        self._epoch_day = epoch_day
        self._gas_meters: dict[str, GasMeterModel] = {}
        for fixture in ACCOUNTS:
            self._add_devices(fixture, epoch_day)
        #: Each account as it is now (a meter exchange replaces its fixture), and every API key.
        self.accounts: dict[str, Fixture] = dict(BY_NUMBER)
        self.api_keys: dict[str, str] = {f.api_key: f.account_number for f in ACCOUNTS}
        self.app: web.Application = build_app(self)

    def _add_devices(self, fixture: Fixture, epoch_day: int) -> None:
        for point in fixture.electricity:
            if point.direction == "EXPORT":  # same ESME as the import meter
                continue
            device_id = point.device_id
            assert point.tariff is not None, "an import point always has an agreement here"
            self.devices[device_id] = Device(
                device_id, fixture.account_number, "ESME", point.home_mini
            )
            seed = hash_int(device_id)
            self._meters[device_id] = MeterModel(
                seed,
                _BASE_WH.get(device_id, 10_000_000 + seed % 20_000_000),
                point.tariff,
                epoch_day,
                _EXPORT_BASE_WH if fixture.solar else None,
            )
        for gas in fixture.gas:
            device_id = gas.device_id
            account = fixture.account_number
            self.devices[device_id] = Device(device_id, account, "GSME", gas.home_mini)
            seed = hash_int(device_id)
            self._gas_meters[device_id] = GasMeterModel(
                seed, 5_000_000 + seed % 20_000_000, gas.tariff, epoch_day
            )

    # -- account changes -------------------------------------------------------------------

    def add_api_key(self, account_number: str) -> str:
        """Issue another API key for an account (the old ones keep working)."""
        key = f"sk_test_extra_{len(self.api_keys)}_{account_number[-4:].lower()}"
        self.api_keys[key] = account_number
        return key

    def swap_meter(
        self, device_id: str, new_device_id: str, new_serial: str, *, home_mini: bool = True
    ) -> None:
        """A meter exchange: a new meter (device id, serial) on the same MPAN(s).

        The old device is gone from Kraken (its telemetry answers KT-GB-4050); the new meter's
        registers start from their own base; an export point on the same meter moves with it.
        """
        fixture = self.accounts[self.devices[device_id].account_number]
        points = tuple(
            replace(
                point,
                device_id=new_device_id,
                serial=new_serial,
                meter_id=point.meter_id + 100,
                active_from=self.clock().date(),
                home_mini=home_mini,
            )
            if point.device_id == device_id
            else point
            for point in fixture.electricity
        )
        imports = [p for p in points if p.direction == "IMPORT"]
        swapped = replace(
            fixture,
            electricity=points,
            device_ids=tuple(p.device_id for p in imports),
            serials=tuple(p.serial for p in imports),
            home_mini=all(p.home_mini for p in imports),
        )
        del self.devices[device_id]
        self._add_devices(swapped, self._epoch_day)
        # A new meter reports from its installation on: Kraken holds nothing of it before.
        self.installed_at[new_device_id] = slot_of(self.clock())
        self.accounts[fixture.account_number] = swapped

    # -- faults and glitches -------------------------------------------------------------

    def set_fault(
        self,
        kind: str,
        *,
        count: int | None = None,
        until: datetime | None = None,
        operation: str | None = None,
        seconds: float | None = None,
    ) -> None:
        """Arm a fault (kinds in faults.FAULT_KINDS; see the package docstring)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if kind == "expire_tokens":
            self.tokens.expire_all()
        elif kind == "revoke_refresh_tokens":
            self.tokens.revoke_all_refresh()
        else:
            self.faults.arm(Fault(kind, count, until, operation, seconds), self.clock())

    def clear_faults(self) -> None:
        """Disarm all faults; a stale Home Mini resumes uploading from now on."""
        self.faults.clear(self.clock())

    def add_glitch(
        self, device_id: str, read_at: datetime, kind: str, *, once: bool = False
    ) -> None:
        """Make the sample at ``read_at`` report consumption 0, register-500 or null, or no cost.

        ``negative_delta``: a zero register and a delta of minus the register. ``once``: only
        the first range answer holding it is glitched; later ones carry the right row.
        For a gas meter ``read_at`` is the start of the half hour.
        """
        if kind not in GLITCH_KINDS:
            raise ValueError(f"unknown glitch kind {kind!r}; expected one of {GLITCH_KINDS}")
        if device_id not in self._gas_meters:
            self._meter(device_id)
        self._glitches.setdefault(device_id, {})[slot_of(read_at)] = kind
        if once:
            self._once.setdefault(device_id, set()).add(slot_of(read_at))

    def served(self, device_id: str, first: int, end: int) -> None:
        """A range answer covered slots [first, end): glitches served once are gone."""
        once = self._once.get(device_id, set())
        for slot in [s for s in once if first <= s < end]:
            once.discard(slot)
            self._glitches[device_id].pop(slot, None)

    def glitches(self, device_id: str) -> dict[int, str]:
        """Glitched slots of a device."""
        return self._glitches.get(device_id, {})

    def gaps(self) -> Gaps:
        """Slots the (stale) Home Minis never uploaded."""
        windows = []
        now = self.clock()
        for window in self.faults.stale:
            if self.stale_backfills and window.end is not None and window.end <= now:
                continue  # the Mini uploaded what it buffered
            first = math.ceil(window.start.timestamp() / SLOT_SECONDS)
            end = (
                FOREVER if window.end is None else math.ceil(window.end.timestamp() / SLOT_SECONDS)
            )
            windows.append((first, end))
        return Gaps.of(windows)

    # -- requests and rate limiting ------------------------------------------------------

    def issued_secrets(self) -> set[str]:
        """Every access and refresh token issued so far (for "no secrets in logs" checks)."""
        return set(self.tokens.access) | set(self.tokens.refresh) | set(self.api_keys)

    def charge(self, account_number: str, now: datetime) -> bool:
        """Count a request against the account's hourly window; True if over the ceiling.

        Rejected requests count too (the real API most likely counts them), so a client that
        keeps hammering stays throttled until its own traffic falls out of the window.
        """
        calls = self._calls.setdefault(account_number, deque())
        while calls and calls[0] <= now - RATE_WINDOW:
            calls.popleft()
        calls.append(now)
        return self.rate_limit_per_hour is not None and len(calls) > self.rate_limit_per_hour

    def allowance(self, account_number: str, now: datetime) -> dict[str, int | bool]:
        """``rateLimitInfo.pointsAllowanceRateLimit`` for an account at ``now``."""
        calls = self._calls.get(account_number, deque())
        recent = [at for at in calls if at > now - RATE_WINDOW]
        used = len(recent) * self.points_per_request + self.points_used_elsewhere
        renewed = (recent[0] if recent else now) + RATE_WINDOW
        return {
            "limit": self.points_per_hour,
            "usedPoints": min(used, self.points_per_hour),
            "remainingPoints": max(0, self.points_per_hour - used),
            "ttl": int(renewed.timestamp()),
            "isBlocked": used >= self.points_per_hour,
        }

    def record(self, request: RecordedRequest) -> None:
        """Append to the request log."""
        self.requests.append(request)

    def request_count(
        self,
        account_number: str | None = None,
        root_field: str | None = None,
        since: datetime | None = None,
        grouping: str | None = None,
    ) -> int:
        """Recorded GraphQL requests matching all given filters."""
        return sum(
            1
            for r in self.requests
            if (account_number is None or r.account_number == account_number)
            and (root_field is None or root_field in r.root_fields)
            and (since is None or r.at >= since)
            and (grouping is None or r.grouping == grouping)
        )

    # -- truth -----------------------------------------------------------------------------

    def _meter(self, device_id: str) -> MeterModel:
        try:
            return self._meters[device_id]
        except KeyError:
            raise KeyError(f"no electricity meter with device id {device_id!r}") from None

    def _gas_meter(self, device_id: str) -> GasMeterModel | None:
        return self._gas_meters.get(device_id)

    def telemetry_meter(self, device_id: str) -> MeterModel | None:
        """The electricity meter whose Home Mini reports telemetry, or None (no Mini, gas)."""
        device = self.devices[device_id]
        return self._meters[device_id] if device.kind == "ESME" and device.home_mini else None

    def gas_telemetry_meter(self, device_id: str) -> GasMeterModel | None:
        """The gas meter whose Home Mini reports its half hours, or None."""
        device = self.devices[device_id]
        return self._gas_meters[device_id] if device.kind == "GSME" and device.home_mini else None

    def readable_end(self, now: datetime) -> int:
        """First slot not yet readable at ``now`` (read_at + lag > now)."""
        return math.floor((now.timestamp() - self.lag_seconds) / SLOT_SECONDS) + 1

    def gas_readable_end(self, now: datetime) -> int:
        """First half hour not yet readable at ``now`` (its end + gas lag > now)."""
        return math.floor((now.timestamp() - self.gas_lag_seconds) / HALF_HOUR)

    def register_wh(self, device_id: str, at: datetime) -> int:
        """True import register at ``at``: after the last slot starting at or before it.

        For gas: after the last half hour that ended at or before ``at``.
        """
        gas = self._gas_meter(device_id)
        if gas is not None:
            return gas.register(math.floor(at.timestamp() / HALF_HOUR) - 1)
        return self._meter(device_id).register(slot_of(at))

    def export_wh(self, device_id: str, at: datetime) -> int | None:
        """True export register at ``at``; None for meters without export."""
        return self._meter(device_id).export_register(slot_of(at))

    def samples(self, device_id: str, start: datetime, end: datetime) -> list[Sample]:
        """All true 10-second samples with read_at in [start, end), uploaded or not."""
        meter = self._meter(device_id)
        first = math.ceil(start.timestamp() / SLOT_SECONDS)
        stop = math.ceil(end.timestamp() / SLOT_SECONDS)
        return [meter.sample(slot) for slot in range(first, stop)]

    def latest_readable(self, device_id: str, now: datetime | None = None) -> Sample | None:
        """The sample a latest-only query would return at ``now`` (true values), if any.

        None without a Home Mini and for gas (see ``latest_gas_readable``).
        """
        if device_id not in self.devices:
            raise KeyError(f"unknown device id {device_id!r}")
        meter = self.telemetry_meter(device_id)
        if meter is None:
            return None
        slot = self.gaps().reported_before(self.readable_end(now or self.clock()))
        return meter.sample(slot)

    def latest_gas_readable(self, device_id: str, now: datetime | None = None) -> HalfHour | None:
        """The gas half hour a latest-only query would return at ``now``, if the Mini has gas."""
        if device_id not in self.devices:
            raise KeyError(f"unknown device id {device_id!r}")
        gas = self.gas_telemetry_meter(device_id)
        if gas is None:
            return None
        readable_end = self.gas_readable_end(now or self.clock())
        return gas.half_hour(gas_reported_before(self.gaps(), readable_end))

    def half_hours(self, device_id: str, start: datetime, end: datetime) -> list[HalfHour]:
        """The truth of every half hour starting in [start, end), uploaded or not (both fuels)."""
        first = math.ceil(start.timestamp() / HALF_HOUR)
        stop = math.ceil(end.timestamp() / HALF_HOUR)
        gas = self._gas_meter(device_id)
        if gas is not None:
            return [gas.half_hour(h) for h in range(first, stop)]
        meter = self._meter(device_id)
        found = []
        for half_hour in range(first, stop):
            last = (half_hour + 1) * SLOTS_PER_HALF_HOUR - 1
            before = half_hour * SLOTS_PER_HALF_HOUR - 1
            cost = Decimal(meter.cost(last) - meter.cost(before)).scaleb(-5)
            register = meter.register(last)
            found.append(
                HalfHour(
                    read_at=half_hour_time(half_hour),
                    register_wh=register,
                    energy_wh=register - meter.register(before),
                    cost_pence=cost,
                    cost_with_tax_pence=cost * meter.tariff.vat,
                )
            )
        return found

    def true_cost_pence(self, device_id: str, start: datetime, end: datetime) -> Decimal:
        """Sum of costDeltaWithTax over the true samples (gas: half hours) in [start, end)."""
        gas = self._gas_meter(device_id)
        if gas is not None:
            return sum(
                (h.cost_with_tax_pence for h in self.half_hours(device_id, start, end)), Decimal(0)
            )
        meter = self._meter(device_id)
        first = math.ceil(start.timestamp() / SLOT_SECONDS)
        stop = math.ceil(end.timestamp() / SLOT_SECONDS)
        if stop <= first:
            return Decimal(0)
        return Decimal(meter.cost(stop - 1) - meter.cost(first - 1)).scaleb(-5) * meter.tariff.vat

    def true_energy_wh(self, device_id: str, start: datetime, end: datetime) -> int:
        """Wh used by the true samples (gas: half hours) with read_at in [start, end)."""
        gas = self._gas_meter(device_id)
        if gas is not None:
            return sum(h.energy_wh for h in self.half_hours(device_id, start, end))
        meter = self._meter(device_id)
        first = math.ceil(start.timestamp() / SLOT_SECONDS)
        stop = math.ceil(end.timestamp() / SLOT_SECONDS)
        return meter.register(stop - 1) - meter.register(first - 1) if stop > first else 0

    def unit_rate_pence(
        self, account_number: str, at: datetime, fuel: str = "electricity"
    ) -> Decimal:
        """The account's import unit rate, p/kWh inc VAT, at ``at``; ``fuel="gas"``: gas,
        ``fuel="export"``: what the export tariff pays (no VAT)."""
        fixture = self.accounts[account_number]
        if fuel == "gas":
            return fixture.gas[0].tariff.unit_rate(at)[1]
        direction = "EXPORT" if fuel == "export" else "IMPORT"
        point = next(p for p in fixture.electricity if p.direction == direction)
        assert point.tariff is not None, f"{account_number} has no {fuel} agreement"
        return point.tariff.unit_rate(at)[1]

    def true_export(
        self, account_number: str, device_id: str, start: datetime, end: datetime
    ) -> tuple[int, Decimal]:
        """(Wh exported, pence earned) by the true samples with read_at in [start, end):
        each half hour's register move at that half hour's export rate."""
        meter = self._meter(device_id)
        first = math.ceil(start.timestamp() / SLOT_SECONDS)
        stop = math.ceil(end.timestamp() / SLOT_SECONDS)
        wh, pence = 0, Decimal(0)
        cursor = first
        while cursor < stop:
            half_end = min(stop, (cursor // SLOTS_PER_HALF_HOUR + 1) * SLOTS_PER_HALF_HOUR)
            moved = (meter.export_register(half_end - 1) or 0) - (
                meter.export_register(cursor - 1) or 0
            )
            rate = self.unit_rate_pence(account_number, slot_time(cursor), fuel="export")
            wh += moved
            pence += Decimal(moved) / 1000 * rate
            cursor = half_end
        return wh, pence


@contextlib.asynccontextmanager
async def run_simulator(
    sim: KrakenSimulator, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve ``sim`` until the block exits; yields the base URL (no trailing slash)."""
    runner = web.AppRunner(
        sim.app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()
