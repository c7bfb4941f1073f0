"""The Live card is served from the integration's folder and loaded by the frontend."""

import re
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.octopus_home_mini.card import CARD_DIR, CARD_MODULE
from tests.common import Sim, setup_entry
from tests.simulator import TWOMETERS


async def test_card_is_served_and_loaded(
    hass: HomeAssistant, frozen_sim: Sim, hass_client: ClientSessionGenerator
) -> None:
    """Every page loads the card's module (once for two meters), from a versioned path."""
    _, url = frozen_sim
    assert await async_setup_component(hass, "frontend", {})
    await setup_entry(hass, url, TWOMETERS, 0)
    await setup_entry(hass, url, TWOMETERS, 1)
    client = await hass_client()

    # An onboarded instance serves the app's page (otherwise the onboarding wizard's).
    with patch("homeassistant.components.onboarding.async_is_onboarded", return_value=True):
        page = await (await client.get("/lovelace/0")).text()
    (module_url,) = re.findall(
        r'import\("(/octopus_home_mini/frontend/[0-9a-f]{12}/[^"]+)"\)', page
    )
    assert module_url.endswith(f"/{CARD_MODULE}")

    response = await client.get(module_url)
    assert response.status == 200
    assert "javascript" in response.headers["Content-Type"]
    assert "max-age" in response.headers["Cache-Control"]
    assert await response.text() == (CARD_DIR / CARD_MODULE).read_text()
    logic = await client.get(module_url.replace(CARD_MODULE, "octopus-home-mini-logic.js"))
    assert logic.status == 200
