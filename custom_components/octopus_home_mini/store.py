"""What one meter keeps across restarts: the layout, its migrations and every serialiser.

Layouts (Home Assistant's ``Store`` version 1, by minor version):

- 1.1 before the ledger: a running session total and the register floor (no ``version`` key);
- 1.1 with ``"version": 2``: the half-hour ledger, registers, session, rates, statistics sums
  and the account's request times;
- 1.2: the same without the inner ``version`` (the store's own minor version says it);
- 1.3: the import register also keeps the energy counted after it (``counted_wh``), so the next
  register's move is judged against exactly what the ledger holds since; a half hour keeps
  what a gap shared into it (``shared_wh``, a tenth element);
- 1.4: the export tariff's historical rates by half hour (``export_rates``), as ``rates``.

Each is kept as a fixture under ``tests/fixtures/store/`` and loaded by the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, ONLINE_MAX_AGE
from .data import previous_month_start
from .judge import RegisterGuard
from .ledger import Bucket, Ledger, bucket_start
from .meter import MeterState
from .session import Session
from .statistics import StatisticsState

STORAGE_VERSION = 1
STORAGE_MINOR_VERSION = 4
#: A running meter is saved this often (and at shutdown), as Home Assistant saves the states it
#: restores (every 15 minutes). Two months of half hours are about 380 kB of JSON; what a power
#: cut loses of the last minutes comes back as downtime does (the fill from Kraken's rows).
SAVE_EVERY = timedelta(minutes=10)
#: What survives a meter exchange: the registers belong to the old meter; the new one is read
#: from where the old one was last counted.
KEPT_ACROSS_EXCHANGE = (
    "ledger",
    "session",
    "rates",
    "export_rates",
    "counted_through",
    "statistics",
    "requests",
)

type Stored = dict[str, Any]


class MeterStore(Store[Stored]):
    """One meter's store, migrating every earlier layout when it is loaded."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """The store of the config entry ``entry_id``."""
        super().__init__(
            hass,
            STORAGE_VERSION,
            f"{DOMAIN}.{entry_id}",
            minor_version=STORAGE_MINOR_VERSION,
        )
        self._saved_at: datetime | None = None

    def async_save_every(
        self, data: Callable[[], Stored], now: datetime, *, at_once: bool = False
    ) -> None:
        """Save now if the last save is SAVE_EVERY old (or ``at_once``), else leave it.

        Not ``async_delay_save(data, delay)`` at every slot: Home Assistant's delayed save waits
        for ``delay`` without a further call, and a meter published every 30 s never paused, so
        its store was written only at shutdown and a power cut lost the whole run.
        """
        if at_once or self._saved_at is None or now - self._saved_at >= SAVE_EVERY:
            self._saved_at = now
            self.async_delay_save(data)

    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: Stored
    ) -> Stored:
        """Bring an earlier layout to the current one (nothing recounted, nothing lost)."""
        data = dict(old_data)
        # 1.1 held two layouts; the ledger's says so in an inner "version".
        if old_minor_version < 2 and data.pop("version", None) != 2:
            data = _from_before_the_ledger(data, dt_util.utcnow())
        elif old_minor_version < 3:
            data = _count_after_the_register(data)
        data.setdefault("export_rates", {})
        return data


def _from_before_the_ledger(old: Stored, now: datetime) -> Stored:
    """Layout 1.1 before the ledger: the session's total is carried, the month back-filled.

    The half hour the old version stopped in is read live, so the session's split stays exact;
    what lies before it, back to the start of last month, is asked for from Kraken.
    """
    meter = MeterState(now)
    session = old.get("session") or {}
    if session.get("through") and session.get("started"):
        meter.session = Session(
            started=datetime.fromisoformat(session["started"]),
            counts_from=datetime.fromisoformat(session["through"]),
            carried_pence=Decimal(session.get("value", "0")),
            offset_by_time=True,
        )
    if old.get("register_wh") and old.get("register_at"):
        meter.consumption.accepted_at = datetime.fromisoformat(old["register_at"])
        meter.consumption.accepted_wh = Decimal(old["register_wh"])
    if old.get("counted_through"):
        meter.resume_after = datetime.fromisoformat(old["counted_through"])
    first = previous_month_start(now, dt_util.get_default_time_zone())
    meter.ledger.mark_pending(first, bucket_start(meter.resume_after or now - ONLINE_MAX_AGE))
    return dump(meter, StatisticsState(), requests_from_json(old.get("requests", [])))


def _count_after_the_register(old: Stored) -> Stored:
    """Layout 1.2: the readings the ledger holds after the last accepted register are counted."""
    register = old.get("consumption") or {}
    if not register.get("at"):
        return old
    after = datetime.fromisoformat(register["at"])
    counted = sum(
        (
            Decimal(wh)
            for *_, portions in old["ledger"]["buckets"]
            for at, wh, _ in portions or ()
            if datetime.fromisoformat(at) > after
        ),
        Decimal(0),
    )
    return {**old, "consumption": {**register, "counted_wh": str(counted)}}


def meter_store(hass: HomeAssistant, entry_id: str) -> MeterStore:
    """Where the meter of config entry ``entry_id`` keeps its state."""
    return MeterStore(hass, entry_id)


async def async_keep_for_new_meter(hass: HomeAssistant, entry_id: str) -> None:
    """A meter exchange: keep the ledger, session and sums; forget the old meter's registers."""
    store = meter_store(hass, entry_id)
    if (stored := await store.async_load()) is not None:
        await store.async_save({key: stored[key] for key in KEPT_ACROSS_EXCHANGE if key in stored})


# The whole -------------------------------------------------------------------------------


def counted_through(meter: MeterState) -> datetime | None:
    """The newest reading counted; until one arrives, where the previous run stopped."""
    return meter.newest.read_at if meter.newest else meter.resume_after


def dump(meter: MeterState, statistics: StatisticsState, requests: Iterable[datetime]) -> Stored:
    """Everything a meter keeps, in the current layout."""
    return {
        "ledger": ledger_to_json(meter.ledger),
        "consumption": register_to_json(meter.consumption),
        "export": register_to_json(meter.export),
        "session": session_to_json(meter.session),
        "rates": {at.isoformat(): str(rate) for at, rate in meter.rates.items()},
        "export_rates": {at.isoformat(): str(rate) for at, rate in meter.export_rates.items()},
        "counted_through": _time_or_none(counted_through(meter)),
        "statistics": statistics_to_json(statistics),
        "requests": requests_to_json(requests),
    }


def load_meter(meter: MeterState, stored: Stored) -> None:
    """Continue from a previous run (the session continues; nothing is recounted)."""
    meter.ledger = ledger_from_json(stored["ledger"])
    # An exchanged meter keeps the ledger but not the old meter's registers.
    register_from_json(meter.consumption, stored.get("consumption", {}))
    register_from_json(meter.export, stored.get("export", {}))
    meter.session = session_from_json(stored["session"])
    meter.rates = {datetime.fromisoformat(k): Decimal(v) for k, v in stored["rates"].items()}
    meter.export_rates = {
        datetime.fromisoformat(k): Decimal(v) for k, v in stored.get("export_rates", {}).items()
    }
    meter.resume_after = _parse_time(stored.get("counted_through"))
    if "consumption" not in stored:  # kept across a meter exchange (no old registers)
        meter.exchanged_from = meter.resume_after


# The parts -------------------------------------------------------------------------------


def _time_or_none(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _decimal_or_none(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _parse_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def ledger_to_json(ledger: Ledger) -> Stored:
    """The ledger's half hours, pending half hours and export anchor."""
    return {
        "buckets": [
            [
                at.isoformat(),
                str(b.import_wh),
                str(b.cost_pence),
                str(b.unpriced_wh),
                _decimal_or_none(b.export_end_wh),
                _time_or_none(b.export_end_at),
                int(b.final) | int(b.empty) << 1,
                None if b.row is None else [str(v) for v in b.row],
                None
                if b.portions is None
                else [
                    [t.isoformat(), str(wh), _decimal_or_none(c)]
                    for t, (wh, c) in b.portions.items()
                ],
                str(b.shared_wh),
            ]
            for at, b in sorted(ledger.buckets.items())
        ],
        "pending": sorted(b.isoformat() for b in ledger.pending),
        "export_anchor": _decimal_or_none(ledger.export_anchor),
    }


def ledger_from_json(data: Stored) -> Ledger:
    """Back from :func:`ledger_to_json`."""
    buckets: dict[datetime, Bucket] = {}
    for at, wh, cost, unpriced, export, export_at, flags, row, portions, *shared in data["buckets"]:
        buckets[datetime.fromisoformat(at)] = Bucket(
            shared_wh=Decimal(shared[0]) if shared else Decimal(0),
            import_wh=Decimal(wh),
            cost_pence=Decimal(cost),
            unpriced_wh=Decimal(unpriced),
            export_end_wh=_parse_decimal(export),
            export_end_at=_parse_time(export_at),
            final=bool(flags & 1),
            empty=bool(flags & 2),
            row=None if row is None else (Decimal(row[0]), Decimal(row[1]), Decimal(row[2])),
            portions=None
            if portions is None
            else {
                datetime.fromisoformat(t): (Decimal(w), _parse_decimal(c)) for t, w, c in portions
            },
        )
    return Ledger.of(
        buckets,
        pending={datetime.fromisoformat(b) for b in data.get("pending", [])},
        export_anchor=_parse_decimal(data.get("export_anchor")),
    )


def register_to_json(guard: RegisterGuard) -> Stored:
    """The last accepted register reading, and when the meter was last exchanged."""
    return {
        "at": _time_or_none(guard.accepted_at),
        "wh": _decimal_or_none(guard.accepted_wh),
        "exchanged_at": _time_or_none(guard.exchanged_at),
        "counted_wh": str(guard.counted_wh),
    }


def register_from_json(guard: RegisterGuard, data: Stored) -> None:
    """Back from :func:`register_to_json` (a half-written reading is no reading)."""
    if data.get("at") and data.get("wh"):
        guard.accepted_at = datetime.fromisoformat(data["at"])
        guard.accepted_wh = Decimal(data["wh"])
        guard.counted_wh = Decimal(data.get("counted_wh", "0"))
    guard.exchanged_at = _parse_time(data.get("exchanged_at"))


def session_to_json(session: Session) -> Stored:
    """A cost session: its start and what its first half hour held before the press."""
    return {
        "started": session.started.isoformat(),
        "counts_from": session.counts_from.isoformat(),
        "offset_pence": str(session.offset_pence),
        "offset_unpriced_wh": str(session.offset_unpriced_wh),
        "carried_pence": str(session.carried_pence),
        "offset_by_time": session.offset_by_time,
    }


def session_from_json(data: Stored) -> Session:
    """Back from :func:`session_to_json`."""
    return Session(
        started=datetime.fromisoformat(data["started"]),
        counts_from=datetime.fromisoformat(data["counts_from"]),
        offset_pence=Decimal(data["offset_pence"]),
        offset_unpriced_wh=Decimal(data["offset_unpriced_wh"]),
        carried_pence=Decimal(data["carried_pence"]),
        offset_by_time=bool(data.get("offset_by_time")),
    )


def statistics_to_json(state: StatisticsState) -> Stored:
    """The statistics' sums before the ledger's first half hour, and what is left to write."""
    return {
        "base": {kind: str(value) for kind, value in state.base.items()},
        "written": state.written,
        "unwritten_from": _time_or_none(state.unwritten_from),
    }


def statistics_from_json(data: Stored | None) -> StatisticsState:
    """Back from :func:`statistics_to_json`."""
    if not data:
        return StatisticsState()
    return StatisticsState(
        base={kind: Decimal(value) for kind, value in data.get("base", {}).items()},
        written=bool(data.get("written")),
        unwritten_from=_parse_time(data.get("unwritten_from")),
    )


def requests_to_json(sent: Iterable[datetime]) -> list[str]:
    """The account's request times of the last hour."""
    return [at.isoformat() for at in sent]


def requests_from_json(data: list[str]) -> list[datetime]:
    """Back from :func:`requests_to_json`."""
    return [datetime.fromisoformat(at) for at in data]
