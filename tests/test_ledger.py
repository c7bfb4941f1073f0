"""The ledger: today's totals, the session and the hourly statistics right across every gap."""

import asyncio
import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.octopus_home_mini.api import TelemetryReading
from custom_components.octopus_home_mini.const import DOMAIN
from custom_components.octopus_home_mini.ledger import BUCKET, Ledger, bucket_start
from custom_components.octopus_home_mini.meter import MeterState
from custom_components.octopus_home_mini.settle import apply_rows
from custom_components.octopus_home_mini.statistics import (
    StatisticsState,
    hour_start,
    statistic_id,
    statistic_prefix,
)
from custom_components.octopus_home_mini.store import (
    SAVE_EVERY,
    counted_through,
    dump,
    ledger_from_json,
    ledger_to_json,
    load_meter,
)
from tests.common import (
    Sim,
    advance,
    newest_read_at,
    ours_loud,
    recorder_first,  # noqa: F401 - the recorder-first fixture
    setup_entry,
    statistics_only,  # noqa: F401 - no entity states recorded
    value,
)
from tests.simulator import SINGLE, KrakenSimulator

DEVICE = SINGLE.device_ids[0]
HOUR = timedelta(hours=1)
LONDON_MIDNIGHT = datetime(2026, 3, 14, tzinfo=UTC)  # GMT in mid-March
ONE_WH = Decimal(1)
ONE_HUNDREDTH_PENNY = Decimal("0.01")


pytestmark = pytest.mark.usefixtures("london")


@pytest.fixture
def sim_start() -> datetime:
    """Set up at 19:30 on a GMT day."""
    return LONDON_MIDNIGHT + timedelta(hours=19, minutes=30)


def true_energy_wh(sim: KrakenSimulator, start: datetime, end: datetime) -> Decimal:
    """Energy of the true 10-s samples read in [start, end)."""
    step = timedelta(microseconds=1)
    return Decimal(sim.register_wh(DEVICE, end - step) - sim.register_wh(DEVICE, start - step))


async def hourly_changes(
    hass: HomeAssistant, kind: str, start: datetime, end: datetime
) -> dict[datetime, float]:
    """The recorder's hourly `change` of one of our statistics."""
    await async_wait_recording_done(hass)
    ident = statistic_id(statistic_prefix("electricity", SINGLE.serials[0]), kind)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, start, end, {ident}, "hour", None, {"change"}
    )
    return {datetime.fromtimestamp(row["start"], UTC): row["change"] for row in rows.get(ident, [])}


async def run_for(hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: float) -> None:
    """Poll every 30 s for a while."""
    for _ in range(int(minutes * 2)):
        await advance(hass, freezer, 30)


async def assert_hours_match(
    hass: HomeAssistant, sim: KrakenSimulator, start: datetime, end: datetime
) -> None:
    """Each complete hour in [start, end) holds its true energy and cost."""
    energy = await hourly_changes(hass, "consumption", start, end)
    cost = await hourly_changes(hass, "cost", start, end)
    hour = start
    while hour < end:
        truth_wh = true_energy_wh(sim, hour, hour + timedelta(hours=1))
        truth_p = sim.true_cost_pence(DEVICE, hour, hour + timedelta(hours=1))
        assert hour in energy, hour
        assert abs(Decimal(str(energy[hour])) * 1000 - truth_wh) <= ONE_WH, hour
        assert abs(Decimal(str(cost[hour])) * 100 - truth_p) <= ONE_HUNDREDTH_PENNY, hour
        hour += timedelta(hours=1)


async def _today_session_and_hours_true(
    hass: HomeAssistant, sim: KrakenSimulator, session_from: datetime, first_hour: datetime
) -> None:
    """Today, the session (begun at ``session_from``) and every complete hour from
    ``first_hour`` to the last are the truth."""
    now = dt_util.utcnow()
    midnight = dt_util.start_of_local_day(now)
    held = newest_read_at(hass) + timedelta(seconds=1)
    assert abs(value(hass, "consumption_today") * 1000 - true_energy_wh(sim, midnight, held)) <= 1
    cost_today = sim.true_cost_pence(DEVICE, midnight, held)
    assert abs(value(hass, "cost_today") * 100 - cost_today) <= ONE_HUNDREDTH_PENNY
    session = sim.true_cost_pence(DEVICE, session_from + timedelta(microseconds=1), held)
    assert abs(value(hass, "session_cost") * 100 - session) <= ONE_HUNDREDTH_PENNY
    await assert_hours_match(hass, sim, first_hour, now.replace(minute=0, second=0) - HOUR)


@pytest.mark.parametrize(
    ("down_at", "down_for"),
    [
        (timedelta(hours=20), timedelta(hours=11)),  # an overnight power cut, 20:00 -> 07:00
        (timedelta(hours=20), timedelta(hours=25)),
        (timedelta(hours=23), timedelta(hours=2)),  # across midnight
    ],
    ids=["overnight", "25h", "across-midnight"],
)
async def test_downtime_is_filled_to_the_hour(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    down_at: timedelta,
    down_for: timedelta,
) -> None:
    """After Home Assistant was down: today, the session and every hour equal the truth."""
    asyncio.get_running_loop().set_debug(False)
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    session_from = dt_util.utcnow()
    await run_for(hass, freezer, (LONDON_MIDNIGHT + down_at - dt_util.utcnow()).seconds / 60)
    assert await hass.config_entries.async_unload(entry.entry_id)
    freezer.tick(down_for)
    before = len(sim.requests)
    caplog.clear()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await run_for(hass, freezer, 10)
    fills = [r for r in sim.requests[before:] if r.grouping == "HALF_HOURLY"]
    assert len(fills) <= 3  # one a day of gap, at most
    await _today_session_and_hours_true(hass, sim, session_from, LONDON_MIDNIGHT + 20 * HOUR)
    assert not ir.async_get(hass).issues
    assert ours_loud(caplog) == []


async def test_a_power_cut_loses_nothing(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Home Assistant stops without its shutdown (a power cut): the store holds what was saved
    while it ran, at most SAVE_EVERY old; two hours later today, the session and every hour
    are the truth again (what the store had not kept is filled like downtime)."""
    asyncio.get_running_loop().set_debug(False)
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    session_from = dt_util.utcnow()
    await run_for(hass, freezer, 47)
    key = f"{DOMAIN}.{entry.entry_id}"
    # Saved while running (with a save asked for at every slot, it was written only at shutdown).
    assert key in hass_storage
    on_disk = copy.deepcopy(hass_storage[key])
    counted = datetime.fromisoformat(on_disk["data"]["counted_through"])
    assert counted >= dt_util.utcnow() - SAVE_EVERY - timedelta(minutes=2), counted
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass_storage[key] = on_disk  # the shutdown's own write never happened
    freezer.tick(timedelta(hours=2))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await run_for(hass, freezer, 10)
    first_hour = session_from.replace(minute=0, second=0, microsecond=0) + HOUR
    await _today_session_and_hours_true(hass, sim, session_from, first_hour)
    assert ours_loud(caplog) == []


@pytest.mark.parametrize(
    ("retention_days", "start"),
    [
        (5, LONDON_MIDNIGHT + timedelta(hours=12)),
        (14, datetime(2026, 4, 2, 11, tzinfo=UTC)),  # British Summer Time began on 29 March
    ],
    ids=["5-days", "across-dst-14-days"],
)
async def test_first_setup_backfills_what_kraken_keeps(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    socket_enabled: None,
    retention_days: int,
    start: datetime,
) -> None:
    """A new install fetches the history Kraken retains in ≤ 15 requests for 14 days, in minutes
    (the account's cadence lends two slots in three to it), within 121 requests an hour."""
    from tests.simulator import run_simulator  # noqa: PLC0415

    asyncio.get_running_loop().set_debug(False)
    freezer.move_to(start)
    sim = KrakenSimulator(retention_days=retention_days)
    async with run_simulator(sim) as url:
        entry = await setup_entry(hass, url)
        ledger = entry.runtime_data.coordinator.meter.ledger
        for _ in range(8 * 120):
            await advance(hass, freezer, 30)
            if not ledger.pending:
                break
        assert not ledger.pending
        history = [r for r in sim.requests if r.grouping == "HALF_HOURLY"]
        assert len(history) <= retention_days + 1
        oldest = min(at for at, bucket in ledger.buckets.items() if bucket.import_wh)
        assert oldest <= start - timedelta(days=retention_days - 1)
        most = max(
            sum(1 for r in sim.requests if at <= r.at < at + timedelta(hours=1))
            for at in (r.at for r in sim.requests)
        )
        assert most <= 121
        # The whole back-fill within 30 minutes; the hour before setup exact within 15.
        assert dt_util.utcnow() - start <= timedelta(minutes=30)
        while dt_util.utcnow() < start + timedelta(minutes=15):
            await advance(hass, freezer, 30)
        first_full_hour = (oldest + timedelta(hours=1)).replace(minute=0)
        await assert_hours_match(hass, sim, first_full_hour, hour_start(start))
        # No hour is written before all its half hours are known (case 11 of the record issue).
        written = await hourly_changes(hass, "consumption", oldest - timedelta(days=1), start)
        held = {at for at, bucket in ledger.buckets.items() if bucket.final or bucket.import_wh}
        assert all({hour, hour + BUCKET} <= held for hour in written)
        midnight = dt_util.start_of_local_day(dt_util.utcnow())
        held = newest_read_at(hass) + timedelta(seconds=1)
        today = true_energy_wh(sim, midnight, held)
        assert abs(value(hass, "consumption_today") * 1000 - today) <= ONE_WH


def reading(at: datetime, register: int, delta: int, cost: str | None = "0.1") -> TelemetryReading:
    """A 10-second reading."""
    return TelemetryReading(
        read_at=at,
        consumption_wh=Decimal(register),
        demand_w=Decimal(300),
        consumption_delta_wh=Decimal(delta),
        cost_delta_pence=None,
        cost_delta_with_tax_pence=None if cost is None else Decimal(cost),
        export_wh=None,
    )


T0 = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def readings(first: int, count: int, register: int = 1_000_000) -> list[TelemetryReading]:
    """Consecutive readings of 1 Wh each."""
    return [
        reading(T0 + timedelta(seconds=10 * (first + i)), register + first + i, 1)
        for i in range(count)
    ]


def test_late_duplicated_and_out_of_order_readings_count_once() -> None:
    """Whatever the order and however often a reading arrives, each counts once."""
    straight = MeterState(T0)
    straight.accept(readings(0, 60), T0)
    shuffled = MeterState(T0)
    batch = readings(0, 60)
    shuffled.accept(batch[:20] + batch[30:40], T0)
    shuffled.accept(batch[20:30][::-1] + batch[:40], T0)  # late, reversed, repeated
    shuffled.accept(batch[35:], T0 + timedelta(minutes=5))
    for meter in (straight, shuffled):
        totals = meter.ledger.totals(T0, T0 + BUCKET, lambda _: None)
        assert totals.import_wh == 60
        assert totals.cost_pence == Decimal("6.0")
    assert shuffled.consumption.accepted_wh == straight.consumption.accepted_wh == 1_000_059


def test_meter_exchange_is_followed_and_flagged(caplog: pytest.LogCaptureFixture) -> None:
    """A register that drops to a few kWh and carries on consistently is a new meter."""
    meter = MeterState(T0)
    meter.accept(readings(0, 30), T0)
    assert meter.consumption.accepted_wh == 1_000_029
    exchanged = readings(30, 40, register=3_000 - 30)
    meter.accept(exchanged[:10], T0)
    assert meter.consumption.accepted_wh == 1_000_029  # not yet: could be a glitch
    meter.accept(exchanged[10:], T0)
    assert meter.consumption.accepted_wh == 3_000 + 39
    assert meter.consumption.exchanged_at is not None
    assert caplog.text.count("following it") == 1


def test_upward_glitch_after_a_gap_is_ignored() -> None:
    """25 kWh too high after an hour's gap: it disagrees with the energy counted."""
    meter = MeterState(T0)
    meter.accept(readings(0, 6), T0)
    later = readings(360, 6)  # an hour on; the gap's energy comes in the first delta
    later[0] = replace(later[0], consumption_delta_wh=Decimal(355))
    glitched = replace(later[0], consumption_wh=later[0].consumption_wh + 25_000)
    meter.accept([glitched, *later[1:]], T0)
    assert meter.consumption.accepted_wh == later[-1].consumption_wh
    meter.accept(readings(366, 30), T0 + timedelta(hours=1))
    assert meter.consumption.accepted_wh == 1_000_395  # keeps following the true register


def test_zero_export_register_after_a_restart_is_ignored() -> None:
    """A restored export register is not replaced by a zero (no 1,834 kWh spike)."""
    meter = MeterState(T0)
    exporting = [replace(r, export_wh=Decimal(1_834_000 + i)) for i, r in enumerate(readings(0, 6))]
    meter.accept(exporting, T0)
    restarted = MeterState(T0)
    load_meter(restarted, dump(meter, StatisticsState(), []))
    zero = [replace(r, export_wh=Decimal(0)) for r in readings(6, 3)]
    restarted.accept(zero, T0)
    assert restarted.export.accepted_wh == 1_834_005
    totals = restarted.ledger.totals(T0, T0 + BUCKET, lambda _: None)
    assert totals.export_wh <= 5


def test_ledger_survives_storage() -> None:
    """The stored form gives back the same totals and pending half hours."""
    ledger = Ledger()
    for r in readings(0, 40):
        ledger.add_reading(r, r.cost_delta_with_tax_pence)
    ledger.mark_pending(T0 - timedelta(hours=2), T0)
    copy = ledger_from_json(ledger_to_json(ledger))
    rate = lambda _: Decimal(20)  # noqa: E731
    assert copy.totals(T0, T0 + 2 * BUCKET, rate) == ledger.totals(T0, T0 + 2 * BUCKET, rate)
    assert copy.pending == ledger.pending == {T0 - BUCKET * k for k in range(1, 5)}
    assert bucket_start(T0 + timedelta(minutes=31)) == T0 + BUCKET


async def test_readings_without_a_cost_are_priced_at_their_own_half_hour(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, socket_enabled: None
) -> None:
    """Agile with costDeltaWithTax null throughout: each half hour at its own published rate."""
    from tests.simulator import run_simulator  # noqa: PLC0415

    asyncio.get_running_loop().set_debug(False)
    start = LONDON_MIDNIGHT + timedelta(hours=12)
    freezer.move_to(start)
    sim = KrakenSimulator(retention_days=2)
    at = start - timedelta(days=2)
    while at < start + timedelta(hours=3):
        sim.add_glitch(DEVICE, at, "null_cost")
        at += timedelta(seconds=10)
    async with run_simulator(sim) as url:
        entry = await setup_entry(hass, url)
        meter = entry.runtime_data.coordinator.meter
        for _ in range(2 * 120):
            await advance(hass, freezer, 30)
        assert not meter.ledger.pending
        assert sim.request_count(root_field=None) > 0
        rest = [r for r in sim.requests if r.operation_name == "StandardUnitRates"]
        assert len(rest) <= 2
        now = dt_util.utcnow()
        midnight = dt_util.start_of_local_day(now)
        held = newest_read_at(hass) + timedelta(seconds=1)
        cost_today = sim.true_cost_pence(DEVICE, midnight, held)
        assert abs(value(hass, "cost_today") * 100 - cost_today) <= Decimal("0.1")
        oldest = min(at for at, bucket in meter.ledger.buckets.items() if bucket.import_wh)
        first_hour = (oldest + timedelta(hours=1)).replace(minute=0)
        complete = (now - timedelta(minutes=3)).replace(minute=0, second=0)
        cost = await hourly_changes(hass, "cost", first_hour, complete)
        hour = first_hour
        while hour < complete:
            truth = sim.true_cost_pence(DEVICE, hour, hour + timedelta(hours=1))
            assert abs(Decimal(str(cost[hour])) * 100 - truth) <= Decimal("0.02"), hour
            hour += timedelta(hours=1)


async def test_mini_outage_is_spread_over_its_hours(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """A Mini silent for an hour across 20:00: its energy is spread, not dumped in one hour."""
    asyncio.get_running_loop().set_debug(False)
    sim, url = frozen_sim
    await setup_entry(hass, url)
    await run_for(hass, freezer, 10)  # to 19:40
    sim.set_fault("stale", until=dt_util.utcnow() + timedelta(hours=1))
    await run_for(hass, freezer, 90)  # the Mini is back at 20:40
    sim.clear_faults()
    await run_for(hass, freezer, 40)
    start, end = LONDON_MIDNIGHT + timedelta(hours=19), LONDON_MIDNIGHT + timedelta(hours=21)
    energy = await hourly_changes(hass, "consumption", start, end)
    truths = [
        true_energy_wh(sim, h, h + timedelta(hours=1)) for h in (start, start + timedelta(hours=1))
    ]
    shown = [Decimal(str(energy[h])) * 1000 for h in (start, start + timedelta(hours=1))]
    assert abs(sum(shown) - sum(truths)) <= ONE_WH  # nothing lost, nothing counted twice
    # Nobody knows how the outage's energy fell across 19:00; spread by time, each hour is off
    # by less than half of it (put all in the hour the Mini came back, one would be off by all).
    outage = true_energy_wh(sim, start + timedelta(minutes=40), start + timedelta(minutes=100))
    for got, truth in zip(shown, truths, strict=True):
        assert abs(got - truth) < outage / 2
    assert not ir.async_get(hass).issues  # the "not reporting" notice cleared itself


def row(at: datetime, wh: int, cost: str | None = None) -> TelemetryReading:
    """A HALF_HOURLY row for the half hour starting ``at``."""
    return replace(reading(at, 0, wh, cost), consumption_wh=None)


def test_rows_applied_again_change_nothing() -> None:
    """An outage's row spread over its half hours stays the same however often it is applied."""
    ledger = Ledger()
    start = T0 - 6 * BUCKET
    rows = [row(start, 100, "10"), row(start + 4 * BUCKET, 300, "30")]  # no rows for 3 half hours
    now = T0 + timedelta(hours=1)
    for window in (start, start + BUCKET, start + 2 * BUCKET, start):
        apply_rows(
            ledger,
            window,
            T0,
            [r for r in rows if r.read_at >= window],
            lambda r: r.cost_delta_with_tax_pence,
            now,
        )
        totals = ledger.totals(start, T0, lambda _: None)
        assert totals.import_wh == 400
        assert totals.cost_pence == 40
    assert ledger.buckets[start + BUCKET].import_wh == 75  # 300 Wh over the outage's 4 half hours


def test_pruning_keeps_the_session_and_prices() -> None:
    """A month prune: the session's cost and the pruned energy's price are kept."""
    meter = MeterState(T0 - timedelta(days=1))
    meter.rates = {T0 - timedelta(days=1) + k * BUCKET: Decimal(20) for k in range(96)}
    day_ago = T0 - timedelta(days=1)
    unpriced = [replace(r, read_at=day_ago + (r.read_at - T0)) for r in readings(0, 360)]
    meter.accept([replace(r, cost_delta_with_tax_pence=None) for r in unpriced], day_ago)
    meter.accept(readings(0, 60), T0)
    before = meter.session_cost()
    dropped = meter.prune(T0)
    assert meter.session_cost() == before
    assert dropped.cost_pence == Decimal(360) / 1000 * 20
    restored = MeterState(T0)
    load_meter(restored, dump(meter, StatisticsState(), []))
    assert restored.session_cost() == before
    quiet = MeterState(T0)
    load_meter(quiet, dump(meter, StatisticsState(), []))  # restarted, no reading yet
    assert counted_through(quiet) == counted_through(meter)  # where to resume is kept


@pytest.mark.parametrize(
    ("max_range", "node_count", "within"),
    [
        (None, "rows", timedelta(minutes=30)),
        (None, "fields", timedelta(minutes=30)),
        # A Kraken that serves at most a day (or two) a request: ranges halve, nothing is lost.
        (timedelta(days=2), "fields", timedelta(minutes=40)),
        (timedelta(days=1), "fields", timedelta(minutes=50)),
    ],
    ids=["no-range-limit", "nodes-per-field", "two-days-at-most", "one-day-at-most"],
)
async def test_two_months_back_filled_in_half_an_hour(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    socket_enabled: None,
    max_range: timedelta | None,
    node_count: str,
    within: timedelta,
) -> None:
    """Kraken keeps 62 days: everything from the start of last month is back-filled, four days
    a request, within 30 minutes; a Kraken that refuses long ranges gets smaller ones."""
    from tests.simulator import run_simulator  # noqa: PLC0415

    asyncio.get_running_loop().set_debug(False)
    start = datetime(2026, 3, 30, 11, 10, tzinfo=UTC)
    freezer.move_to(start)
    sim = KrakenSimulator(retention_days=62)
    sim.max_range, sim.node_count = max_range, node_count
    async with run_simulator(sim) as url:
        entry = await setup_entry(hass, url)
        ledger = entry.runtime_data.coordinator.meter.ledger
        for _ in range(200):
            await advance(hass, freezer, 30)
            if not ledger.pending:
                break
        assert not ledger.pending
        assert dt_util.utcnow() - start <= within
        history = [r for r in sim.requests if r.grouping == "HALF_HOURLY"]
        refused = [r for r in history if r.error_code]
        assert len(history) - len(refused) <= (59 * 48) // (48 if max_range else 192) + 2
        assert len(refused) <= (2 if max_range else 0)
        last_month = datetime(2026, 2, 1, tzinfo=UTC)  # the start of last month in London
        setup_half_hour = bucket_start(start)
        totals = ledger.totals(last_month, setup_half_hour, lambda _: None)
        assert abs(totals.import_wh - true_energy_wh(sim, last_month, setup_half_hour)) <= ONE_WH


def test_energy_revealed_before_a_session_reset_stays_out_of_it() -> None:
    """Readings taken before *Reset session* but published after it (Kraken is ~30 s late)
    show the register moved more than their deltas: that energy lies before the press, so the
    session counts only what comes after it (the end-to-end test saw 0.05 p slip in)."""
    meter = MeterState(T0)
    meter.accept(readings(0, 30), T0)  # T0 .. T0 + 290 s, 1 Wh and 0.1 p each
    press = T0 + timedelta(seconds=305)
    meter.reset_session(press)
    late = reading(T0 + timedelta(seconds=300), 1_000_000 + 29 + 6, 1)  # 5 Wh more than 1
    meter.accept([late], T0 + timedelta(seconds=170))
    assert meter.session_cost() == 0
    after = reading(T0 + timedelta(seconds=310), 1_000_000 + 29 + 7, 1)  # agrees: a gap
    meter.accept([after], T0 + timedelta(seconds=180))
    totals = meter.ledger.totals(T0, T0 + BUCKET, lambda _: None)
    assert totals.import_wh == 30 + 1 + 5 + 1  # the register's move is counted...
    assert meter.session_cost() == Decimal("0.1")  # ...before the press: only `after` is in it
