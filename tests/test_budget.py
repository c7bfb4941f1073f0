"""The account's request budget: a sliding hour, and a restore that neither loses nor doubles."""

from datetime import timedelta

from custom_components.octopus_home_mini.budget import RequestBudget
from tests.conftest import FakeClock


def test_restore_counts_same_instant_requests_once_each() -> None:
    """Requests sent in one instant all count; restoring a budget's own history adds nothing."""
    clock = FakeClock()
    budget = RequestBudget(5, clock)
    for _ in range(3):  # token, telemetry and tariff in one poll
        budget.record()
    saved = budget.sent()
    budget.restore(saved)
    assert budget.used() == 3
    fresh = RequestBudget(5, clock)
    fresh.restore(saved)
    assert fresh.used() == 3
    assert fresh.allows(2)
    assert not fresh.allows(3)
    clock.advance(timedelta(hours=1).total_seconds())
    assert fresh.used() == 0


def test_requests_beside_the_cadence_are_owed_until_an_empty_slot_pays() -> None:
    """A slot's own request is not owed; a second in the slot, or any outside one, is, for an
    hour or until a slot is left empty for it."""
    clock = FakeClock()
    budget = RequestBudget(121, clock)
    budget.record()  # setup: a token
    budget.open_slot()
    budget.record()  # the slot's own request
    budget.record()  # a token renewal inside the slot
    budget.close_slot()
    assert budget.owed() == 2
    budget.pay()
    assert budget.owed() == 1
    clock.advance(timedelta(hours=1, seconds=1).total_seconds())
    assert budget.owed() == 0
