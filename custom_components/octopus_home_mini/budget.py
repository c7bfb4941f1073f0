"""The request budget of one Octopus account, shared by its meters and features: our own
count of its requests, and Kraken's count of its points."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from .api import Allowance, KrakenClient, KrakenError, KrakenInvalidResponseError
from .const import LOGGER

WINDOW = timedelta(hours=1)
#: Kraken's own count of the account's points is read this often, in a request of its own.
ALLOWANCE_EVERY = timedelta(minutes=30)


class RequestBudget:
    """Counts the account's requests over a sliding hour and says when another fits."""

    def __init__(self, per_hour: int, clock: Callable[[], datetime]) -> None:
        """``per_hour`` is the ceiling; ``clock`` gives aware UTC time."""
        self.per_hour = per_hour
        self._clock = clock
        self._sent: deque[datetime] = deque()
        #: Requests beside the cadence's one per slot (setup, token renewals, flows), and the
        #: slots left empty to make room for them, over the last hour.
        self._extra: deque[datetime] = deque()
        self._paid: deque[datetime] = deque()
        self._slot_open = False

    def record(self, _operation: str = "") -> None:
        """Count one request now (the client's request hook)."""
        now = self._clock()
        self._sent.append(now)
        if self._slot_open:
            self._slot_open = False  # the slot's own request
        else:
            self._extra.append(now)

    def open_slot(self) -> None:
        """The cadence's next request is the slot's own; any more count as extra."""
        self._slot_open = True

    def close_slot(self) -> None:
        """The slot is over."""
        self._slot_open = False

    def owed(self) -> int:
        """Extra requests of the last hour not yet made room for by an empty slot.

        The cadence alone fills the hour's ceiling; room for more is made one slot at a time,
        spread out, not by a run of empty slots when the ceiling is reached.
        """
        cutoff = self._clock() - WINDOW
        for times in (self._extra, self._paid):
            while times and times[0] <= cutoff:
                times.popleft()
        return len(self._extra) - len(self._paid)

    def pay(self) -> None:
        """A slot was left empty to make room for an extra request."""
        self._paid.append(self._clock())

    def used(self) -> int:
        """Requests in the last hour."""
        cutoff = self._clock() - WINDOW
        while self._sent and self._sent[0] <= cutoff:
            self._sent.popleft()
        return len(self._sent)

    def allows(self, requests: int) -> bool:
        """Whether ``requests`` more fit under the ceiling now."""
        return self.used() + requests <= self.per_hour

    def sent(self) -> list[datetime]:
        """The last hour's request times, to survive a restart."""
        self.used()
        return list(self._sent)

    def restore(self, history: Iterable[datetime]) -> None:
        """Merge request times saved by a previous run (or by this budget itself).

        A multiset union: requests sent in the same instant all count, none twice.
        """
        merged = Counter(self._sent) | Counter(history)
        self._sent = deque(sorted(merged.elements()))
        self.used()


class Points:
    """Kraken's own count of the account's points (``rateLimitInfo``), read every half hour.

    When less than a tenth is left (or the account is blocked) the cadence sends a request
    only every other slot until Kraken reports enough again; said once each way. A Kraken
    that refuses the field is not asked again.
    """

    def __init__(self, client: KrakenClient) -> None:
        """Read with the account's ``client``."""
        self._client = client
        #: As last read; whether Kraken knows the field (None: not known yet).
        self.allowance: Allowance | None = None
        self.read_at: datetime | None = None
        self.supported: bool | None = None

    @property
    def low(self) -> bool:
        """Whether Kraken last said the allowance is nearly spent."""
        return self.allowance is not None and self.allowance.low

    def due(self, now: datetime) -> bool:
        """Whether to read it in this slot."""
        if self.supported is False:
            return False
        return self.read_at is None or now - self.read_at >= ALLOWANCE_EVERY

    async def async_read(self, now: datetime) -> None:
        """One request: Kraken's count at ``now``."""
        self.read_at = now
        was_low = self.low
        try:
            allowance = await self._client.get_allowance()
        except KrakenInvalidResponseError as err:
            self.supported = False  # the document was refused: the field is unknown
            LOGGER.debug("Kraken does not report the points allowance: %s", err)
            return
        except KrakenError as err:
            LOGGER.debug("Could not read the points allowance: %s", err)
            return
        self.supported = True
        self.allowance = allowance
        if self.low and not was_low and allowance is not None:
            LOGGER.warning(
                "Octopus reports %s of %s points left for this account this hour (another app "
                "or tool may be using it); requests are halved until %s",
                allowance.remaining,
                allowance.limit,
                allowance.renews_at.isoformat() if allowance.renews_at else "it renews",
            )
        elif was_low and not self.low:
            LOGGER.info("Octopus reports enough points again; requests are back to every slot")
