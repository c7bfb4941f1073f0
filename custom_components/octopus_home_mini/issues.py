"""The repairs a meter raises: their ids, and raising or clearing them, in one place."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import CONF_SERIAL_NUMBER, DOMAIN

ISSUE_NOT_REPORTING = "home_mini_not_reporting"
ISSUE_MISSING = "home_mini_missing"
ISSUE_EXCHANGED = "meter_exchanged"
ISSUE_METER_REPLACED = "meter_replaced"


def issue_id(kind: str, entry_id: str) -> str:
    """A meter's issue of one kind: one per entry."""
    return f"{kind}_{entry_id}"


class MeterIssues:
    """One meter's notices (none fixable): raised or cleared only when they change."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
        """The meter's entry names the issues and the meter in their text."""
        self._hass = hass
        self._entry = entry
        self._active: set[str] = set()

    def set(self, kind: str, *, active: bool) -> None:
        """Raise or clear the meter's issue of ``kind``."""
        if active == (kind in self._active):
            return
        key = issue_id(kind, self._entry.entry_id)
        if active:
            self._active.add(kind)
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                key,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=kind,
                translation_placeholders={"meter": self._entry.title},
            )
        else:
            self._active.discard(kind)
            ir.async_delete_issue(self._hass, DOMAIN, key)


def async_offer_new_meter(
    hass: HomeAssistant, entry: ConfigEntry[Any], new: dict[str, str | None]
) -> None:
    """The fixable issue: the entry's meter was exchanged for ``new`` (its id and serial)."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(ISSUE_METER_REPLACED, entry.entry_id),
        is_fixable=True,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_METER_REPLACED,
        translation_placeholders={"meter": entry.title, "serial": str(new[CONF_SERIAL_NUMBER])},
        data={"entry_id": entry.entry_id, **new},
    )


def async_clear(hass: HomeAssistant, entry_id: str, *kinds: str) -> None:
    """Delete a meter's issues of these kinds (all kinds when none is named)."""
    registry = ir.async_get(hass)
    for domain, key in list(registry.issues):
        if domain != DOMAIN:
            continue
        if any(key == issue_id(kind, entry_id) for kind in kinds) or (
            not kinds and key.endswith(f"_{entry_id}")
        ):
            ir.async_delete_issue(hass, DOMAIN, key)
