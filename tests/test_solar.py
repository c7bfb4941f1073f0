"""Solar households: export today, its earnings at the export tariff, net cost, compensation.

Truth is the simulator's: each half hour's export register move at that half hour's export
rate (Agile Outgoing, or Outgoing Octopus's fixed 15 p/kWh).
"""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.statistics import get_metadata
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.octopus_home_mini.const import DOMAIN
from custom_components.octopus_home_mini.statistics import statistic_id, statistic_prefix
from tests.common import (
    Sim,
    advance,
    ours_loud,
    recorder_first,  # noqa: F401 - the recorder-first fixture
    settle,
    setup_entry,
    statistics_only,  # noqa: F401 - no entity states recorded
    value,
)
from tests.simulator import EXPORTNOAGREEMENT, SINGLE, SOLAR, SOLARFIXED, KrakenSimulator
from tests.simulator.fixtures import Fixture

LONDON_MIDNIGHT = datetime(2026, 3, 14, tzinfo=UTC)  # GMT in mid-March
ONE_WH = Decimal(1)
ONE_HUNDREDTH_PENNY = Decimal("0.01")
HOUR = timedelta(hours=1)
EXPORT_KEYS = ("export_today", "export_earnings_today", "net_cost_today", "export_rate")

pytestmark = pytest.mark.usefixtures("london")


@pytest.fixture
def sim_start() -> datetime:
    """Set up at 10:00 on a GMT day, the sun up."""
    return LONDON_MIDNIGHT + timedelta(hours=10)


def _prefix(fixture: Fixture) -> str:
    return f"sensor.home_mini_{fixture.serials[0].lower()}_"


def _export_read_at(hass: HomeAssistant) -> datetime:
    """When the export register the integration holds was read."""
    (entry,) = hass.config_entries.async_entries(DOMAIN)
    read_at = entry.runtime_data.coordinator.meter.export.accepted_at
    assert read_at is not None
    return read_at


class Watch:
    """Export today at every poll: never down, never above the meter; exact on demand."""

    def __init__(self, hass: HomeAssistant, sim: KrakenSimulator, fixture: Fixture) -> None:
        self.hass, self.sim, self.fixture = hass, sim, fixture
        self.last = Decimal(0)

    def truth(self) -> tuple[int, Decimal]:
        midnight = dt_util.start_of_local_day(dt_util.utcnow())
        held = _export_read_at(self.hass) + timedelta(seconds=1)
        device = self.fixture.device_ids[0]
        return self.sim.true_export(self.fixture.account_number, device, midnight, held)

    def check(self) -> None:
        shown = value(self.hass, "export_today", _prefix(self.fixture)) * 1000
        assert shown >= self.last - ONE_WH, dt_util.utcnow()
        assert shown <= self.truth()[0] + ONE_WH, dt_util.utcnow()
        self.last = shown

    def exact(self, *, earnings: bool = True) -> None:
        """Export, earnings and net cost today equal the truth."""
        wh, pence = self.truth()
        fixture, hass = self.fixture, self.hass
        assert abs(value(hass, "export_today", _prefix(fixture)) * 1000 - wh) <= ONE_WH
        earned = value(hass, "export_earnings_today", _prefix(fixture)) * 100
        net = value(hass, "net_cost_today", _prefix(fixture)) * 100
        cost = value(hass, "cost_today", _prefix(fixture)) * 100
        assert abs(net - (cost - earned)) <= ONE_HUNDREDTH_PENNY  # shown values, rounded
        if earnings:
            assert abs(earned - pence) <= ONE_HUNDREDTH_PENNY

    def close(self) -> None:
        """Earnings today within 5 % of the truth (an outage's share estimated by time)."""
        _, pence = self.truth()
        earned = value(self.hass, "export_earnings_today", _prefix(self.fixture)) * 100
        assert abs(earned - pence) < pence / 20


async def _run(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    watch: Watch,
    minutes: float,
    step: float = 30,
) -> None:
    for _ in range(int(minutes * 60 / step)):
        await advance(hass, freezer, step)
        watch.check()


async def _outage(hass: HomeAssistant, freezer: FrozenDateTimeFactory, watch: Watch) -> None:
    """The three silent hours in slots 5 minutes apart (nothing to read), then a minute more."""
    await _run(hass, freezer, watch, 180, step=300)
    await _run(hass, freezer, watch, 1)


async def _hours(
    hass: HomeAssistant, fixture: Fixture, kind: str, start: datetime, end: datetime
) -> dict[datetime, Decimal]:
    """The recorder's hourly change of one of the meter's statistics."""
    from homeassistant.components.recorder.statistics import (  # noqa: PLC0415
        statistics_during_period,
    )

    await async_wait_recording_done(hass)
    ident = statistic_id(statistic_prefix("electricity", fixture.serials[0]), kind)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, start, end, {ident}, "hour", None, {"change"}
    )
    return {
        datetime.fromtimestamp(row["start"], UTC): Decimal(str(row["change"]))
        for row in rows.get(ident, [])
    }


async def _assert_hours(
    hass: HomeAssistant,
    sim: KrakenSimulator,
    fixture: Fixture,
    hours: list[datetime],
    spread: set[datetime] = frozenset(),  # type: ignore[assignment]
) -> None:
    """Each hour's export within 1 Wh and earnings within 0.01 p; hours whose half hours
    Kraken has no row for are spread by time: together within 1 Wh."""
    energy = await _hours(hass, fixture, "export", hours[0], hours[-1] + HOUR)
    money = await _hours(hass, fixture, "export_compensation", hours[0], hours[-1] + HOUR)
    spread_shown = spread_truth = Decimal(0)
    device = fixture.device_ids[0]
    for hour in hours:
        wh, pence = sim.true_export(fixture.account_number, device, hour, hour + HOUR)
        if hour in spread:
            spread_shown += energy[hour] * 1000
            spread_truth += wh
            continue
        assert abs(energy[hour] * 1000 - wh) <= ONE_WH, hour
        assert abs(money[hour] * 10000 - pence * 100) <= 1, hour  # 0.01 p
    assert abs(spread_shown - spread_truth) <= ONE_WH
    assert sum(energy.values()) > 0


@pytest.mark.parametrize("buffered", [True, False], ids=["rows-exist", "no-rows"])
async def test_sunny_agile_day_with_a_restart_and_a_three_hour_outage(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    buffered: bool,
) -> None:
    """Agile import, Agile Outgoing export: today's export, earnings and net cost exact at
    every check; every hour's export and earnings exact once Kraken's rows exist; the hours of
    a 3-h outage Kraken never gets rows for are spread by time."""
    asyncio.get_running_loop().set_debug(False)
    sim, url = frozen_sim
    sim.stale_backfills = buffered
    hass.config.currency = "GBP"
    entry = await setup_entry(hass, url, SOLAR)
    watch = Watch(hass, sim, SOLAR)
    await settle(hass, freezer)  # the back-fill of this month and last
    watch.exact()
    # Agile Outgoing's past days are priced in one REST request, once the days are in.
    assert len([p for p in sim.rest_requests if "OUTGOING" in p]) == 1
    await _run(hass, freezer, watch, 40)
    assert await hass.config_entries.async_reload(entry.entry_id)  # a restart at ~11:00
    await hass.async_block_till_done()
    await _run(hass, freezer, watch, 20)
    watch.exact()
    outage = dt_util.utcnow()
    sim.set_fault("stale", until=outage + timedelta(hours=3))
    await _outage(hass, freezer, watch)
    # The register counts the outage at once; it is shared by time over its half hours, each
    # at its own rate, until Kraken's rows say how it fell: close, not exact.
    watch.exact(earnings=False)
    watch.close()
    await _run(hass, freezer, watch, 130)
    watch.exact(earnings=buffered)
    watch.close()
    first_out = outage.replace(minute=0, second=0, microsecond=0)
    spread = set() if buffered else {first_out + k * HOUR for k in range(4)}
    hours = [LONDON_MIDNIGHT + k * HOUR for k in range(16)]
    await _assert_hours(hass, sim, SOLAR, hours, spread)
    assert value(hass, prefix=_prefix(SOLAR), key="export_rate") * 100 == sim.unit_rate_pence(
        SOLAR.account_number, dt_util.utcnow(), fuel="export"
    )
    assert ours_loud(caplog) == []


async def test_fixed_export_tariff(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """Outgoing Octopus at 15 p/kWh on a Flexible import: exact today and by the hour, a
    3-h outage included (a fixed rate earns the same wherever the export is spread)."""
    asyncio.get_running_loop().set_debug(False)
    sim, url = frozen_sim
    await setup_entry(hass, url, SOLARFIXED)
    watch = Watch(hass, sim, SOLARFIXED)
    await settle(hass, freezer)
    await _run(hass, freezer, watch, 30)
    watch.exact()
    sim.set_fault("stale", until=dt_util.utcnow() + timedelta(hours=3))
    await _outage(hass, freezer, watch)
    watch.exact()
    await _run(hass, freezer, watch, 130)
    watch.exact()
    assert value(hass, prefix=_prefix(SOLARFIXED), key="export_rate") == Decimal("0.15")
    hours = [LONDON_MIDNIGHT + k * HOUR for k in range(10)]  # before the outage: exact
    await _assert_hours(hass, sim, SOLARFIXED, hours)
    assert not [p for p in sim.rest_requests if "OUTGOING" in p]  # a fixed rate needs no REST


@pytest.mark.parametrize("fixture", [SINGLE, EXPORTNOAGREEMENT], ids=["no-export", "unpaid"])
async def test_no_export_agreement_adds_nothing(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    fixture: Fixture,
) -> None:
    """Without an export agreement: no export entities, no compensation statistics, no
    warning, no request for export rates."""
    sim, url = frozen_sim
    await setup_entry(hass, url, fixture)
    await settle(hass, freezer)
    for _ in range(130):
        await advance(hass, freezer, 30)
    registry = er.async_get(hass)
    for key in EXPORT_KEYS:
        unique_id = f"{fixture.device_ids[0]}_{key}"
        assert registry.async_get_entity_id(Platform.SENSOR, DOMAIN, unique_id) is None
    assert hass.states.get(_prefix(fixture) + "cost_today") is not None
    start = LONDON_MIDNIGHT
    assert await _hours(hass, fixture, "export_compensation", start, start + 12 * HOUR) == {}
    assert not [p for p in sim.rest_requests if "OUTGOING" in p]
    assert ours_loud(caplog) == []


async def test_export_agreement_without_an_export_register(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An export tariff, but the Mini sends `export: null`: the export entities are
    unavailable, one INFO line says why, nothing is logged louder."""
    sim, url = frozen_sim
    sim.export_unreported.add(SOLAR.device_ids[0])
    caplog.set_level(logging.INFO, logger="custom_components.octopus_home_mini")
    await setup_entry(hass, url, SOLAR)
    for _ in range(20):
        await advance(hass, freezer, 30)
    for key in EXPORT_KEYS:
        assert hass.states.get(_prefix(SOLAR) + key).state == STATE_UNAVAILABLE, key
    assert value(hass, prefix=_prefix(SOLAR), key="cost_today") > 0
    told = [
        r
        for r in caplog.get_records("call")
        if r.levelno == logging.INFO and "no export register" in r.getMessage()
    ]
    assert len(told) == 1
    assert ours_loud(caplog) == []


async def test_an_export_agreement_that_begins_brings_its_entities(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """The export tariff starts while Home Assistant runs: at the next tariff read the entry
    reloads and the export entities appear."""
    from dataclasses import replace  # noqa: PLC0415

    from tests.simulator.tariffs import OUTGOING_FIXED_J  # noqa: PLC0415

    sim, url = frozen_sim
    fixture = EXPORTNOAGREEMENT
    await setup_entry(hass, url, fixture)
    await settle(hass, freezer)
    assert hass.states.get(_prefix(fixture) + "export_today") is None
    import_point, export_point = fixture.electricity
    signed = replace(
        fixture, electricity=(import_point, replace(export_point, tariff=OUTGOING_FIXED_J))
    )
    sim.accounts[fixture.account_number] = signed
    for _ in range(6 * 7):  # the tariff is read again within 6 hours
        await advance(hass, freezer, 600)
        if hass.states.get(_prefix(fixture) + "export_today") is not None:
            break
    await hass.async_block_till_done()
    assert hass.states.get(_prefix(fixture) + "export_rate").state == "0.15"


async def test_return_to_grid_with_compensation_validates(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """The README's solar setup: export as "Return to grid" with the export compensation
    statistic; the Energy panel's validator finds nothing wrong."""
    from homeassistant.components.energy import (  # noqa: PLC0415
        data as energy_data,
        validate as energy_validate,
    )

    _, url = frozen_sim
    hass.config.currency = "GBP"
    await setup_entry(hass, url, SOLAR)
    for _ in range(130):  # an hour completes and is written
        await advance(hass, freezer, 30)
    await async_wait_recording_done(hass)
    prefix = statistic_prefix("electricity", SOLAR.serials[0])
    assert await async_setup_component(hass, "energy", {})
    manager = await energy_data.async_get_manager(hass)
    grid = {
        "type": "grid",
        "flow_from": [
            {
                "stat_energy_from": statistic_id(prefix, "consumption"),
                "stat_cost": statistic_id(prefix, "cost"),
                "entity_energy_price": None,
                "number_energy_price": None,
            }
        ],
        "flow_to": [
            {
                "stat_energy_to": statistic_id(prefix, "export"),
                "stat_compensation": statistic_id(prefix, "export_compensation"),
                "entity_energy_price": None,
                "number_energy_price": None,
            }
        ],
        "cost_adjustment_day": 0,
    }
    await manager.async_update({"energy_sources": [grid]})
    result = (await energy_validate.async_validate(hass)).as_dict()
    assert result["energy_sources"] == [[]], result
    # What the panel sums: an hourly series in GBP whose hours earned something.
    ident = statistic_id(prefix, "export_compensation")
    meta = await get_instance(hass).async_add_executor_job(
        partial(get_metadata, hass, statistic_ids={ident})
    )
    assert meta[ident][1]["unit_of_measurement"] == "GBP"
    assert meta[ident][1]["has_sum"]
    earned = await _hours(hass, SOLAR, "export_compensation", LONDON_MIDNIGHT, dt_util.utcnow())
    assert sum(earned.values()) > 0
