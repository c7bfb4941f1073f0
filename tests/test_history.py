"""History around the ledger: upgrades, failing history requests, pruning, earlier installs."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
import itertools
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.octopus_home_mini.const import DOMAIN
from custom_components.octopus_home_mini.extras import FILL_ATTEMPTS
from custom_components.octopus_home_mini.ledger import BUCKET, FINAL_AFTER, Ledger
from custom_components.octopus_home_mini.statistics import (
    Series,
    StatisticsState,
    async_write,
    first_whole_hour,
    statistic_id,
    statistic_prefix,
)
from custom_components.octopus_home_mini.tariff import product_code_of
from tests.common import (
    PREFIX,
    Sim,
    advance,
    entry_for,
    recorder_first,  # noqa: F401 - the recorder-first fixture
    settle,
    setup_entry,
)
from tests.simulator import GASONLY, SINGLE
from tests.test_gas import gas_entry

DEVICE = SINGLE.device_ids[0]
START = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("london")


async def test_upgrade_from_the_format_before_the_ledger(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """A store written before the ledger: the session carries on, the month is back-filled."""
    sim, url = frozen_sim
    entry = entry_for(url)
    through = START - timedelta(minutes=20)
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = {
        "version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}",
        "data": {
            "session": {
                "started": (START - timedelta(hours=2)).isoformat(),
                "through": through.isoformat(),
                "value": "50",
            },
            "register_wh": str(sim.register_wh(DEVICE, through)),
            "register_at": through.isoformat(),
            "counted_through": through.isoformat(),
            "requests": [],
        },
    }
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.coordinator
    assert coordinator.meter.ledger.pending  # the month before the upgrade is asked for
    for _ in range(30):
        await advance(hass, freezer, 30)
    newest = coordinator.data.newest
    assert newest is not None
    truth = Decimal(50) + sim.true_cost_pence(
        DEVICE, through + timedelta(microseconds=1), newest.read_at + timedelta(seconds=1)
    )
    # The half hour of the upgrade is split by time (its readings were never seen one by one).
    shown = Decimal(hass.states.get(PREFIX + "session_cost").state) * 100
    assert abs(shown - truth) < Decimal(1)


async def test_failing_history_backs_off_and_gives_up(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """A history range that keeps failing is retried with backoff, then dropped; live goes on."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    coordinator = entry.runtime_data.coordinator
    now = dt_util.utcnow()
    fill = coordinator.meter.ledger.next_fill(now)
    assert fill is not None
    sim.set_fault("internal", count=FILL_ATTEMPTS, operation="TelemetryRange")
    for _ in range(FILL_ATTEMPTS):
        with pytest.raises(Exception, match="KT-CT-7899"):
            await coordinator.extras.fill(*fill, now)
    assert not any(fill[0] <= b < fill[1] for b in coordinator.meter.ledger.pending)
    # A failing tariff request defers the extras and never fails the poll.
    sim.set_fault("internal", count=1, operation="Tariff")
    coordinator.extras.tariff_fetched = None
    for _ in range(130):  # until the hour's share for extras has room again
        await advance(hass, freezer, 30)
        if any(r.operation_name == "Tariff" and r.error_code for r in sim.requests):
            break
    assert coordinator.last_update_success
    assert coordinator.extras.retry_at > dt_util.utcnow()
    requests = len(sim.requests)
    await advance(hass, freezer, 30)
    assert [r.operation_name for r in sim.requests[requests:]] == ["TelemetryRange"]


async def test_month_prune_keeps_the_running_sums(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Half hours older than last month leave the ledger but still count in the sums (those
    from the first whole hour on: a lone half hour before it is in no row)."""
    _, url = frozen_sim
    entry = await setup_entry(hass, url)
    await settle(hass, freezer)
    coordinator = entry.runtime_data.coordinator
    session = coordinator.meter.session_cost()
    ledger = coordinator.meter.ledger
    origin = first_whole_hour(ledger)
    assert origin is not None
    held = ledger.totals(origin, START + timedelta(days=1), lambda _: None)
    assert held.import_wh > 0
    await coordinator._write_statistics(START + timedelta(days=70))  # prunes first
    assert not coordinator.meter.ledger.buckets
    assert coordinator._statistics.base["consumption"] == held.import_wh / 1000
    assert coordinator.meter.session_cost() == session


def _earlier_install(ident: str) -> StatisticMetaData:
    """The metadata an earlier install of the meter wrote its consumption with."""
    return {
        "mean_type": StatisticMeanType.NONE,
        "has_sum": True,
        "name": None,
        "source": DOMAIN,
        "statistic_id": ident,
        "unit_class": "energy",
        "unit_of_measurement": "kWh",
    }


async def test_statistics_continue_an_earlier_install(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Sums carry on from the last hour an earlier install wrote before ours."""
    _, url = frozen_sim
    prefix = statistic_prefix("electricity", SINGLE.serials[0])
    ident = statistic_id(prefix, "consumption")
    earlier = (START - timedelta(days=45)).replace(minute=0)
    async_add_external_statistics(
        hass,
        _earlier_install(ident),
        [StatisticData(start=earlier, sum=1000.0)],
    )
    await async_wait_recording_done(hass)
    await setup_entry(hass, url)
    await settle(hass, freezer)
    await async_wait_recording_done(hass)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        earlier + timedelta(hours=1),
        START,
        {ident},
        "hour",
        None,
        {"sum"},
    )
    assert rows[ident]
    assert all(row["sum"] is not None and row["sum"] > 1000 for row in rows[ident])


async def test_a_quiet_gas_meter_is_asked_less_and_less(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """No new gas half hour: the gas polls back off to hourly, and the gap is filled later."""
    asyncio.get_running_loop().set_debug(False)
    sim, url = frozen_sim
    entry = gas_entry(url, GASONLY)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    for _ in range(20):
        await advance(hass, freezer, 60)
    sim.set_fault("stale", until=dt_util.utcnow() + timedelta(hours=4))
    before = len(sim.requests)
    for _ in range(4 * 60):
        await advance(hass, freezer, 60)
    quiet = [r for r in sim.requests[before:] if r.grouping == "HALF_HOURLY"]
    assert len(quiet) <= 4 * 3  # at most three an hour, fewer as it backs off
    sim.clear_faults()
    for _ in range(2 * 60):
        await advance(hass, freezer, 60)
    assert (
        hass.states.get(f"binary_sensor.home_mini_{GASONLY.gas[0].serial.lower()}_online").state
        == "on"
    )


def test_next_fill_waits_for_a_half_hour_to_be_published() -> None:
    """The newest pending half hour is asked for only once Kraken can have all of it."""
    ledger = Ledger()
    ledger.mark_pending(START - 4 * BUCKET, START)
    just_after = START + FINAL_AFTER - timedelta(minutes=1)
    fill = ledger.next_fill(just_after)
    assert fill == (START - 4 * BUCKET, START - BUCKET)
    assert Ledger().next_fill(START) is None
    early = Ledger()
    early.mark_pending(START - BUCKET, START)
    assert early.next_fill(START) is None


def test_product_code_from_the_tariff_code() -> None:
    """Region and rate prefix stripped, as Octopus's REST paths want."""
    assert product_code_of("E-1R-AGILE-24-10-01-H") == "AGILE-24-10-01"
    assert product_code_of("ODD") == "ODD"


async def test_a_meter_added_again_continues_its_earlier_rows(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Case 6 of the record issue: an earlier install wrote hours up to yesterday; the meter is
    added again. Its sums continue from the row just before our first hour (not from before
    the start of last month), so no hour in the Energy panel goes negative."""
    _, url = frozen_sim
    prefix = statistic_prefix("electricity", SINGLE.serials[0])
    ident = statistic_id(prefix, "consumption")
    first = (START - timedelta(days=40)).replace(minute=0)
    hours = int((START - timedelta(days=1) - first).total_seconds() // 3600)
    async_add_external_statistics(
        hass,
        _earlier_install(ident),
        [
            StatisticData(start=first + timedelta(hours=h), state=0.3, sum=5000 + 0.3 * h)
            for h in range(hours)
        ],
    )
    await async_wait_recording_done(hass)
    await setup_entry(hass, url)
    await settle(hass, freezer)
    await async_wait_recording_done(hass)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, first, START, {ident}, "hour", None, {"sum"}
    )
    sums = [row["sum"] for row in rows[ident]]
    changes = [later - earlier for earlier, later in itertools.pairwise(sums)]
    assert min(changes) >= 0
    assert sums[-1] > 5000


async def test_an_earlier_install_months_back_is_continued(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """The earlier install's last row is 100 days back: still found (month by month)."""
    _, url = frozen_sim
    prefix = statistic_prefix("electricity", SINGLE.serials[0])
    ident = statistic_id(prefix, "consumption")
    last = (START - timedelta(days=100)).replace(minute=0)
    async_add_external_statistics(
        hass,
        _earlier_install(ident),
        [
            StatisticData(start=last - timedelta(hours=1), sum=700.0),
            StatisticData(start=last, sum=800.0),
        ],
    )
    await async_wait_recording_done(hass)
    await setup_entry(hass, url)
    await settle(hass, freezer)
    await async_wait_recording_done(hass)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        last + timedelta(hours=1),
        START,
        {ident},
        "hour",
        None,
        {"sum"},
    )
    assert rows[ident]
    assert all(row["sum"] > 800 for row in rows[ident])


async def test_nothing_held_writes_nothing(hass: HomeAssistant) -> None:
    """An empty ledger has no first whole hour and writes no statistics."""
    assert first_whole_hour(Ledger()) is None
    written = await async_write(
        hass, StatisticsState(), Ledger(), Series("x", "x", lambda _: None), START, START
    )
    assert written is None


async def test_the_hours_before_setup_as_written(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    snapshot: SnapshotAssertion,
) -> None:
    """The rows a new install writes for the two hours before it, every kind, as the Energy
    panel reads them (start, the hour's value, the running sum): a change shows in review."""
    _, url = frozen_sim
    await setup_entry(hass, url)
    await settle(hass, freezer)
    while dt_util.utcnow() < START + timedelta(minutes=15):  # the hour before setup is final
        await advance(hass, freezer, 30)
    await async_wait_recording_done(hass)
    prefix = statistic_prefix("electricity", SINGLE.serials[0])
    idents = {statistic_id(prefix, kind) for kind in ("consumption", "cost", "export")}
    found = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        START - timedelta(hours=2),
        START,
        idents,
        "hour",
        None,
        {"state", "sum"},
    )
    rows = {
        ident: [
            (
                datetime.fromtimestamp(row["start"], UTC).isoformat(),
                round(row["state"], 6),
                round(row["sum"], 6),
            )
            for row in found[ident]
        ]
        for ident in sorted(found)
    }
    assert sorted(rows) == sorted(idents)
    assert rows == snapshot
