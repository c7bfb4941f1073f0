"""The benchmark behind `scripts/bench`: 24 simulated hours of one meter, measured.

Not part of the test run (no `test_` file name); `scripts/bench` runs it explicitly and it
prints its figures. Nothing here asserts a wall-clock time.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
import statistics
import time
import tracemalloc

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from custom_components.octopus_home_mini.coordinator import HomeMiniCoordinator
from tests.common import advance, max_requests_in_any_hour, setup_entry
from tests.simulator import SINGLE, KrakenSimulator, run_simulator

DEVICE = SINGLE.device_ids[0]
MIDNIGHT = datetime(2026, 3, 14, tzinfo=UTC)
HOURS = 24


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def test_bench_one_day(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, socket_enabled: None
) -> None:
    """Requests per hour, capture ratio, freshness, CPU per update and memory over 24 h."""
    asyncio.get_running_loop().set_debug(False)  # thousands of polls
    freezer.move_to(MIDNIGHT + timedelta(seconds=30))
    sim = KrakenSimulator()
    simulator_cpu = [0.0]

    @web.middleware
    async def _time_simulator(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.process_time()
        try:
            return await handler(request)
        finally:
            simulator_cpu[0] += time.process_time() - started

    sim.app.middlewares.append(_time_simulator)
    async with run_simulator(sim) as url:
        await _run_day(hass, freezer, sim, url, simulator_cpu)


async def _run_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sim: KrakenSimulator,
    url: str,
    simulator_cpu: list[float],
) -> None:
    await hass.config.async_set_time_zone("Europe/London")
    entry = await setup_entry(hass, url)
    coordinator: HomeMiniCoordinator = entry.runtime_data.coordinator
    first = coordinator.data.samples[0].read_at
    cpu: list[float] = []
    freshness: list[float] = []
    age: list[float] = []
    rss_1h = 0
    backfilled = None
    ours = tracemalloc.Filter(True, "*custom_components*")
    polls = HOURS * 120
    for poll in range(1, polls + 1):
        before_cpu, before_sim = time.process_time(), simulator_cpu[0]
        await advance(hass, freezer, 30)
        if poll <= 120:  # CPU is measured in the first hour, before tracing slows things
            cpu.append(time.process_time() - before_cpu - (simulator_cpu[0] - before_sim))
        truth = sim.latest_readable(DEVICE)
        shown = coordinator.data.newest
        if truth is not None and shown is not None:
            freshness.append((truth.read_at - shown.read_at).total_seconds())
            age.append((dt_util.utcnow() - shown.read_at).total_seconds())
        if poll == 120:
            rss_1h = _rss_kib()
            tracemalloc.start()
        if backfilled is None and not coordinator.meter.ledger.pending:
            backfilled = dt_util.utcnow()
    retained = tracemalloc.take_snapshot().filter_traces([ours])
    grown = sum(stat.size for stat in retained.statistics("filename"))
    tracemalloc.stop()
    rss_24h = _rss_kib()

    newest = coordinator.data.newest
    assert newest is not None
    expected = len(sim.samples(DEVICE, first, newest.read_at + timedelta(seconds=1)))
    account = [r.at for r in sim.requests if r.account_number == SINGLE.account_number]
    hours = (dt_util.utcnow() - MIDNIGHT).total_seconds() / 3600
    assert backfilled is not None
    history = [r for r in sim.requests if r.grouping == "HALF_HOURLY"]
    steady = [at for at in account if at >= backfilled]
    steady_hours = (dt_util.utcnow() - backfilled).total_seconds() / 3600
    points = sim.allowance(SINGLE.account_number, dt_util.utcnow())
    gap_requests = await _gap_of_a_day(hass, freezer, sim, entry.entry_id)
    print()
    for line in (
        f"simulated hours              {hours:.1f} ({polls} polls of 30 s)",
        f"requests/hour  mean {len(account) / hours:.1f}   max over sliding hours "
        f"{max_requests_in_any_hour(sim, SINGLE.account_number)}",
        f"steady state after the backfill  mean {len(steady) / steady_hours:.1f} requests/hour",
        f"backfill of the history Kraken keeps (14 days): {len(history)} HALF_HOURLY requests,"
        f" done {(backfilled - MIDNIGHT).total_seconds() / 3600:.1f} h after set-up",
        f"a 24-hour gap (Home Assistant down) filled with {gap_requests} extra requests",
        f"Kraken points (simulated, {sim.points_per_request}/request) used in the last hour"
        f" {points['usedPoints']} of {points['limit']}",
        f"telemetry requests           {sim.request_count(root_field='smartMeterTelemetry')}",
        f"token requests               {sim.request_count(root_field='obtainKrakenToken')}",
        f"sample capture ratio         {coordinator.samples_received / expected:.4f}"
        f" ({coordinator.samples_received}/{expected})",
        f"freshness vs newest readable median {statistics.median(freshness):.0f} s"
        f"  p95 {_percentile(freshness, 0.95):.0f} s",
        f"CPU per update (simulator excluded) median {statistics.median(cpu) * 1000:.2f} ms"
        f"  p95 {_percentile(cpu, 0.95) * 1000:.2f} ms",
        f"shown sample's age median {statistics.median(age):.0f} s"
        f"  p95 {_percentile(age, 0.95):.0f} s (Kraken publishes ~30 s after a reading)",
        f"memory: integration allocations still alive from hours 1-24 {grown / 1024:.1f} KiB;"
        f" samples held {len(coordinator.data.samples)}, budget entries"
        f" {coordinator.link.budget.used()}",
        f"process RSS after 1 h {rss_1h / 1024:.0f} MiB, after 24 h {rss_24h / 1024:.0f} MiB"
        " (includes the simulator and the test harness)",
    ):
        print("bench:", line)


async def _gap_of_a_day(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sim: KrakenSimulator, entry_id: str
) -> int:
    """Home Assistant down for 24 h: the requests beyond live polls and tokens that fill it."""
    assert await hass.config_entries.async_unload(entry_id)
    freezer.tick(timedelta(hours=24))
    before = len(sim.requests)
    assert await hass.config_entries.async_setup(entry_id)
    await hass.async_block_till_done()
    for _ in range(20):
        await advance(hass, freezer, 30)
    after = sim.requests[before:]
    return sum(1 for r in after if r.grouping == "HALF_HOURLY" or r.operation_name == "Tariff")


async def test_bench_dual_fuel(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, socket_enabled: None
) -> None:
    """An electricity and a gas meter on one account, 24 h: the budget and electricity's data."""
    from tests.simulator import DUAL  # noqa: PLC0415
    from tests.test_gas import gas_entry  # noqa: PLC0415

    asyncio.get_running_loop().set_debug(False)
    freezer.move_to(MIDNIGHT + timedelta(seconds=30))
    sim = KrakenSimulator()
    async with run_simulator(sim) as url:
        await hass.config.async_set_time_zone("Europe/London")
        electricity = await setup_entry(hass, url, DUAL)
        gas = gas_entry(url, DUAL)
        gas.add_to_hass(hass)
        assert await hass.config_entries.async_setup(gas.entry_id)
        coordinator: HomeMiniCoordinator = electricity.runtime_data.coordinator
        first = coordinator.data.samples[0].read_at
        age: list[float] = []
        for _ in range(HOURS * 120):
            await advance(hass, freezer, 30)
            if (shown := coordinator.data.newest) is not None:
                age.append((dt_util.utcnow() - shown.read_at).total_seconds())
        newest = coordinator.data.newest
        assert newest is not None
        device = DUAL.device_ids[0]
        expected = len(sim.samples(device, first, newest.read_at + timedelta(seconds=1)))
        gas_requests = sum(
            1
            for r in sim.requests
            if r.grouping == "HALF_HOURLY" and r.at > MIDNIGHT + timedelta(hours=8)
        )
        print()
        for line in (
            "dual fuel (one electricity + one gas meter on one account), 24 h:",
            "  max requests in any sliding hour"
            f" {max_requests_in_any_hour(sim, DUAL.account_number)}",
            f"  HALF_HOURLY requests per hour, hours 8-24 (gas polls, backfill left)"
            f" {gas_requests / 16:.1f}",
            f"  electricity capture ratio {coordinator.samples_received / expected:.4f}"
            f" ({coordinator.samples_received}/{expected})",
            f"  electricity shown sample's age median {statistics.median(age):.0f} s"
            f"  p95 {_percentile(age, 0.95):.0f} s",
        ):
            print("bench:", line)
