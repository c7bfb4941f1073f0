"""The Live card: served from the integration's folder and loaded by every dashboard."""

from __future__ import annotations

import hashlib
from pathlib import Path

from homeassistant.components.frontend import add_extra_js_url
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant

from .const import DOMAIN

CARD_DIR = Path(__file__).parent / "frontend"
CARD_MODULE = "octopus-home-mini-card.js"


def _fingerprint() -> str:
    """A short hash of the card's files (blocking I/O: run in the executor)."""
    digest = hashlib.sha256()
    for path in sorted(CARD_DIR.glob("*.js")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


async def async_register_card(hass: HomeAssistant) -> str:
    """Serve the card's folder and have the frontend load it; returns the module's URL.

    The version is part of the path rather than a `?v=` query, so the card's relative import
    of its logic module is cache-busted too; the files are then cached for a month.
    """
    base = f"/{DOMAIN}/frontend/{await hass.async_add_executor_job(_fingerprint)}"
    await hass.http.async_register_static_paths(
        [StaticPathConfig(base, str(CARD_DIR), cache_headers=True)]
    )
    url = f"{base}/{CARD_MODULE}"
    add_extra_js_url(hass, url)
    return url
