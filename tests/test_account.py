"""The account's cadence: one request per slot, the most urgent work first, live never starved."""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from hypothesis import given, settings, strategies as st

from custom_components.octopus_home_mini.account import LIVE_MAX_WAIT, AccountLink, Job
from custom_components.octopus_home_mini.budget import RequestBudget

NOW = datetime(2026, 3, 14, 12, tzinfo=UTC)


@dataclass(eq=False)
class FakeMeter:
    """A meter with a queue of work; records what each slot gave it."""

    gas: bool = False
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
    (two meters: every 4), and each slot sends at most one request."""
    electric = [FakeMeter(work=[j for j in q if j not in (Job.LIVE, Job.GAS)]) for q in queues]
    gases = [FakeMeter(gas=True, work=[Job.GAS] * 5) for _ in range(gas)]
    link = _link(*electric, *gases)
    for _ in range(60):
        before = sum(link.sent.values())
        await link._async_slot(NOW)
        assert sum(link.sent.values()) - before == 1
    bound = LIVE_MAX_WAIT + len(electric)
    for meter in electric:
        gaps, last = [], -1
        for slot, job in enumerate(meter.ran):
            if job is Job.LIVE:
                gaps.append(slot - last)
                last = slot
        gaps.append(len(meter.ran) - last)
        assert max(gaps) <= bound, meter.ran
