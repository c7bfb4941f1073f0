"""The repairs a meter raises: their ids, and raising or clearing them, in one place."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import CONF_SERIAL_NUMBER, DOMAIN, LOGGER, STALE_REPAIR_AFTER
from .data import HomeMiniData

ISSUE_NOT_REPORTING = "home_mini_not_reporting"
ISSUE_MISSING = "home_mini_missing"
ISSUE_EXCHANGED = "meter_exchanged"
ISSUE_METER_REPLACED = "meter_replaced"

#: How long the "meter exchanged" notice stays up unless dismissed.
EXCHANGE_NOTICE = timedelta(days=7)


def issue_id(kind: str, entry_id: str) -> str:
    """A meter's issue of one kind: one per entry."""
    return f"{kind}_{entry_id}"


class MeterIssues:
    """One meter's notices (none fixable): raised or cleared only when they change."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any], started: datetime) -> None:
        """The meter's entry names the issues and the meter in their text; ``started``: when
        this run began (a Mini never heard from is quiet since then)."""
        self._hass = hass
        self._entry = entry
        self._started = started
        self._active: set[str] = set()
        self._export_missing_told = False
        self._mini_online: bool | None = None

    def note(
        self, data: HomeMiniData, now: datetime, *, gas: bool, exchanged_at: datetime | None
    ) -> None:
        """The notices that follow from what the meter holds now."""
        self._note_online(data.is_online(now))
        newest = data.newest
        no_register = data.export_tariff and newest and newest.export_wh is None
        if no_register and not self._export_missing_told:  # nothing to repair: say it once
            self._export_missing_told = True
            LOGGER.info(
                "%s has an export tariff but its meter reports no export register: "
                "export and earnings stay unavailable",
                self._entry.title,
            )
        quiet_for = data.online_within if gas else max(STALE_REPAIR_AFTER, 2 * data.online_within)
        heard = newest.read_at if newest else self._started
        self.set(ISSUE_NOT_REPORTING, active=now - heard >= quiet_for)
        self.set(
            ISSUE_EXCHANGED,
            active=exchanged_at is not None and now - exchanged_at < EXCHANGE_NOTICE,
        )

    def _note_online(self, online: bool) -> None:
        """The API answers but the Mini went quiet (or came back): say so once, at info."""
        if self._mini_online is not None and online != self._mini_online:
            if online:
                LOGGER.info("Home Mini %s is reporting again", self._entry.title)
            else:
                LOGGER.info("Home Mini %s has sent no reading for 3 minutes", self._entry.title)
        self._mini_online = online

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
