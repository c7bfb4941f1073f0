"""The end-to-end test's browser steps: the dashboard and the Live card in headless Chromium.

Assertions read the DOM through the card's shadow root (Playwright's CSS locators pierce open
shadow roots) and compare it with Home Assistant's states, the integration's sample feed and the
simulator's truth. Every wait is for the very thing asserted next.

Pages run on the real clock: a running Mini's newest sample can be about 2 minutes old (30 s
publication lag, and live waits up to two 30-s slots while the back-fill borrows them), and the
card calls that live (the Online rule: 3 minutes). Only the offline check's page runs its clock
ahead (OFFLINE_CLOCK_AHEAD), so that the stopped Mini shows "offline" without a 3-minute wait.
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
from tests.e2e.harness import HarnessError, HassApi, Tokens, logged_in, until

CARD = "octopus-home-mini-card"
SUBSCRIBE = "octopus_home_mini/samples/subscribe"
LONDON = ZoneInfo("Europe/London")
LAG = timedelta(seconds=30)  # the simulator publishes a reading 30 s after it is taken
CLOCK_AHEAD = 0
#: The offline check's page: a sample is "offline" (3 minutes old) 10 s after it is read.
OFFLINE_CLOCK_AHEAD = 170
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
    browser: Browser,
    dash: Dashboard,
    *,
    slow_app: bool = False,
    clock_ahead: float = CLOCK_AHEAD,
    **options: Any,
) -> Page:
    """The dashboard, with every card the steps assert on rendered (not "Loading…").

    `slow_app` holds back Home Assistant's app bundle for 2 s, so the card's module loads
    first (as it may from a warm cache): the card must still be defined where the app sees it.
    """
    context = await logged_in(
        browser, dash.api.base_url, dash.tokens, clock_ahead=clock_ahead, **options
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


async def live_card(browser: Browser, dash: Dashboard, truth: Truth) -> None:
    """The card live: number, bars, colours, hover, a poll's new bars."""
    page = await open_dashboard(browser, dash)
    card = page.locator(CARD).first
    await expect(card.locator(".status")).to_have_text("Live")
    first_newest = (await bars(card))[-1][0]

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
    # Live is read at least every third slot (the back-fill borrows the others): 90 s, and more.
    await until(
        lambda: _newer(card, first_newest), 120, "a poll's new bars in the card", interval=0.5
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


async def newest_bar(page: Page) -> float:
    """The newest sample the open page's card shows."""
    shown = await bars(page.locator(CARD).first)
    return shown[-1][0] if shown else 0.0


async def resumes_after_restart(page: Page, dash: Dashboard, shown_before: float) -> None:
    """The dashboard stayed open while Home Assistant restarted: without a reload the card
    subscribes again by itself, and shows the integration's first sample newer than what it
    showed before (when that comes depends on the account's cadence, not on the card)."""
    card = page.locator(CARD).first

    async def integration_has_newer() -> float | None:
        state = await dash.api.state(dash.ids["last_reading"])
        try:
            newest = datetime.fromisoformat(state["state"]).timestamp() if state else 0.0
        except ValueError:  # unknown or unavailable while it starts
            return None
        return newest if newest > shown_before else None

    newest = await until(integration_has_newer, 150, "a sample newer than the card showed", 1)
    read = time.monotonic()
    try:
        await until(lambda: _newer(card, newest - 1), 15, "the open card to show it", 0.5)
    except HarnessError as err:
        shown = await bars(card)
        status = await card.locator(".status").text_content()
        warning = await card.locator(".warning").text_content()
        raise AssertionError(
            f"{err}: status {status!r}, warning {warning!r}, {len(shown)} bars, newest "
            f"{shown[-1][0] if shown else None} (the integration's {newest:.0f})"
        ) from err
    assert await page.evaluate("() => window.e2eSamePage === true"), "the page was reloaded"
    await expect(card.get_by_role("status")).to_have_text("Live")
    print(f"the open card showed the new sample {time.monotonic() - read:.1f} s after it was read")


async def energy_yesterday(browser: Browser, dash: Dashboard, truth_kwh: Decimal) -> None:
    """The Energy panel, one day back: yesterday's back-filled hours are there, and its grid
    total is what the meter read (to the panel's rounding).

    The period selector names the new day before the table has fetched it, so the table may
    still show today's total for a moment (a CI run read today's 2.02 kWh): the check waits for
    the day's figure and fails with the last one shown."""
    context = await logged_in(browser, dash.api.base_url, dash.tokens)
    page = await context.new_page()
    await page.goto(dash.api.base_url + "/energy")
    total = page.locator("hui-energy-sources-table-card tr", has_text="Grid total")
    await page.get_by_role("button", name="Previous").first.click()
    yesterday = datetime.now(LONDON) - timedelta(days=1)
    await expect(page.locator("hui-energy-period-selector")).to_contain_text(
        f"{yesterday.day} {yesterday:%b}"
    )
    seen: list[Decimal] = []

    async def shows_the_day() -> bool:
        texts = await total.all_inner_texts()  # no wait: [] while the table loads
        shown = re.search(r"([\d,]+(?:\.(\d+))?) kWh", texts[0]) if texts else None
        if shown is None:
            return False
        places = len(shown.group(2) or "")
        seen.append(Decimal(shown.group(1).replace(",", "")))
        return abs(seen[-1] - truth_kwh) <= Decimal(5) / 10 ** (places + 1)

    try:
        await until(shows_the_day, 60, "yesterday's grid total in the Energy panel", 0.5)
    except HarnessError as err:
        raise AssertionError(f"{err}: shown {seen[-3:]}, the meter read {truth_kwh}") from err
    await expect(page.get_by_text("There is no data for this period.")).to_have_count(0)
    await page.screenshot(path=dash.artifacts / "energy-yesterday.png", full_page=True)
    await context.close()


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


async def reset_and_offline(browser: Browser, dash: Dashboard, truth: Truth) -> None:
    """After the restart, with the Mini stopped: the picker, the reset button, "offline".

    This page's clock runs further ahead (OFFLINE_CLOCK_AHEAD): any sample is "offline" 10 s
    after it is read, so the card says so at once, naming the newest sample it shows (no wait
    for the Mini's last sample to be published and polled).
    """
    page = await open_dashboard(browser, dash, clock_ahead=OFFLINE_CLOCK_AHEAD)
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
    # The status and the newest bar are read together (one evaluate): the card names its own
    # newest sample, whenever the integration's last poll brought it; the bars were checked
    # against the Mini's truth above.
    seen: list[tuple[str, float]] = []

    async def offline_since_newest() -> float | None:
        status, newest = await card.evaluate(
            "c => { const r = c.shadowRoot; const bars = r.querySelectorAll('rect.bar');"
            " return [r.querySelector('[role=status]').textContent,"
            " bars.length ? Number(bars[bars.length - 1].dataset.time) : 0]; }"
        )
        seen.append((status, newest))
        expected = f"Offline since {clock_time(newest, seconds=False)}"
        return newest if newest and status == expected else None

    try:
        newest = await until(offline_since_newest, 60, "the card to say offline", 0.5)
    except HarnessError as err:
        raise AssertionError(f"{err}: status and newest bar {seen[-3:]}") from err
    final = (await truth(datetime.now(LONDON)))["latest_readable"]
    assert newest <= datetime.fromisoformat(final["read_at"]).timestamp(), (newest, final)
    assert "live" not in (await card.locator(".dot").get_attribute("class") or "")
    print(f"the card showed offline {time.monotonic() - started:.0f} s after the reset")
    await card.screenshot(path=dash.artifacts / "live-card-offline.png")
    await page.context.close()
