"""The end-to-end test's browser steps: the dashboard and the Live card in headless Chromium.

Assertions read the DOM through the card's shadow root (Playwright's CSS locators pierce open
shadow roots) and compare it with Home Assistant's states, the integration's sample feed and the
simulator's truth. Every wait is for the very thing asserted next.

The page's clock runs CLOCK_AHEAD seconds ahead of the real one, so "offline" (newest sample 3
minutes old) shows about 100 s sooner once the Mini stops. A running Mini's newest sample is at
most ~70 s old (30 s publication lag + a 30-s poll + a 10-s slot), so the card still shows it as
live: the test checks that before the Mini stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
import re
import time
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Locator, Page, Route, expect

from custom_components.octopus_home_mini.const import DEMAND_LEVELS
from tests.e2e.harness import HassApi, Tokens, logged_in, until

CARD = "octopus-home-mini-card"
SUBSCRIBE = "octopus_home_mini/samples/subscribe"
LONDON = ZoneInfo("Europe/London")
LAG = timedelta(seconds=30)  # the simulator publishes a reading 30 s after it is taken
CLOCK_AHEAD = 100
WINDOW_S = 300  # the card's default window
#: The band colours the README's gauge recipe documents; export has its own.
BAND_COLOURS = {
    "low": "#43a047",
    "normal": "#1e88e5",
    "moderate": "#fdd835",
    "high": "#fb8c00",
    "very_high": "#e53935",
}
EXPORT_COLOUR = "#8e24aa"

expect.set_options(timeout=30_000)

#: Why a card is missing: is the element defined, did its files load, what do error cards say.
DIAGNOSE_JS = """() => {
  const errors = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.localName.startsWith("hui-error")) errors.push(el.shadowRoot?.textContent ?? "");
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return {
    defined: Boolean(customElements.get("octopus-home-mini-card")),
    pickerEntries: (window.customCards || []).map((card) => card.type),
    files: performance.getEntriesByType("resource").filter((e) => e.name.includes("octopus"))
      .map((e) => [e.name, e.responseStatus, Math.round(e.startTime), Math.round(e.duration)]),
    errorCards: errors.map((text) => text.replace(/\\s+/g, " ").trim()),
  };
}"""

type Truth = Callable[[datetime], Awaitable[dict[str, Any]]]


@dataclass
class Dashboard:
    """What the browser steps need to know."""

    api: HassApi
    tokens: Tokens
    path: str
    ids: dict[str, str]
    title: str
    artifacts: Path
    workdir: Path

    @property
    def url(self) -> str:
        """The dashboard view's address."""
        return self.api.base_url + self.path


def colour_for(watts: Decimal) -> str:
    """The colour of a demand's band."""
    if watts < 0:
        return EXPORT_COLOUR
    for level, upper in DEMAND_LEVELS:
        if upper is None or watts < upper:
            return BAND_COLOURS[level]
    raise AssertionError("no band")  # pragma: no cover


def clock_time(epoch: float, seconds: bool = True) -> str:
    """A sample's time as the card shows it (Home Assistant's zone, 24 h)."""
    return datetime.fromtimestamp(epoch, LONDON).strftime("%H:%M:%S" if seconds else "%H:%M")


async def bars(card: Locator) -> list[list[float]]:
    """The chart's bars as [epoch s, W], in order."""
    result: list[list[float]] = await card.locator("rect.bar").evaluate_all(
        "rects => rects.map(r => [Number(r.dataset.time), Number(r.dataset.watts)])"
    )
    return result


async def open_dashboard(
    browser: Browser, dash: Dashboard, *, slow_app: bool = False, **options: Any
) -> Page:
    """The dashboard, with every card the steps assert on rendered (not "Loading…").

    `slow_app` holds back Home Assistant's app bundle for 2 s, so the card's module loads
    first (as it may from a warm cache): the card must still be defined where the app sees it.
    """
    context = await logged_in(
        browser, dash.api.base_url, dash.tokens, clock_ahead=CLOCK_AHEAD, **options
    )
    if slow_app:

        async def later(route: Route) -> None:
            await asyncio.sleep(2)
            await route.continue_()

        await context.route(re.compile(r"/frontend_latest/app\.\w+\.js$"), later)
    page = await context.new_page()
    log = dash.workdir / "browser.log"  # kept in .artifacts/e2e/ with the other logs

    def keep(line: str) -> None:
        with log.open("a") as out:
            out.write(f"{datetime.now(LONDON):%H:%M:%S.%f} {line}\n")

    page.on("console", lambda message: keep(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: keep(f"page error: {error}"))
    page.on("requestfailed", lambda request: keep(f"request failed: {request.url}"))
    await page.goto(dash.url)
    await expect(page.locator("hui-gauge-card")).to_contain_text("Demand")
    await expect(page.locator("hui-entities-card .card-header")).to_have_text(dash.title)
    await expect(page.locator("hui-history-graph-card")).to_contain_text("Demand, last hour")
    try:
        await expect(page.locator(f"{CARD} rect.bar").first).to_be_attached()
    except AssertionError as err:
        raise AssertionError(f"no Live card: {await page.evaluate(DIAGNOSE_JS)}") from err
    return page


async def live_card(
    browser: Browser, dash: Dashboard, truth: Truth, stop_mini: Callable[[], Awaitable[None]]
) -> None:
    """The card live: number, bars, colours, hover, a poll's new bars; then the Mini stops."""
    page = await open_dashboard(browser, dash)
    card = page.locator(CARD).first
    await expect(card.locator(".status")).to_have_text("Live")
    first_newest = (await bars(card))[-1][0]

    await stop_mini()  # what it read so far is still published over the next 30 s
    await _shows_the_demand(card, dash)
    shown = await _one_bar_per_sample(card, dash)
    for when, watts in (shown[0], shown[len(shown) // 2], shown[-1]):
        sample = (await truth(datetime.fromtimestamp(when, LONDON) + LAG))["latest_readable"]
        assert datetime.fromisoformat(sample["read_at"]).timestamp() == when
        assert Decimal(sample["demand_w"]) == Decimal(str(watts))
    fills = await card.locator("rect.bar").evaluate_all(
        "rects => rects.map(r => [Number(r.dataset.watts), r.getAttribute('fill')])"
    )
    assert fills
    for watts, fill in fills:
        assert fill == colour_for(Decimal(str(watts))), (watts, fill)
    band = await card.locator(".band").text_content()
    assert band in {"Low", "Normal", "Moderate", "High", "Very high"}, band

    # Hover: the tooltip names the sample's time and demand.
    when, watts = shown[-5]
    await card.locator(f'rect.bar[data-time="{int(when)}"]').hover()
    tooltip = card.locator(".tooltip")
    await expect(tooltip).to_be_visible()
    await expect(tooltip).to_have_text(f"{clock_time(when)} · {round(watts):,} W")
    assert await card.get_by_role("img").get_attribute("aria-label")
    await expect(card.get_by_role("status")).to_have_text("Live")

    # Every poll brings its bars, pushed over the websocket (no reload).
    await until(
        lambda: _newer(card, first_newest), 75, "a poll's new bars in the card", interval=0.5
    )
    await card.screenshot(path=dash.artifacts / "live-card-light.png")
    await page.screenshot(path=dash.artifacts / "dashboard.png")
    await page.context.close()

    # Dark theme, on a 360-px phone: the card fits without scrolling sideways.
    page = await open_dashboard(browser, dash, slow_app=True, color_scheme="dark", width=360)
    card = page.locator(CARD).first
    await expect(card.locator(".status")).to_have_text("Live")
    width, scroll, client = await card.evaluate(
        "c => { const h = c.shadowRoot.querySelector('ha-card');"
        " return [h.getBoundingClientRect().width, h.scrollWidth, h.clientWidth]; }"
    )
    assert width <= 360, width
    assert scroll <= client, (scroll, client)
    await card.screenshot(path=dash.artifacts / "live-card-dark.png")
    await page.context.close()


async def _newer(card: Locator, than: float) -> bool:
    shown = await bars(card)
    return bool(shown) and shown[-1][0] > than and len(shown) <= WINDOW_S // 10


async def _shows_the_demand(card: Locator, dash: Dashboard) -> None:
    """The big number is the Demand entity's state (read on both sides of it, unchanged)."""

    async def same() -> str | None:
        before = await dash.api.state(dash.ids["demand"])
        shown = await card.locator(".demand .value").text_content()
        after = await dash.api.state(dash.ids["demand"])
        assert before is not None
        assert after is not None
        if before["state"] != after["state"]:
            return None
        expected = f"{Decimal(before['state']):,.0f}"
        return shown if shown == expected else None

    await until(same, 30, "the card to show the Demand entity's value", interval=0.5)


async def _one_bar_per_sample(card: Locator, dash: Dashboard) -> list[list[float]]:
    """The bars are exactly the integration's samples of the last 5 minutes, none missing."""
    async with dash.api.ws() as ws:
        entity = await ws.call("config/entity_registry/get", entity_id=dash.ids["demand"])

        async def agree() -> list[list[float]] | None:
            feed = (await ws.first_event(SUBSCRIBE, device_id=entity["device_id"]))["samples"]
            shown = await bars(card)
            newest = feed[-1][0]
            expected = [pair for pair in feed if pair[0] > newest - WINDOW_S]
            return shown if shown == expected else None

        shown = await until(agree, 30, "the card's bars to be the feed's samples", interval=0.5)
    assert len(shown) >= 27, len(shown)  # the first poll reaches back 5 minutes
    times = [when for when, _ in shown]
    assert times == [shown[0][0] + 10 * i for i in range(len(shown))], "a 10-s sample missing"
    return shown


async def picker_adds_the_card(page: Page, dash: Dashboard) -> None:
    """A new user's way in: Add card → By card → search → the live preview → click, Save."""
    await page.goto(dash.url + "?edit=1")
    await page.get_by_role("button", name="Add card").first.click()
    await page.get_by_role("tab", name="By card").click()
    await page.get_by_placeholder("Search cards").fill("Octopus")
    option = page.locator("hui-card-picker .card", has_text="Octopus Home Mini Live")
    preview = option.locator(CARD)
    await expect(preview.locator(".demand .value")).to_have_text(re.compile(r"^[\d,]+$"))
    await expect(preview.locator("rect.bar").first).to_be_attached()
    await option.click()  # first click
    await page.get_by_role("button", name="Save").click()  # second click
    await expect(page.get_by_role("button", name="Save")).to_have_count(0)
    async with dash.api.ws() as ws:
        saved = await ws.call("lovelace/config", url_path=dash.path.split("/")[1])
    cards = [c for c in saved["views"][0]["cards"] if c["type"] == f"custom:{CARD}"]
    assert len(cards) == 2, cards
    assert cards[-1]["entity"] == dash.ids["demand"], cards[-1]
    await page.get_by_role("button", name="Done").click()


async def reset_and_offline(browser: Browser, dash: Dashboard) -> None:
    """After the restart, with the Mini stopped: the picker, the reset button, "offline"."""
    page = await open_dashboard(browser, dash)
    await picker_adds_the_card(page, dash)
    card = page.locator(CARD).first
    await expect(card.locator("rect.bar").first).to_be_attached()

    session = dash.ids["session_cost"]
    before = await dash.api.state(session)
    assert before is not None
    assert Decimal(before["state"]) > 0, before  # so that zero means the reset worked
    await card.get_by_role("button", name="Reset the session cost to zero").click()
    await expect(card.locator('[data-cost="session_cost"]')).to_have_text("£0.00")
    after = await dash.api.state(session)
    assert after is not None
    assert Decimal(after["state"]) == 0, after
    assert after["attributes"]["last_reset"] > before["attributes"]["last_reset"]

    started = time.monotonic()
    status = card.get_by_role("status")
    await expect(status).to_have_text(re.compile(r"^Offline since \d\d:\d\d$"), timeout=90_000)
    # Read once offline: with the Mini stopped no newer reading can arrive after this read, so
    # the card and the state are compared at one moment (not across a late reading).
    last = await dash.api.state(dash.ids["last_reading"])
    assert last is not None
    newest = datetime.fromisoformat(last["state"]).timestamp()
    await expect(status).to_have_text(f"Offline since {clock_time(newest, seconds=False)}")
    assert "live" not in (await card.locator(".dot").get_attribute("class") or "")
    print(f"the card showed offline {time.monotonic() - started:.0f} s after the reset")
    await card.screenshot(path=dash.artifacts / "live-card-offline.png")
    await page.context.close()
