"""The account's cadence: one request per slot, the most urgent work first, live never starved."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from hypothesis import given, settings, strategies as st
import pytest

from custom_components.octopus_home_mini.account import LIVE_MAX_WAIT, AccountLink, Job
from custom_components.octopus_home_mini.budget import RequestBudget
from custom_components.octopus_home_mini.const import CONF_LIVE_INTERVAL
from tests.common import Sim, advance, settle, setup_entry
from tests.simulator import SINGLE, KrakenSimulator

NOW = datetime(2026, 3, 14, 12, tzinfo=UTC)


@dataclass(eq=False)
class FakeMeter:
    """A meter with a queue of work; records what each slot gave it."""

    gas: bool = False
    healthy: bool = True
    work: list[Job] = field(default_factory=list)
    ran: list[Job | None] = field(default_factory=list)

    def due(self, now: datetime) -> Job | None:
        return self.work[0] if self.work else None

    async def async_run(self, job: Job | None) -> None:
        self.ran.append(job)
        if job is not None and job is not Job.LIVE and self.work and self.work[0] is job:
            self.work.pop(0)


def _link(*meters: FakeMeter) -> AccountLink:
    link = AccountLink(client=None, budget=RequestBudget(10_000, lambda: NOW))  # type: ignore[arg-type]
    link.points.supported = False  # Kraken's count has its own tests
    link.coordinators.extend(meters)
    for meter in meters:
        link.waited[id(meter)] = 0
    return link


async def test_due_work_takes_two_slots_in_three_and_live_the_third() -> None:
    """A back-fill of 10 days: live every third slot; the fills in the other two."""
    meter = FakeMeter(work=[Job.FILL] * 10)
    link = _link(meter)
    for _ in range(15):
        await link._async_slot(NOW)
    assert meter.ran == [Job.FILL, Job.FILL, Job.LIVE] * 5
    for _ in range(3):  # nothing left: live at every slot
        await link._async_slot(NOW)
    assert meter.ran[-3:] == [Job.LIVE] * 3


async def test_gas_comes_before_the_back_fill_and_is_run_only_when_due() -> None:
    """A gas row due is the most urgent work; a gas meter with nothing due is only refreshed."""
    electricity = FakeMeter(work=[Job.FILL] * 3)
    gas = FakeMeter(gas=True, work=[Job.GAS])
    link = _link(electricity, gas)
    await link._async_slot(NOW)
    assert (electricity.ran, gas.ran) == ([None], [Job.GAS])
    await link._async_slot(NOW)
    assert (electricity.ran[-1], gas.ran[-1]) == (Job.FILL, None)
    assert link.sent == {Job.GAS: 1, Job.FILL: 1}


async def test_no_request_while_rate_limited() -> None:
    """Backed off: every meter is refreshed without a request until the account may ask again."""
    meter = FakeMeter()
    link = _link(meter)
    link.back_off(600)
    await link._async_slot(NOW)
    assert meter.ran == [None]
    assert link.sent == {}


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from([*Job]), max_size=30), min_size=1, max_size=3),
    st.integers(0, 2),
)
async def test_live_never_waits_more_than_two_slots(queues: list[list[Job]], gas: int) -> None:
    """Whatever work is queued, each electricity meter is read live at least every 3 slots
    (two meters too; three or more: every meter count + 1), and each slot sends at most one
    request."""
    electric = [
        FakeMeter(work=[j for j in q if j in (Job.TARIFF, Job.FILL, Job.RATES)]) for q in queues
    ]
    gases = [FakeMeter(gas=True, work=[Job.GAS] * 5) for _ in range(gas)]
    link = _link(*electric, *gases)
    for _ in range(60):
        before = sum(link.sent.values())
        await link._async_slot(NOW)
        assert sum(link.sent.values()) - before == 1
    bound = max(LIVE_MAX_WAIT, len(electric)) + 1
    for meter in electric:
        gaps, last = [], -1
        for slot, job in enumerate(meter.ran):
            if job is Job.LIVE:
                gaps.append(slot - last)
                last = slot
        gaps.append(len(meter.ran) - last)
        assert max(gaps) <= bound, meter.ran


API_REQUESTS = "sensor.home_mini_21e1234567_api_requests_last_hour"
ONLINE = "binary_sensor.home_mini_21e1234567_online"
DEVICE = SINGLE.device_ids[0]


def _ours(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.get_records("call")
        if r.name.startswith("custom_components.octopus_home_mini") and r.levelno == level
    ]


async def _until_allowance_read(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sim: KrakenSimulator
) -> None:
    before = sim.request_count(root_field="rateLimitInfo")
    for _ in range(70):
        await advance(hass, freezer, 30)
        if sim.request_count(root_field="rateLimitInfo") > before:
            return
    raise AssertionError("Kraken's count was not read within 35 minutes")


async def test_the_allowance_sensor_shows_our_count_and_krakens(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """The state is the account's requests in the last hour (as Kraken logged them); the
    attributes are Kraken's points as read, every 30 minutes."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    assert sim.request_count(root_field="rateLimitInfo") == 1  # read at setup
    await _until_allowance_read(hass, freezer, sim)
    now = dt_util.utcnow()
    ours = [r for r in sim.requests if r.at > now - timedelta(hours=1)]
    state = hass.states.get(API_REQUESTS)
    assert int(state.state) == len(ours) == entry.runtime_data.link.budget.used()
    truth = sim.allowance(SINGLE.account_number, now)
    assert state.attributes["points_limit"] == truth["limit"]
    assert state.attributes["points_used"] == truth["usedPoints"]
    assert state.attributes["points_remaining"] == truth["remainingPoints"]
    assert state.attributes["blocked"] is False
    assert dt_util.parse_datetime(state.attributes["points_renew_at"]).timestamp() == truth["ttl"]


async def test_a_low_allowance_halves_the_requests_and_says_so_once(
    hass: HomeAssistant,
    frozen_sim: Sim,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Kraken says less than a tenth is left: a request every other slot, one warning; when
    Kraken reports enough again, every slot, said at info."""
    sim, url = frozen_sim
    await setup_entry(hass, url)
    await settle(hass, freezer)
    sim.points_used_elsewhere = 46_000  # the app or another tool on the same account
    await _until_allowance_read(hass, freezer, sim)
    before = len(sim.requests)
    for _ in range(20):
        await advance(hass, freezer, 30)
    assert len(sim.requests) - before == 10
    assert len(_ours(caplog, logging.WARNING)) == 1
    sim.points_used_elsewhere = 0
    await _until_allowance_read(hass, freezer, sim)
    before = len(sim.requests)
    for _ in range(10):
        await advance(hass, freezer, 30)
    assert len(sim.requests) - before == 10
    assert len(_ours(caplog, logging.WARNING)) == 1
    assert any("enough points again" in m for m in _ours(caplog, logging.INFO))


async def test_a_kraken_without_the_field_gets_no_sensor(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """A Kraken that refuses `rateLimitInfo` (HTTP 400): no sensor, and it is not asked again;
    the live data is unharmed."""
    sim, url = frozen_sim
    sim.rate_limit_info = False
    entry = await setup_entry(hass, url)
    assert entry.runtime_data.coordinator.last_update_success
    assert hass.states.get(API_REQUESTS) is None
    for _ in range(2 * 70):
        await advance(hass, freezer, 30)
    assert sim.request_count(root_field="rateLimitInfo") == 1
    assert entry.runtime_data.link.points.allowance is None


async def test_a_longer_interval_keeps_every_sample_with_fewer_requests(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """At 120 s between slots: at most 31 requests in any hour once set, every 10-s sample
    kept, and Online never flaps (even while the back-fill takes two slots in three)."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    coordinator = entry.runtime_data.coordinator
    first = coordinator.data.samples[0].read_at
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "live"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_LIVE_INTERVAL: 120}
    )
    assert entry.options == {CONF_LIVE_INTERVAL: 120}
    await advance(hass, freezer, 30)  # the next slot takes the new interval up
    assert entry.runtime_data.link.slot == timedelta(seconds=120)
    set_at = dt_util.utcnow()
    for _ in range(2 * 60 * 2):  # two hours, the clock moving 30 s at a time
        await advance(hass, freezer, 30)
        assert hass.states.get(ONLINE).state == "on", dt_util.utcnow()
    after = [r.at for r in sim.requests if r.at > set_at + timedelta(minutes=10)]
    most = max(sum(1 for t in after if at <= t < at + timedelta(hours=1)) for at in after)
    assert most <= 31
    newest = coordinator.data.newest
    assert coordinator.samples_received == len(
        sim.samples(DEVICE, first, newest.read_at + timedelta(seconds=1))
    )
    assert not coordinator.meter.ledger.pending  # the back-fill got its slots too


async def test_dual_fuel_stays_online_through_the_first_hours(
    hass: HomeAssistant, frozen_sim: Sim, freezer: FrozenDateTimeFactory
) -> None:
    """The setup's requests (token, Kraken's count, both meters' first reads) are made room for
    by single empty slots spread out, not by a run of them when the hour's ceiling is reached:
    electricity's newest sample is never older than Online allows, and ≤ 121 in any hour."""
    from tests.common import max_requests_in_any_hour  # noqa: PLC0415
    from tests.simulator import DUAL  # noqa: PLC0415
    from tests.test_gas import gas_entry  # noqa: PLC0415

    sim, url = frozen_sim
    electricity = await setup_entry(hass, url, DUAL, 0)
    gas = gas_entry(url, DUAL)
    gas.add_to_hass(hass)
    await hass.config_entries.async_setup(gas.entry_id)
    await hass.async_block_till_done()
    link = electricity.runtime_data.link
    oldest = timedelta(0)
    for _ in range(130):  # past the hour the setup's requests leave the count
        await advance(hass, freezer, 30)
        newest = electricity.runtime_data.coordinator.data.newest
        oldest = max(oldest, dt_util.utcnow() - newest.read_at)
        assert hass.states.get("binary_sensor.home_mini_24h4444444_online").state == "on"
    assert oldest <= timedelta(seconds=120)  # was 210 s, with four empty slots in a row
    assert oldest <= link.online_within()
    assert max_requests_in_any_hour(sim, DUAL.account_number) <= 121
