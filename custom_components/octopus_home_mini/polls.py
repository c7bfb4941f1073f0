"""A meter's own readings: live electricity in every slot it is given, a gas meter's newest
half-hour rows when one can be there. Each poll is one request; its answer goes to the meter."""

from __future__ import annotations

from datetime import UTC, datetime

from .api import KrakenClient, TelemetryGrouping
from .const import GAS_PUBLISHED_AFTER, GAS_RETRY, GAS_RETRY_MAX
from .ledger import BUCKET
from .meter import MeterState


async def async_poll_live(
    client: KrakenClient, device_id: str, meter: MeterState, now: datetime
) -> None:
    """The TEN_SECONDS readings since the last poll (reaching back over any slot lent away)."""
    start, end = meter.live_window(now)
    readings = await client.get_telemetry(device_id, start, end, TelemetryGrouping.TEN_SECONDS)
    meter.accept(readings, start)
    meter.covered(start, end)


class GasPoll:
    """A gas meter reports each half hour once, an hour or two late: it is asked when its next
    row can be there, and less and less often while none comes."""

    def __init__(self, meter: MeterState) -> None:
        """Pacing for ``meter``'s polls."""
        self._meter = meter
        self._next_try = datetime.min.replace(tzinfo=UTC)
        self._retry = GAS_RETRY

    def due(self, now: datetime) -> bool:
        """Whether the next half-hour row can be there (or it is worth asking)."""
        newest = self._meter.newest
        expected = now if newest is None else newest.read_at + 2 * BUCKET + GAS_PUBLISHED_AFTER
        return now >= max(expected, self._next_try)

    async def async_poll(self, client: KrakenClient, device_id: str, now: datetime) -> None:
        """The last two hours' half-hour rows."""
        meter = self._meter
        newest = meter.newest
        start, end = meter.gas_window(now)
        rows = await client.get_telemetry(device_id, start, end, TelemetryGrouping.HALF_HOURLY)
        meter.accept_rows(rows, start, end, now)
        if meter.newest is not newest:
            self._retry = GAS_RETRY
            self._next_try = now
        else:  # not published yet, or the Mini is quiet: ask less and less often
            self._next_try = now + self._retry
            self._retry = min(GAS_RETRY_MAX, self._retry * 2)
