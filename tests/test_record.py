"""The record under the Mini's ordinary misbehaviour, in Home Assistant against the simulator.

Each behaviour API.md leaves open is a simulator switch, and each test runs under every one:
the first delta after a gap covers the whole gap or only its own 10 s; a Mini back from an
outage uploads what it buffered (Kraken then has the rows) or never does.
"""

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

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
from tests.test_ledger import (
    DEVICE,
    LONDON_MIDNIGHT,
    ONE_HUNDREDTH_PENNY,
    ONE_WH,
    hourly_changes,
    true_energy_wh,
)

pytestmark = pytest.mark.usefixtures("london")

BEHAVIOURS = [("whole", False), ("own", False), ("whole", True), ("own", True)]
IDS = ["whole-delta", "own-delta", "whole-delta-buffered", "own-delta-buffered"]


@pytest.fixture
def sim_start() -> datetime:
    """Set up at 19:30 on a GMT day."""
    return LONDON_MIDNIGHT + timedelta(hours=19, minutes=30)


class Watch:
    """Consumption today at every poll: never down, never above the meter."""

    def __init__(self, hass: HomeAssistant, sim: Sim) -> None:
        self.hass, self.sim = hass, sim[0]
        self.last = Decimal(0)

    def check(self) -> None:
        today = value(self.hass, "consumption_today") * 1000
        midnight = dt_util.start_of_local_day(dt_util.utcnow())
        truth = true_energy_wh(self.sim, midnight, newest_read_at(self.hass) + timedelta(seconds=1))
        assert today >= self.last - ONE_WH, dt_util.utcnow()
        assert today <= truth + ONE_WH, dt_util.utcnow()
        self.last = today

    def exact(self) -> None:
        midnight = dt_util.start_of_local_day(dt_util.utcnow())
        held = newest_read_at(self.hass) + timedelta(seconds=1)
        today = value(self.hass, "consumption_today") * 1000
        assert abs(today - true_energy_wh(self.sim, midnight, held)) <= ONE_WH


async def _run(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, watch: Watch, minutes: float
) -> None:
    for _ in range(int(minutes * 2)):
        await advance(hass, freezer, 30)
        watch.check()


@pytest.mark.parametrize(("gap_delta", "buffered"), BEHAVIOURS, ids=IDS)
async def test_an_outage_across_a_sealed_half_hour_loses_nothing(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    gap_delta: str,
    buffered: bool,
) -> None:
    """Mini silent 45 min across 20:00 (19:40 sealed before it is back): today exact at once,
    every hour exact once Kraken's rows exist, nothing logged as a warning."""
    asyncio.get_running_loop().set_debug(False)
    sim, url = frozen_sim
    sim.gap_delta, sim.stale_backfills = gap_delta, buffered
    await setup_entry(hass, url)
    watch = Watch(hass, frozen_sim)
    await _run(hass, freezer, watch, 10)  # 19:40
    sim.set_fault("stale", until=dt_util.utcnow() + timedelta(minutes=45))
    await _run(hass, freezer, watch, 46)  # back at 20:25
    await _run(hass, freezer, watch, 1)
    watch.exact()  # at once: the register counts what the deltas could not
    await _run(hass, freezer, watch, 80)  # 21:46: 21:00's rows are final
    watch.exact()
    start = LONDON_MIDNIGHT + timedelta(hours=20)
    shown = await hourly_changes(
        hass, "consumption", start - timedelta(hours=1), start + timedelta(hours=2)
    )
    hours = [start - timedelta(hours=1), start]
    truths = [true_energy_wh(sim, h, h + timedelta(hours=1)) for h in hours]
    got = [Decimal(str(shown[h])) * 1000 for h in hours]
    assert abs(sum(got) - sum(truths)) <= ONE_WH
    if buffered:  # Kraken has every row: every hour is exact
        for hour, energy, truth in zip(hours, got, truths, strict=True):
            assert abs(energy - truth) <= ONE_WH, hour
    midnight = dt_util.start_of_local_day(dt_util.utcnow())
    cost = sim.true_cost_pence(DEVICE, midnight, newest_read_at(hass) + timedelta(seconds=1))
    assert abs(value(hass, "cost_today") * 100 - cost) <= ONE_HUNDREDTH_PENNY
    assert ours_loud(caplog) == []


@pytest.mark.parametrize(("gap_delta", "buffered"), BEHAVIOURS[:2], ids=IDS[:2])
async def test_a_three_hour_outage_lands_in_its_own_hours(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    gap_delta: str,
    buffered: bool,
) -> None:
    """Mini silent 3 h while Home Assistant runs: its energy is spread over its hours, not
    dumped in the hour it came back; today is exact the moment it is back."""
    asyncio.get_running_loop().set_debug(False)
    sim, url = frozen_sim
    sim.gap_delta, sim.stale_backfills = gap_delta, buffered
    await setup_entry(hass, url)
    watch = Watch(hass, frozen_sim)
    sim.set_fault("stale", until=dt_util.utcnow() + timedelta(hours=3))
    await _run(hass, freezer, watch, 181)  # back at 22:31
    watch.exact()
    await _run(hass, freezer, watch, 50)
    start = LONDON_MIDNIGHT + timedelta(hours=20)
    hours = [start + timedelta(hours=k) for k in range(3)]
    shown = await hourly_changes(hass, "consumption", hours[0], hours[-1] + timedelta(hours=1))
    for hour in hours:
        truth = true_energy_wh(sim, hour, hour + timedelta(hours=1))
        # Nobody knows how the outage fell across its hours: by time, each within a third.
        assert abs(Decimal(str(shown[hour])) * 1000 - truth) < truth / 3, hour
    assert ours_loud(caplog) == []


async def test_a_glitched_row_served_once_is_never_counted(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Zero register and -23,164,056 Wh, then the right row for the same readAt: exact."""
    sim, url = frozen_sim
    await setup_entry(hass, url)
    watch = Watch(hass, frozen_sim)
    glitch_at = sim.latest_readable(DEVICE).read_at + timedelta(seconds=40)
    sim.add_glitch(DEVICE, glitch_at, "negative_delta", once=True)
    await _run(hass, freezer, watch, 5)
    watch.exact()
    assert value(hass, "consumption_today") > 0


@pytest.mark.parametrize("gap_delta", ["whole", "own"])
async def test_good_registers_are_taken_at_once_after_a_glitch_and_an_outage(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    gap_delta: str,
) -> None:
    """A zero register, then a 4-minute outage: Consumption follows the meter within a poll of
    the Mini's return, and nothing is logged as a warning."""
    sim, url = frozen_sim
    sim.gap_delta = gap_delta
    await setup_entry(hass, url)
    watch = Watch(hass, frozen_sim)
    glitch_at = sim.latest_readable(DEVICE).read_at + timedelta(seconds=40)
    sim.add_glitch(DEVICE, glitch_at, "zero")
    await _run(hass, freezer, watch, 2)
    sim.set_fault("stale", until=dt_util.utcnow() + timedelta(minutes=4))
    await _run(hass, freezer, watch, 5.5)
    truth = sim.latest_readable(DEVICE)
    assert value(hass, "consumption") == Decimal(truth.register_wh) / 1000
    watch.exact()
    assert ours_loud(caplog) == []
