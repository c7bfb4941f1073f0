"""Running sums that take each reading once, in exact decimal arithmetic."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any


@dataclass
class RunningTotal:
    """A sum since ``started``; a reading counts only if it is newer than ``through``."""

    started: datetime
    through: datetime
    value: Decimal = field(default_factory=Decimal)

    @classmethod
    def starting(cls, at: datetime) -> RunningTotal:
        """An empty total whose first reading may be stamped exactly ``at``."""
        return cls(started=at, through=at - timedelta(microseconds=1))

    def add(self, read_at: datetime, amount: Decimal) -> None:
        """Add a reading's amount unless it was counted already or precedes the start."""
        if read_at > self.through:
            self.value += amount
            self.through = read_at

    def as_dict(self) -> dict[str, Any]:
        """For storage."""
        return {
            "started": self.started.isoformat(),
            "through": self.through.isoformat(),
            "value": str(self.value),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunningTotal:
        """From storage."""
        return cls(
            started=datetime.fromisoformat(data["started"]),
            through=datetime.fromisoformat(data["through"]),
            value=Decimal(data["value"]),
        )
