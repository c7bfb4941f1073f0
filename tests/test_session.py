"""The cost session on the pure ledger (session.py): its start's split and pruning."""

from datetime import timedelta
from decimal import Decimal

from custom_components.octopus_home_mini.ledger import BUCKET, Ledger
from custom_components.octopus_home_mini.session import Session, portion_before
from tests.test_ledger import T0, reading


def test_nothing_before_a_start_in_an_unknown_or_sealed_half_hour() -> None:
    """A half hour the ledger never saw, or one sealed, splits nothing off."""
    ledger = Ledger()
    assert portion_before(ledger, T0 + timedelta(minutes=5)) == (0, 0, 0)
    ledger.add_reading(reading(T0 + timedelta(minutes=1), 1, 30), Decimal(3))
    assert portion_before(ledger, T0 + timedelta(minutes=5)) == (30, 3, 0)
    ledger.seal(T0 + 2 * BUCKET)
    assert portion_before(ledger, T0 + timedelta(minutes=5)) == (0, 0, 0)


def test_a_session_inside_what_is_kept_is_the_same_session() -> None:
    """Pruning before a session's start leaves it untouched."""
    ledger = Ledger()
    session = Session.begin(ledger, T0 + BUCKET)
    assert session.kept_from(T0, ledger, lambda _: None) is session
