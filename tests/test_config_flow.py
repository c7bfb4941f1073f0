"""The config flow against the simulator: every path, and recovery from every error."""

from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.octopus_home_mini.const import (
    CONF_ACCOUNT_NUMBER,
    CONF_API_URL,
    CONF_DEVICE_ID,
    CONF_MPAN,
    CONF_SERIAL_NUMBER,
    DOMAIN,
)
from tests.common import Sim, setup_entry
from tests.simulator import NOMINI, SINGLE, SOLAR, TWOMETERS


def form(api_key: str, account: str, url: str) -> dict[str, Any]:
    """The user step's input, with the API URL in the collapsed `advanced` section."""
    return {CONF_API_KEY: api_key, CONF_ACCOUNT_NUMBER: account, "advanced": {CONF_API_URL: url}}


async def start(hass: HomeAssistant) -> dict[str, Any]:
    """Open the user step."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return result


async def test_single_meter_creates_entry(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """One meter with a Home Mini: the entry is created straight away."""
    sim, url = frozen_sim
    result = await start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SINGLE.api_key, f" {SINGLE.account_number.lower()} ", url)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Home Mini {SINGLE.serials[0]}"
    assert result["result"].unique_id == SINGLE.device_ids[0]
    assert result["data"] == {
        CONF_API_KEY: SINGLE.api_key,
        CONF_ACCOUNT_NUMBER: SINGLE.account_number,
        CONF_API_URL: url,
        CONF_DEVICE_ID: SINGLE.device_ids[0],
        CONF_MPAN: SINGLE.mpans[0],
        CONF_SERIAL_NUMBER: SINGLE.serials[0],
    }
    # Validation read the latest sample once; the new entry's first poll then used a range.
    assert [r.operation_name for r in sim.requests if r.operation_name != "ObtainKrakenToken"][
        :2
    ] == ["Account", "LatestTelemetry"]


async def test_advanced_section_is_collapsed(hass: HomeAssistant) -> None:
    """The API URL sits in a collapsed section with the public default."""
    result = await start(hass)
    schema = result["data_schema"].schema
    advanced = next(value for key, value in schema.items() if key == "advanced")
    assert advanced.options == {"collapsed": True}
    (url_key,) = advanced.schema.schema
    assert url_key.default() == "https://api.octopus.energy"


async def test_export_device_is_stored(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """An account with an export meter point stores the export device id too."""
    _, url = frozen_sim
    result = await start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SOLAR.api_key, SOLAR.account_number, url)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["export_device_id"] == SOLAR.device_ids[0]


async def test_malformed_account_number_needs_no_request(
    hass: HomeAssistant, frozen_sim: Sim
) -> None:
    """A malformed account number is refused on its field before any API call."""
    sim, url = frozen_sim
    result = await start(hass)
    for bad in ("1234ABCD", "A-123", "A-1234ABC!", "B-1234ABCD"):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], form(SINGLE.api_key, bad, url)
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {CONF_ACCOUNT_NUMBER: "invalid_account_format"}
    assert sim.requests == []
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SINGLE.api_key, SINGLE.account_number, url)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("bad_key", "bad_account", "fault", "field", "error"),
    [
        ("sk_live_not_a_real_key", None, None, CONF_API_KEY, "invalid_auth"),
        (None, TWOMETERS.account_number, None, CONF_ACCOUNT_NUMBER, "invalid_account"),
        (NOMINI.api_key, NOMINI.account_number, None, "base", "no_home_mini"),
        # Kraken's answer for a meter whose telemetry it cannot serve (e.g. no Mini at all).
        (None, None, "outage", "base", "no_home_mini"),
        (None, None, "network", "base", "cannot_connect"),
        (None, None, "http_502", "base", "cannot_connect"),
        (None, None, "http_403_html", "base", "cannot_connect"),
        (None, None, "malformed_json", "base", "cannot_connect"),
        (None, None, "rate_limit", "base", "rate_limited"),
        (None, None, "rate_limit_telemetry", "base", "rate_limited"),
    ],
)
async def test_errors_recover(
    hass: HomeAssistant,
    frozen_sim: Sim,
    bad_key: str | None,
    bad_account: str | None,
    fault: str | None,
    field: str,
    error: str,
) -> None:
    """Each error shows on its field, and the same flow then creates the entry."""
    sim, url = frozen_sim
    if fault:
        sim.set_fault(fault)
    result = await start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        form(bad_key or SINGLE.api_key, bad_account or SINGLE.account_number, url),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    sim.clear_faults()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SINGLE.api_key, SINGLE.account_number, url)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_unreachable_api(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """A closed port is cannot_connect; the right URL then works."""
    _, url = frozen_sim
    result = await start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SINGLE.api_key, SINGLE.account_number, "http://127.0.0.1:9")
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SINGLE.api_key, SINGLE.account_number, url)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_unexpected_error_is_unknown(
    hass: HomeAssistant, frozen_sim: Sim, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug (not a Kraken error) is logged and shown as unknown; the flow still recovers."""
    _, url = frozen_sim
    result = await start(hass)
    with patch(
        "custom_components.octopus_home_mini.config_flow.KrakenClient.get_account",
        side_effect=RuntimeError("boom"),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], form(SINGLE.api_key, SINGLE.account_number, url)
        )
    assert result["errors"] == {"base": "unknown"}
    assert "Unexpected error" in caplog.text
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SINGLE.api_key, SINGLE.account_number, url)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_two_meters_pick_one_each(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """Several meters: a meter step; each meter once; then already_configured."""
    _, url = frozen_sim
    created = []
    for _ in range(2):
        result = await start(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], form(TWOMETERS.api_key, TWOMETERS.account_number, url)
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "meter"
        options = result["data_schema"].schema[CONF_DEVICE_ID].config["options"]
        assert len(options) == 2 - len(created)
        assert all("MPAN" in option["label"] for option in options)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_DEVICE_ID: options[0]["value"]}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        created.append(result["result"].unique_id)
    assert set(created) == set(TWOMETERS.device_ids)
    result = await start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(TWOMETERS.api_key, TWOMETERS.account_number, url)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_duplicate_meter_aborts(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """The same single meter twice aborts already_configured."""
    _, url = frozen_sim
    for expected in (FlowResultType.CREATE_ENTRY, FlowResultType.ABORT):
        result = await start(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], form(SINGLE.api_key, SINGLE.account_number, url)
        )
        assert result["type"] is expected
    assert result["reason"] == "already_configured"


async def test_reauth(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """Reauth: a bad key errors, another account's key aborts, the right key updates."""
    _, url = frozen_sim
    entry = await setup_entry(hass, url)
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: "sk_live_wrong"}
    )
    assert result["errors"] == {CONF_API_KEY: "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: f" {SINGLE.api_key} "}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_API_KEY] == SINGLE.api_key

    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: TWOMETERS.api_key}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert entry.data[CONF_API_KEY] == SINGLE.api_key


async def test_reconfigure(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """Reconfigure updates the connection; a different account aborts wrong_account."""
    _, url = frozen_sim
    entry = await setup_entry(hass, url)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SINGLE.api_key, "nonsense", url)
    )
    assert result["errors"] == {CONF_ACCOUNT_NUMBER: "invalid_account_format"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(TWOMETERS.api_key, TWOMETERS.account_number, url)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SINGLE.api_key, SINGLE.account_number, url + "/")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_API_URL] == url


def section_collapsed(result: Any) -> bool:
    """Whether the form's Advanced section is shown collapsed."""
    advanced = next(v for k, v in result["data_schema"].schema.items() if k == "advanced")
    return bool(advanced.options["collapsed"])


def shown_url(result: dict[str, Any]) -> str:
    """The API URL the form shows: the suggested value if any, else the default."""
    advanced = next(v for k, v in result["data_schema"].schema.items() if k == "advanced")
    (key,) = advanced.schema.schema
    suggested = (key.description or {}).get("suggested_value")
    return str(suggested or key.default())


@pytest.mark.parametrize(
    ("bad_url", "error"),
    [
        ("http://api.octopus.energy", "insecure_url"),
        ("http://192.168.1.10:8080", "insecure_url"),
        ("http://127.0.0.1.example.com", "insecure_url"),
        ("ftp://api.octopus.energy", "invalid_url"),
        ("api.octopus.energy", "invalid_url"),
        ("https://", "invalid_url"),
    ],
)
async def test_api_url_must_be_safe(
    hass: HomeAssistant, frozen_sim: Sim, bad_url: str, error: str
) -> None:
    """https anywhere, http only to this machine: otherwise a named error and no request."""
    sim, url = frozen_sim
    result = await start(hass)
    assert section_collapsed(result)  # the advanced part stays out of the way until needed
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SINGLE.api_key, SINGLE.account_number, bad_url)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}  # shown: not on a field inside the section
    assert not section_collapsed(result)
    assert shown_url(result) == bad_url  # nothing typed is lost
    assert sim.requests == []
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SINGLE.api_key, SINGLE.account_number, url)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_reconfigure_refuses_insecure_url_and_keeps_the_custom_one(
    hass: HomeAssistant, frozen_sim: Sim
) -> None:
    """Reconfigure: plain http elsewhere is refused; after any error the custom URL stays."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    result = await entry.start_reconfigure_flow(hass)
    assert shown_url(result) == url
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SINGLE.api_key, "nonsense", url)
    )
    assert result["errors"] == {CONF_ACCOUNT_NUMBER: "invalid_account_format"}
    assert shown_url(result) == url  # not reset to the production URL
    sent = len(sim.requests)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SINGLE.api_key, SINGLE.account_number, "http://example.com")
    )
    assert result["errors"] == {"base": "insecure_url"}
    assert not section_collapsed(result)
    assert len(sim.requests) == sent
    assert entry.data[CONF_API_URL] == url
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(SINGLE.api_key, SINGLE.account_number, url)
    )
    assert result["reason"] == "reconfigure_successful"


async def test_meter_answering_no_han_is_skipped(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """A meter whose telemetry says KT-GB-4056 has no Home Mini: the other meter is set up."""
    sim, url = frozen_sim
    sim.set_fault("no_han", count=1)  # the first meter's latest read
    result = await start(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(TWOMETERS.api_key, TWOMETERS.account_number, url)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == TWOMETERS.device_ids[1]


async def test_reauth_works_during_a_telemetry_outage(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """Reauth proves the key and the account only: KT-GB-4039 for hours must not block it."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    sim.set_fault("outage")
    result = await entry.start_reauth_flow(hass)
    sent = len(sim.requests)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: SINGLE.api_key}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    # No live Home Mini read (the reload afterwards polls as usual).
    assert "LatestTelemetry" not in {r.operation_name for r in sim.requests[sent:]}


async def test_reauth_after_a_meter_exchange_is_wrong_account(
    hass: HomeAssistant, frozen_sim: Sim
) -> None:
    """The right key, but the entry's meter is no longer on the account: wrong_account."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    sim.swap_meter(SINGLE.device_ids[0], "00-0A-1B-FF-FE-2C-3D-99", "24E7654321")
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: SINGLE.api_key}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"


async def test_reauth_with_a_stored_insecure_url(hass: HomeAssistant, frozen_sim: Sim) -> None:
    """A hand-edited plain-http URL: reauth names the problem and sends nothing."""
    sim, url = frozen_sim
    entry = await setup_entry(hass, url)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_API_URL: "http://example.com"}
    )
    sent = len(sim.requests)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: SINGLE.api_key}
    )
    assert result["errors"] == {"base": "insecure_url"}
    assert len(sim.requests) == sent
