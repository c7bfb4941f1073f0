"""Injected faults: which ones are armed, which fire on a request, and the stale-Mini history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

TELEMETRY = "smartMeterTelemetry"

# HTTP-level faults replace (or delay) the whole GraphQL response.
TRANSPORT_KINDS = frozenset(
    {"http_502", "http_504", "http_403_html", "http_429", "timeout", "malformed_json"}
)
# Field-level faults turn one root field into a Kraken error; None = every root field.
FIELD_KINDS: dict[str, str | None] = {
    "outage": TELEMETRY,
    "network": TELEMETRY,
    "no_han": TELEMETRY,
    "rate_limit_telemetry": TELEMETRY,
    "internal": None,
    "rate_limit": None,
    "rate_limit_backend": None,
}
# One-shot actions applied when set; "stale" opens a window in which the Mini uploads nothing.
ACTION_KINDS = frozenset({"expire_tokens", "revoke_refresh_tokens"})
FAULT_KINDS = TRANSPORT_KINDS | FIELD_KINDS.keys() | ACTION_KINDS | {"stale"}


@dataclass(slots=True)
class Fault:
    """An armed fault; ``count`` counts down per matching request."""

    kind: str
    count: int | None = None
    until: datetime | None = None
    operation: str | None = None
    seconds: float | None = None

    def matches(self, operation_name: str | None, root_fields: Sequence[str]) -> bool:
        """Whether a request with this operation name and root fields is affected."""
        if self.operation not in (None, operation_name, *root_fields):
            return False
        target = FIELD_KINDS.get(self.kind)
        return target is None or target in root_fields


@dataclass(slots=True)
class StaleWindow:
    """The Home Mini uploaded nothing with read_at in [start, end); end None = still stale."""

    start: datetime
    end: datetime | None


class FaultBook:
    """Armed faults plus the history of stale windows (gaps stay after recovery)."""

    def __init__(self) -> None:
        self.armed: list[Fault] = []
        self.stale: list[StaleWindow] = []

    def arm(self, fault: Fault, now: datetime) -> None:
        """Arm a transport/field fault, or open a stale window."""
        if fault.kind == "stale":
            self.stale.append(StaleWindow(now, fault.until))  # count does not apply
        else:
            self.armed.append(fault)

    def clear(self, now: datetime) -> None:
        """Disarm everything and end any open stale window now."""
        self.armed.clear()
        for window in self.stale:
            if window.end is None or window.end > now:
                window.end = now

    def fire(
        self,
        kinds: frozenset[str] | dict[str, str | None],
        operation_name: str | None,
        root_fields: Sequence[str],
        now: datetime,
    ) -> list[Fault]:
        """Faults of ``kinds`` that apply to this request; counts are consumed."""
        self.armed = [f for f in self.armed if f.until is None or now < f.until]
        fired = [
            f for f in self.armed if f.kind in kinds and f.matches(operation_name, root_fields)
        ]
        for fault in fired:
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.armed.remove(fault)
        return fired
