"""A real Home Assistant beside the Kraken simulator, for the end-to-end test and `scripts/develop`.

Both run as subprocesses on 127.0.0.1 and are stopped by their recorded PIDs:

* ``python -m tests.simulator --port 0`` - the Kraken double on the wall clock;
* ``hass --skip-pip --config <dir>`` - Home Assistant from .venv with a fresh config directory
  whose ``custom_components`` is a link to this repository's.

Home Assistant is then driven only through the HTTP and websocket APIs its frontend uses:
onboarding, the config flow (with ``show_advanced_options``; the API URL sits in the collapsed
``advanced`` section), a storage-mode dashboard and the Energy preferences. The system's headless
Chromium is driven by Playwright (its PyPI wheel bundles the driver; no browser is downloaded).

    python -m tests.e2e.harness develop        # what scripts/develop runs
    python -m tests.e2e.harness requirements   # pinned packages Home Assistant needs here
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Literal

import aiohttp
from playwright.async_api import Browser, BrowserContext, async_playwright

from custom_components.octopus_home_mini.statistics import statistic_id, statistic_prefix
from tests.simulator import SINGLE

REPO = Path(__file__).resolve().parents[2]
#: .venv/bin: the interpreter running this and Home Assistant's `hass` script beside it.
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
DOMAIN = "octopus_home_mini"
DASHBOARD = "home-mini"

#: The integrations configuration.yaml names, on top of Home Assistant's own defaults
#: (bootstrap.DEFAULT_INTEGRATIONS, always loaded: frontend, person, the base platforms, ...).
#: Not `default_config`: it adds integrations that talk to the LAN or the internet (zeroconf,
#: ssdp, dhcp, bluetooth, cloud, homeassistant_alerts, go2rtc) or need more native packages
#: (stream: av; bluetooth: dbus).
COMPONENTS = ("frontend", "config", "api", "energy", "history", "logbook", "recorder")
#: assist_pipeline pins pymicro-vad 1.0.1 and pyspeex-noise 1.0.2, which come only as source
#: for Python 3.14 and need Python's C headers to build (scripts/setup's private Python has
#: none). Without them
#: assist_pipeline cannot be imported, and then neither can assist_satellite, which the
#: `get_services` websocket command imports: the frontend would never finish loading. The 2.x
#: releases are abi3 wheels with the same classes; their methods were renamed, so a voice
#: pipeline would fail at run time, but nothing here uses voice.
SUBSTITUTES = {"pymicro-vad": "pymicro-vad==2.1.0", "pyspeex-noise": "pyspeex-noise==2.0.1"}

CONFIGURATION_YAML = (
    "# Written by tests/e2e/harness.py; the directory is recreated on every run.\n"
    + "".join(f"{name}:\n" for name in COMPONENTS)
    + f"""
logger:
  default: warning
  logs:
    # Debug, so the no-secrets check of the end-to-end test sees everything we log.
    custom_components.{DOMAIN}: debug
"""
)

#: What the onboarding wizard's location step sends (config/core/update).
CORE_CONFIG = {
    "location_name": "Home",
    "latitude": 51.5072,
    "longitude": -0.1276,
    "elevation": 11,
    "unit_system": "metric",
    "time_zone": "Europe/London",
    "currency": "GBP",
    "country": "GB",
    "language": "en",
}

#: Chromium offline: everything but loopback goes to a closed proxy port and every host name
#: but 127.0.0.1 fails to resolve. (Playwright adds --headless and its own automation flags.)
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--no-default-browser-check",
    "--no-pings",
    "--mute-audio",
    "--hide-scrollbars",
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


class HarnessError(RuntimeError):
    """Something the harness waited for did not happen."""


# --- processes ------------------------------------------------------------------------------


@dataclass
class Proc:
    """A child process started by the harness, in its own session, known by its PID."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    group_cleared: bool = False

    @property
    def pid(self) -> int:
        """The recorded process id."""
        return self.popen.pid

    def running(self) -> bool:
        """Whether it has not exited yet."""
        return self.popen.poll() is None

    def send_signal(self, signum: int) -> None:
        """Send a signal to this PID (never by name)."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    async def stop(self, grace: float = 30) -> int:
        """SIGTERM, wait up to `grace` s, then SIGKILL; returns the exit code."""
        self.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.running():
            if time.monotonic() > deadline:
                self.send_signal(signal.SIGKILL)
                break
            await asyncio.sleep(0.1)
        code = self.wait(10)
        self.clear_group()
        return code

    def wait(self, timeout: float) -> int:
        """Reap the process (blocking, at most `timeout` s)."""
        return self.popen.wait(timeout)

    def kill(self) -> None:
        """Last resort for teardown: SIGKILL by PID and reap."""
        self.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)
        self.clear_group()

    def clear_group(self) -> None:
        """Once, right after reaping: SIGKILL what is left of its process group (e.g. Chromium's
        renderers). The group's id is the recorded PID (the process led a session of its own),
        and the group exists only while one of its own processes still runs.
        """
        if self.group_cleared or self.running():
            return
        self.group_cleared = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def tail(self, lines: int = 40) -> str:
        """The end of its output, for error messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(name: str, args: list[str], log: Path, cwd: Path) -> Proc:
    """Start a subprocess with stdout and stderr to `log`, in a new session.

    A new session keeps Ctrl-C in a terminal away from it: the harness stops it, in order.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        popen = subprocess.Popen(
            args,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(name, popen, log)


@dataclass
class Processes:
    """Everything started, stopped newest first; also written to a PID file when given one."""

    pid_file: Path | None = None
    procs: list[Proc] = field(default_factory=list)

    def add(self, proc: Proc) -> Proc:
        """Remember a started process."""
        self.procs.append(proc)
        self._write()
        return proc

    def _write(self) -> None:
        if self.pid_file is not None:
            live = [f"{proc.name} {proc.pid}\n" for proc in self.procs if proc.running()]
            self.pid_file.write_text("".join(live))

    async def stop_all(self) -> None:
        """Stop every process, newest first (Home Assistant before the simulator)."""
        try:
            for proc in reversed(self.procs):
                await proc.stop()
        finally:
            self.kill_all()

    def kill_all(self) -> None:
        """SIGKILL whatever is still running (teardown after a failure); forget them all."""
        for proc in reversed(self.procs):
            proc.kill()
        self.procs.clear()
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:`port` can be bound (as a server does: TIME_WAIT does not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


async def until[T](
    check: Callable[[], Awaitable[T | None]], within: float, what: str, interval: float = 0.25
) -> T:
    """Poll `check` until it returns something truthy; connection errors count as not yet."""
    deadline = time.monotonic() + within
    last_error: Exception | None = None
    while True:
        try:
            result = await check()
        except (aiohttp.ClientError, OSError, json.JSONDecodeError) as err:
            result, last_error = None, err
        if result:
            return result
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {within:.0f} s waiting for {what} ({last_error})")
        await asyncio.sleep(interval)


# --- the simulator --------------------------------------------------------------------------


def start_simulator(log: Path, retention_days: float = 14) -> Proc:
    """`python -m tests.simulator` on a port it picks; Kraken keeps ``retention_days``."""
    args = [sys.executable, "-m", "tests.simulator", "--port", "0", "--host", HOST]
    args += ["--retention-days", str(retention_days)]
    return spawn("simulator", args, log, REPO)


async def simulator_url(proc: Proc, within: float = 30) -> str:
    """The base URL from the simulator's first line of output."""
    prefix = "Kraken simulator listening on "

    async def check() -> str | None:
        if not proc.running():
            raise HarnessError(f"the simulator exited:\n{proc.tail()}")
        for line in proc.log.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return line.removeprefix(prefix).strip()
        return None

    return await until(check, within, "the simulator to listen")


# --- Home Assistant -------------------------------------------------------------------------


def http_storage(port: int) -> dict[str, Any]:
    """`.storage/http` with the port and a loopback-only bind, as confirmed ("stable") config.

    An `http:` block in configuration.yaml would be migrated to a *pending* config that Home
    Assistant reverts after 5 minutes unless promoted; a stable stored config has no trial.
    """
    from homeassistant.components.http import config as http_config  # noqa: PLC0415

    stable = http_config.HTTP_STORAGE_SCHEMA({"server_host": [HOST], "server_port": port})
    stable |= {"created_at": datetime.now(UTC).isoformat(), "error": None, "error_message": None}
    return {
        "version": http_config.STORAGE_VERSION,
        "minor_version": http_config.STORAGE_MINOR_VERSION,
        "key": http_config.STORAGE_KEY,
        "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
    }


def prepare_config(config: Path, port: int) -> None:
    """A fresh config directory: configuration.yaml, the HTTP port, our custom_components."""
    shutil.rmtree(config, ignore_errors=True)
    (config / ".storage").mkdir(parents=True)
    (config / "configuration.yaml").write_text(CONFIGURATION_YAML)
    (config / ".storage" / "http").write_text(json.dumps(http_storage(port), indent=2))
    (config / "custom_components").symlink_to(REPO / "custom_components", target_is_directory=True)


def start_hass(config: Path, log: Path) -> Proc:
    """The real `hass` of this virtualenv; it never pip-installs anything."""
    hass = BIN / "hass"
    args = [str(hass)] if hass.exists() else [sys.executable, "-m", "homeassistant"]
    args += ["--config", str(config), "--skip-pip", "--log-no-color"]
    return spawn("hass", args, log, config)


@dataclass(frozen=True)
class Tokens:
    """What /auth/token returned."""

    access_token: str
    refresh_token: str
    expires_in: int


class WsClient:
    """Home Assistant's websocket API, one command at a time."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Wrap an authenticated websocket."""
        self._ws = ws
        self._id = 0

    async def call(self, kind: str, **payload: Any) -> Any:
        """Send a command and return its result; raise on an error result."""
        self._id += 1
        await self._ws.send_json({"id": self._id, "type": kind, **payload})
        while True:
            message = await self._ws.receive_json(timeout=60)
            if message.get("id") != self._id or message.get("type") != "result":
                continue
            if not message["success"]:
                raise HarnessError(f"{kind} failed: {message['error']}")
            return message["result"]

    async def first_event(self, kind: str, **payload: Any) -> Any:
        """Subscribe, return the subscription's first event, unsubscribe."""
        await self.call(kind, **payload)
        subscription = self._id
        while True:
            message = await self._ws.receive_json(timeout=60)
            if message.get("id") == subscription and message.get("type") == "event":
                break
        await self.call("unsubscribe_events", subscription=subscription)
        return message["event"]


class HassApi:
    """Home Assistant at `base_url`, as its frontend talks to it."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        """No token until onboarding (or `login`) provides one."""
        self.session = session
        self.base_url = base_url
        self.client_id = f"{base_url}/"
        self.tokens: Tokens | None = None

    def headers(self) -> dict[str, str]:
        """The bearer token, once there is one."""
        if self.tokens is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens.access_token}"}

    async def get(self, path: str) -> Any:
        """GET a JSON API path; raises on HTTP errors."""
        async with self.session.get(self.base_url + path, headers=self.headers()) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST JSON, return JSON; raises on HTTP errors (with the body in the message)."""
        async with self.session.post(
            self.base_url + path, json=body or {}, headers=self.headers()
        ) as resp:
            if resp.status >= 400:
                raise HarnessError(f"POST {path}: HTTP {resp.status}: {await resp.text()}")
            return await resp.json()

    async def delete(self, path: str) -> None:
        """DELETE a path; raises on HTTP errors."""
        async with self.session.delete(self.base_url + path, headers=self.headers()) as resp:
            resp.raise_for_status()

    async def state(self, entity_id: str) -> dict[str, Any] | None:
        """An entity's state, or None while it has none."""
        async with self.session.get(
            f"{self.base_url}/api/states/{entity_id}", headers=self.headers()
        ) as resp:
            if resp.status == 404:
                return None
            resp.raise_for_status()
            return dict(await resp.json())

    @contextlib.asynccontextmanager
    async def ws(self) -> AsyncIterator[WsClient]:
        """An authenticated websocket connection."""
        assert self.tokens is not None, "log in first"
        async with self.session.ws_connect(f"{self.base_url}/api/websocket") as ws:
            hello = await ws.receive_json(timeout=30)
            assert hello["type"] == "auth_required", hello
            await ws.send_json({"type": "auth", "access_token": self.tokens.access_token})
            answer = await ws.receive_json(timeout=30)
            if answer["type"] != "auth_ok":
                raise HarnessError(f"websocket auth failed: {answer}")
            yield WsClient(ws)

    async def wait_up(self, within: float = 60) -> None:
        """Until the HTTP server answers (/manifest.json needs no login)."""

        async def check() -> bool:
            async with self.session.get(f"{self.base_url}/manifest.json") as resp:
                return resp.status == 200

        await until(check, within, f"Home Assistant at {self.base_url}")

    async def wait_running(self, within: float = 60) -> None:
        """Until start-up has finished (every integration set up); needs a token."""

        async def check() -> bool:
            return (await self.get("/api/config")).get("state") == "RUNNING"

        await until(check, within, "Home Assistant to finish starting")

    async def _token(self, code: str) -> Tokens:
        data = {"grant_type": "authorization_code", "code": code, "client_id": self.client_id}
        async with self.session.post(f"{self.base_url}/auth/token", data=data) as resp:
            if resp.status != 200:
                raise HarnessError(f"/auth/token: HTTP {resp.status}: {await resp.text()}")
            body = await resp.json()
        return Tokens(body["access_token"], body["refresh_token"], int(body["expires_in"]))

    async def login(self, username: str, password: str) -> Tokens:
        """The login page's calls: a login flow with the Home Assistant auth provider."""
        flow = await self.post(
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.base_url}/?auth_callback=1",
            },
        )
        done = await self.post(
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": self.client_id, "username": username, "password": password},
        )
        if done.get("type") != "create_entry":
            raise HarnessError(f"login failed: {done}")
        self.tokens = await self._token(done["result"])
        return self.tokens

    async def onboard(self, name: str, username: str, password: str) -> Tokens:
        """The onboarding wizard's calls, in its order: user, location, analytics, done."""
        user = await self.post(
            "/api/onboarding/users",
            {
                "client_id": self.client_id,
                "name": name,
                "username": username,
                "password": password,
                "language": "en",
            },
        )
        self.tokens = await self._token(user["auth_code"])
        async with self.ws() as ws:
            await ws.call("config/core/update", **CORE_CONFIG)
        await self.post("/api/onboarding/core_config")
        await self.post("/api/onboarding/analytics")  # analytics left off: nothing is sent
        await self.post(
            "/api/onboarding/integration",
            {"client_id": self.client_id, "redirect_uri": f"{self.base_url}/?auth_callback=1"},
        )
        return self.tokens

    async def states(self) -> dict[str, dict[str, Any]]:
        """All states in one snapshot (one event-loop turn in Home Assistant)."""
        return {state["entity_id"]: state for state in await self.get("/api/states")}

    # The config flow, exactly as the "Add integration" dialog drives it.

    async def flow_start(self, handler: str = DOMAIN) -> dict[str, Any]:
        """Open the dialog (advanced mode on, so the collapsed API URL section exists)."""
        return dict(
            await self.post(
                "/api/config/config_entries/flow",
                {"handler": handler, "show_advanced_options": True},
            )
        )

    async def flow_submit(self, flow_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Press Submit with `data`."""
        return dict(await self.post(f"/api/config/config_entries/flow/{flow_id}", data))


#: Integrations the onboarding's location step adds on its own. Here they cannot work (their
#: packages are not installed, and they would need the internet): Met and Radio Browser fail
#: before creating an entry, Google Translate creates one that fails to set up.
ONBOARDING_EXTRAS = frozenset({"google_translate", "met", "radio_browser"})


async def drop_failed_extras(api: HassApi) -> list[str]:
    """Delete the onboarding extras that failed, as a user would; returns their domains."""
    dropped = []
    for entry in await api.get("/api/config/config_entries/entry"):
        if entry["domain"] in ONBOARDING_EXTRAS and entry["state"] != "loaded":
            await api.delete(f"/api/config/config_entries/entry/{entry['entry_id']}")
            dropped.append(entry["domain"])
    return dropped


def user_input(api_key: str, account_number: str, api_url: str) -> dict[str, Any]:
    """The `user` step's form as the frontend posts it (sections nest their fields)."""
    return {
        "api_key": api_key,
        "account_number": account_number,
        "advanced": {"api_url": api_url},
    }


async def add_entry(api: HassApi, sim_url: str) -> dict[str, Any]:
    """Add the integration for the simulator's single-meter account; returns the entry."""
    form = await api.flow_start()
    result = await api.flow_submit(
        form["flow_id"], user_input(SINGLE.api_key, SINGLE.account_number, sim_url)
    )
    if result["type"] != "create_entry":
        raise HarnessError(f"the config flow did not create an entry: {result}")
    return dict(result["result"])


async def entity_ids(
    ws: WsClient, entry_id: str, *, include_disabled: bool = True
) -> dict[str, str]:
    """The entry's entities by translation key (e.g. "demand" -> "sensor.home_mini_..._demand")."""
    entries = await ws.call("config/entity_registry/list")
    return {
        entry["translation_key"]: entry["entity_id"]
        for entry in entries
        if entry["config_entry_id"] == entry_id
        and (include_disabled or entry["disabled_by"] is None)
    }


async def wait_live(api: HassApi, entity_id: str, within: float = 60) -> dict[str, Any]:
    """Until the entity has a number for a state."""

    async def check() -> dict[str, Any] | None:
        state = await api.state(entity_id)
        if state is None:
            return None
        try:
            float(state["state"])
        except ValueError:
            return None
        return state

    return await until(check, within, f"{entity_id} to have a value", interval=0.5)


def entity_names() -> dict[str, str]:
    """The entities' English names by translation key, from the integration's translations."""
    path = REPO / "custom_components" / DOMAIN / "translations" / "en.json"
    platforms = json.loads(path.read_text())["entity"]
    return {key: item["name"] for items in platforms.values() for key, item in items.items()}


def dashboard_config(entities: dict[str, str], title: str) -> dict[str, Any]:
    """One view: the Live card, a demand gauge, every entity, and the last hour of demand."""
    order = [
        "demand",
        "demand_level",
        "consumption",
        "consumption_today",
        "unit_rate",
        "standing_charge",
        "cost_rate",
        "session_cost",
        "cost_today",
        "projected_cost_today",
        "projected_cost_month",
        "online",
        "last_reading",
        "reset_session",
    ]
    names = entity_names()
    keys = [key for key in order if key in entities]
    keys += sorted(set(entities) - set(order))  # entities added later, so they show up too
    listed = [{"entity": entities[key], "name": names.get(key, key)} for key in keys]
    return {
        "title": title,
        "views": [
            {
                "title": "Meter",
                "path": "meter",
                "icon": "mdi:meter-electric",
                "cards": [
                    {"type": "custom:octopus-home-mini-card", "entity": entities["demand"]},
                    {
                        "type": "gauge",
                        "entity": entities["demand"],
                        "name": "Demand",
                        "min": 0,
                        "max": 4000,
                        "severity": {"green": 0, "yellow": 1000, "red": 3000},
                    },
                    {"type": "entities", "title": title, "entities": listed},
                    {
                        "type": "history-graph",
                        "title": "Demand, last hour",
                        "hours_to_show": 1,
                        "entities": [entities["demand"]],
                    },
                ],
            }
        ],
    }


async def save_dashboard(ws: WsClient, entities: dict[str, str], title: str) -> str:
    """A storage-mode dashboard at /home-mini; returns its path."""
    dashboards = await ws.call("lovelace/dashboards/list")
    if not any(board.get("url_path") == DASHBOARD for board in dashboards):
        await ws.call(
            "lovelace/dashboards/create",
            url_path=DASHBOARD,
            title="Home Mini",
            icon="mdi:home-lightning-bolt",
            show_in_sidebar=True,
            require_admin=False,
        )
    await ws.call(
        "lovelace/config/save", url_path=DASHBOARD, config=dashboard_config(entities, title)
    )
    return f"/{DASHBOARD}/meter"


def grid_source(demand: str) -> dict[str, Any]:
    """The Energy panel's grid as the README sets it: the meter's consumption and cost
    statistics (the back-filled hours are in them), Demand as the grid power."""
    prefix = statistic_prefix("electricity", SINGLE.serials[0])
    return {
        "type": "grid",
        "stat_energy_from": statistic_id(prefix, "consumption"),
        "stat_cost": statistic_id(prefix, "cost"),
        "stat_rate": demand,
        "cost_adjustment_day": 0,
    }


async def save_energy(ws: WsClient, entities: dict[str, str]) -> dict[str, Any]:
    """Save the Energy preferences and return what `energy/validate` says."""
    await ws.call("energy/save_prefs", energy_sources=[grid_source(entities["demand"])])
    return dict(await ws.call("energy/validate"))


# --- Chromium driven by Playwright ------------------------------------------------------


def find_chromium() -> str | None:
    """$CHROMIUM (a path or a name on PATH) if set, else chromium or Chrome on PATH."""
    if explicit := os.environ.get("CHROMIUM"):
        return shutil.which(explicit)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if found := shutil.which(name):
            return found
    return None


@contextlib.asynccontextmanager
async def chromium(executable: str) -> AsyncIterator[Browser]:
    """The system's Chromium, headless and offline, driven by Playwright (no browser download)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_FLAGS), timeout=60_000
        )
        try:
            yield browser
        finally:
            await browser.close()


def token_script(base_url: str, tokens: Tokens) -> str:
    """Runs before the frontend: logged in, as if the login page had stored the tokens."""
    stored = {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "hassUrl": base_url,
        "clientId": f"{base_url}/",
    }
    return (
        f"if (location.origin === {json.dumps(base_url)}) {{"
        f" const tokens = {json.dumps(stored)};"
        " tokens.expires = Date.now() + tokens.expires_in * 1000;"
        ' localStorage.setItem("hassTokens", JSON.stringify(tokens)); }'
    )


async def logged_in(
    browser: Browser,
    base_url: str,
    tokens: Tokens,
    *,
    color_scheme: Literal["light", "dark"] = "light",
    width: int = 1280,
    clock_ahead: float = 0,
) -> BrowserContext:
    """A fresh browser context logged in to Home Assistant (its tokens injected).

    `clock_ahead` starts the page's clock that many seconds ahead of the real one (it then runs
    at normal speed): a wait for something time-based, shortened.
    """
    context = await browser.new_context(
        color_scheme=color_scheme,
        viewport={"width": width, "height": 900},
        locale="en-GB",
        timezone_id="Europe/London",
    )
    context.set_default_timeout(30_000)
    if clock_ahead:
        await context.clock.install(time=time.time() + clock_ahead)
    await context.add_init_script(token_script(base_url, tokens))
    return context


# --- scripts/develop ------------------------------------------------------------------------

DEV_USER = ("Developer", "dev", "dev-password")


def _stop_leftovers(pid_file: Path, config: Path) -> None:
    """Stop what an earlier, hard-killed run left behind (only if it is still ours)."""
    if not pid_file.exists():
        return
    stopped = []
    for line in pid_file.read_text().splitlines():
        name, _, pid_text = line.partition(" ")
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(config) in cmdline or "tests.simulator" in cmdline:
            print(f"develop: stopping {name} (PID {pid}) left by an earlier run")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
                stopped.append(pid)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in stopped) and time.monotonic() < deadline:
        time.sleep(0.2)
    pid_file.unlink()


async def develop(port: int) -> None:
    """Simulator + Home Assistant with the integration and a dashboard, until Ctrl-C."""
    started = time.monotonic()
    root = REPO / ".dev"
    config = root / "config"
    root.mkdir(exist_ok=True)
    pid_file = root / "pids"
    _stop_leftovers(pid_file, config)
    processes = Processes(pid_file=pid_file)
    if not port_is_free(port):
        raise SystemExit(f"develop: port {port} on {HOST} is in use; stop what holds it first")
    base = f"http://{HOST}:{port}"
    prepare_config(config, port)
    try:
        sim = processes.add(start_simulator(root / "simulator.log"))
        processes.add(start_hass(config, root / "hass.out"))
        print(f"develop: simulator PID {sim.pid}, hass PID {processes.procs[-1].pid}")
        sim_url = await simulator_url(sim)
        async with aiohttp.ClientSession() as session:
            api = HassApi(session, base)
            await api.wait_up(90)
            name, username, password = DEV_USER
            await api.onboard(name, username, password)
            entry = await add_entry(api, sim_url)
            async with api.ws() as ws:
                entities = await entity_ids(ws, entry["entry_id"], include_disabled=False)
                await wait_live(api, entities["demand"])
                path = await save_dashboard(ws, entities, entry["title"])
                await save_energy(ws, entities)
            await drop_failed_extras(api)
        live = time.monotonic() - started
        print(
            f"""
Home Assistant   {base}   log in as  {username} / {password}
Dashboard        {base}{path}
Energy panel     {base}/energy
Kraken simulator {sim_url}   ({SINGLE.api_key}, {SINGLE.account_number})
Logs             {config / "home-assistant.log"}, {root / "simulator.log"}
Live entities after {live:.0f} s. Ctrl-C stops both.""",
            flush=True,
        )
        await asyncio.Event().wait()  # until cancelled by a signal
    finally:
        print("\ndevelop: stopping Home Assistant and the simulator", flush=True)
        await asyncio.shield(processes.stop_all())


def _run_develop(port: int) -> int:
    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()

        def stop() -> None:
            # Once: Ctrl-C reaches both this process and scripts/develop, which forwards it.
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(signum, lambda: None)
            task.cancel()

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, stop)
        with contextlib.suppress(asyncio.CancelledError):
            await develop(port)

    try:
        asyncio.run(main())
    except HarnessError as err:
        print(f"develop: {err}", file=sys.stderr)
        return 1
    return 0


# --- scripts/setup --------------------------------------------------------------------------


def requirements() -> list[str]:
    """Pinned requirements of every integration `hass` sets up here, as its manifests say."""
    from homeassistant import bootstrap  # noqa: PLC0415
    import homeassistant.components  # noqa: PLC0415

    components = Path(homeassistant.components.__file__).parent
    todo = set(bootstrap.CORE_INTEGRATIONS) | set(bootstrap.DEFAULT_INTEGRATIONS)
    todo |= set(COMPONENTS) | {"logger"}
    seen: set[str] = set()
    pins: set[str] = set()
    while todo:
        domain = todo.pop()
        if domain in seen:
            continue
        seen.add(domain)
        manifest = json.loads((components / domain / "manifest.json").read_text())
        pins.update(manifest.get("requirements", []))
        todo.update(manifest.get("dependencies", []))
    return sorted(SUBSTITUTES.get(pin.split("==")[0].lower(), pin) for pin in pins)


def main(argv: list[str] | None = None) -> int:
    """`develop` or `requirements`."""
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.harness")
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("develop", help="simulator + Home Assistant until Ctrl-C")
    dev.add_argument("--port", type=int, default=8123)
    commands.add_parser("requirements", help="print the pins scripts/setup installs")
    options = parser.parse_args(argv)
    if options.command == "requirements":
        print("\n".join(requirements()))
        return 0
    return _run_develop(options.port)


if __name__ == "__main__":
    sys.exit(main())
