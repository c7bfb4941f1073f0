"""A two-day Mini outage while Home Assistant runs, across midnight and the spring clock change.

The Mini is silent from Saturday 22:00 (GMT) to Monday 23:00 (BST); Kraken never gets its
readings. Whatever the first delta after the gap covers, the outage's energy is counted within a
few polls of its return, and two hours later every half hour of it is settled (no row: spread by
time) and its hours add up to the register's move within 1 Wh.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

from tests.common import (
    Sim,
    advance,
    newest_read_at as watch_newest,
    ours_loud,
    recorder_first,  # noqa: F401 - the recorder-first fixture
    settle,
    setup_entry,
    statistics_only,  # noqa: F401 - no entity states recorded
    value,
)
from tests.test_ledger import (
    ONE_WH,
    hourly_changes,
    true_energy_wh,
)
from tests.test_record import Watch

pytestmark = pytest.mark.usefixtures("london")

#: UK clocks go forward at 01:00 UTC on Sunday 29 March 2026.
HOUR = timedelta(hours=1)
SATURDAY_EVENING = datetime(2026, 3, 28, 21, 0, tzinfo=UTC)


@pytest.fixture
def sim_start() -> datetime:
    """Set up on Saturday evening, the day before the clocks go forward."""
    return SATURDAY_EVENING


def _held_since(hass: HomeAssistant, start: datetime) -> Decimal:
    """The ledger's energy from ``start`` to now (Wh)."""
    (entry,) = hass.config_entries.async_entries("octopus_home_mini")
    meter = entry.runtime_data.coordinator.meter
    return meter.ledger.totals(
        start, dt_util.utcnow() + timedelta(hours=1), meter.rate_at
    ).import_wh


@pytest.mark.parametrize("gap_delta", ["whole", "own"])
async def test_a_two_day_outage_across_midnight_and_the_clock_change(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    gap_delta: str,
) -> None:
    """Two days without a reading while Home Assistant runs: the outage's energy is counted
    once the Mini is back (the register says how much; how it fell across the two midnights
    nobody knows, so it is shared by time), today never goes down, the outage's hours are
    complete and add up to the register's move two hours later, and nothing is logged louder
    than INFO."""
    asyncio.get_running_loop().set_debug(False)
    sim, url = frozen_sim
    sim.gap_delta = gap_delta
    await setup_entry(hass, url)
    await settle(hass, freezer)
    watch = Watch(hass, frozen_sim)
    while dt_util.utcnow() < SATURDAY_EVENING + timedelta(hours=1):
        await advance(hass, freezer, 30)
        watch.check()
    outage = dt_util.utcnow()
    before = outage.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    sim.set_fault("stale", until=outage + timedelta(days=2))
    while dt_util.utcnow() < outage + timedelta(days=2):  # nothing to read: slots 5 min apart
        await advance(hass, freezer, 300)
    # Back: the first polls may be lent to the back-fill (at most two slots each), and a
    # register rise is taken when a second reading agrees with it.
    for _ in range(8):
        await advance(hass, freezer, 30)
    newest = watch_newest(hass)
    truth = true_energy_wh(sim, before, newest + timedelta(seconds=1))
    assert abs(_held_since(hass, before) - truth) <= ONE_WH
    last = value(hass, "consumption_today")
    day = dt_util.as_local(dt_util.utcnow()).date()
    drops = []
    for _ in range(2 * 150):  # two and a half hours: every row that will come has come
        await advance(hass, freezer, 30)
        if dt_util.as_local(dt_util.utcnow()).date() != day:  # Tuesday begins
            day, last = dt_util.as_local(dt_util.utcnow()).date(), Decimal(0)
        today = value(hass, "consumption_today")
        if today < last:
            drops.append(last - today)
        last = today
    # Kraken's row for the return half hour may carry the whole outage: the half hours the
    # register already shared keep their shares, so today is not moved back (0.48 kWh was).
    assert drops == []
    # From the hour before the outage to the end of the hour the Mini came back in.
    end = (outage + timedelta(days=2)).replace(minute=0, second=0, microsecond=0) + HOUR
    shown = await hourly_changes(hass, "consumption", before, end)
    hours = sorted(shown)
    assert hours[0] == before
    assert len(hours) == (end - before) // HOUR  # 50 hours: no gap, no extra
    got = sum(Decimal(str(shown[h])) for h in hours) * 1000
    assert abs(got - true_energy_wh(sim, before, hours[-1] + timedelta(hours=1))) <= ONE_WH
    assert all(shown[h] >= 0 for h in hours)
    assert ours_loud(caplog) == []
