"""The Kraken client against the simulator over loopback: real aiohttp, real sockets."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
import os
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from graphql import build_schema, parse as parse_document, validate
import pytest

from custom_components.octopus_home_mini.api import (
    Fuel,
    KrakenAccountNotFoundError,
    KrakenAuthenticationError,
    KrakenClient,
    KrakenConnectionError,
    KrakenError,
    KrakenInsecureUrlError,
    KrakenInvalidResponseError,
    KrakenInvalidUrlError,
    KrakenNoHomeMiniError,
    KrakenRateLimitError,
    KrakenRequestError,
    KrakenServiceUnavailableError,
    KrakenTariffNotFoundError,
    MeterDirection,
    TariffKind,
    TelemetryGrouping,
    check_base_url,
)
from custom_components.octopus_home_mini.api.queries import ALL_DOCUMENTS
from tests.conftest import FakeClock
from tests.simulator import (
    DUAL,
    GASDUP,
    GASONLY,
    NOMINI,
    SINGLE,
    SOLAR,
    TWOMETERS,
    KrakenSimulator,
    run_simulator,
)

PUBLIC_SCHEMA = Path(__file__).parents[2] / "shared" / "kraken" / "schema.graphql"
OWN_SCHEMA = Path(__file__).parent / "simulator" / "schema.graphql"


def make_client(
    session: aiohttp.ClientSession,
    sim_url: str,
    clock: FakeClock,
    api_key: str = SINGLE.api_key,
    **kwargs: object,
) -> tuple[KrakenClient, Counter[str]]:
    """A client on the shared clock that counts its requests per operation."""
    counts: Counter[str] = Counter()
    client = KrakenClient(
        session,
        api_key,
        base_url=sim_url,
        clock=clock,
        request_hook=lambda op: counts.update([op]),
        **kwargs,  # type: ignore[arg-type]
    )
    return client, counts


@pytest.mark.parametrize("schema_path", [PUBLIC_SCHEMA, OWN_SCHEMA], ids=["public", "trimmed"])
def test_every_document_validates(schema_path: Path) -> None:
    """Every document the client can send is valid against the public and our trimmed SDL."""
    if not schema_path.exists():
        if os.environ.get("CI") == "true":  # CI always has ../shared beside the clone
            pytest.fail(f"{schema_path} is missing in CI")
        pytest.skip(f"{schema_path} is not present here")
    schema = build_schema(schema_path.read_text())
    assert len(ALL_DOCUMENTS) == 6
    for name, document in ALL_DOCUMENTS.items():
        errors = validate(schema, parse_document(document))
        assert errors == [], f"{name}: {errors}"


def test_grouping_enum_matches_the_api() -> None:
    """The grouping enum has exactly the API's five values."""
    assert [g.value for g in TelemetryGrouping] == [
        "TEN_SECONDS",
        "ONE_MINUTE",
        "FIVE_MINUTES",
        "HALF_HOURLY",
        "HOURLY",
    ]


async def test_account_discovery(session, sim_url, clock) -> None:
    """The account maps to meter points, meters, device ids and the Agile tariff."""
    client, counts = make_client(session, sim_url, clock)
    account = await client.get_account(SINGLE.account_number)
    assert account.number == SINGLE.account_number
    meters = account.smart_meters
    assert [m.device_id for m in meters] == list(SINGLE.device_ids)
    assert meters[0].mpan == SINGLE.mpans[0]
    assert meters[0].serial_number == SINGLE.serials[0]
    point = account.electricity_meter_points[0]
    assert point.direction is MeterDirection.IMPORT
    assert point.tariff is not None
    assert point.tariff.kind is TariffKind.HALF_HOURLY
    assert len(point.tariff.unit_rates) > 0
    assert account.gas_meter_points
    assert counts == Counter({"ObtainKrakenToken": 1, "Account": 1})


async def test_two_meters_and_export(session, sim_url, clock) -> None:
    """Two import meter points give two smart meters; an export point links its device."""
    client, _ = make_client(session, sim_url, clock, api_key=TWOMETERS.api_key)
    two = await client.get_account(TWOMETERS.account_number)
    assert {m.device_id for m in two.smart_meters} == set(TWOMETERS.device_ids)
    assert len(two.smart_meters) == 2
    assert two.electricity_meter_points[0].tariff is not None
    assert two.electricity_meter_points[0].tariff.kind is TariffKind.STANDARD

    solar, _ = make_client(session, sim_url, clock, api_key=SOLAR.api_key)
    account = await solar.get_account(SOLAR.account_number)
    directions = {p.direction for p in account.electricity_meter_points}
    assert directions == {MeterDirection.IMPORT, MeterDirection.EXPORT}
    (meter,) = account.smart_meters
    assert meter.export_device_id == SOLAR.device_ids[0]


async def test_tariffs_by_mpan(session, sim_url, clock) -> None:
    """The tariff query returns the active tariff per MPAN with its half-hourly rates."""
    client, _ = make_client(session, sim_url, clock)
    tariffs = await client.get_tariffs(SINGLE.account_number)
    tariff = tariffs[SINGLE.mpans[0]]
    assert tariff.standing_charge_pence is not None
    assert tariff.standing_charge_pence > 0
    rates = tariff.unit_rates
    assert all(a.valid_from <= b.valid_from for a, b in pairwise(rates))


async def test_latest_and_range_telemetry(session, sim_url, clock, simulator) -> None:
    """Latest-only gives the newest readable sample; a range gives every 10-s sample once."""
    client, counts = make_client(session, sim_url, clock)
    device = SINGLE.device_ids[0]
    latest = await client.get_latest_telemetry(device)
    truth = simulator.latest_readable(device)
    assert latest is not None
    assert truth is not None
    assert latest.read_at == truth.read_at
    assert latest.consumption_wh == truth.register_wh
    assert latest.demand_w == truth.demand_w

    end = clock.now
    start = end - timedelta(minutes=10)
    readings = await client.get_telemetry(device, start, end, TelemetryGrouping.TEN_SECONDS)
    expected = [s for s in simulator.samples(device, start, end) if s.read_at <= truth.read_at]
    assert [r.read_at for r in readings] == [s.read_at for s in expected]
    assert [r.consumption_wh for r in readings] == [Decimal(s.register_wh) for s in expected]
    assert readings[-1].cost_delta_with_tax_pence == expected[-1].cost_with_tax_pence
    assert all(isinstance(r.consumption_delta_wh, Decimal) for r in readings)

    half_hours = await client.get_telemetry(
        device, end - timedelta(hours=3), end, TelemetryGrouping.HALF_HOURLY
    )
    for previous, bucket in pairwise(half_hours):
        assert bucket.consumption_wh - previous.consumption_wh == bucket.consumption_delta_wh
    assert counts["TelemetryRange"] == 2
    assert counts["LatestTelemetry"] == 1


async def test_range_argument_rules(session, sim_url, clock) -> None:
    """Bad ranges are refused before any request is sent."""
    client, counts = make_client(session, sim_url, clock)
    device = SINGLE.device_ids[0]
    with pytest.raises(ValueError, match="later"):
        await client.get_telemetry(device, clock.now, clock.now, TelemetryGrouping.ONE_MINUTE)
    with pytest.raises(ValueError, match="timezone"):
        await client.get_telemetry(
            device,
            clock.now.replace(tzinfo=None) - timedelta(minutes=1),
            clock.now.replace(tzinfo=None),
            TelemetryGrouping.ONE_MINUTE,
        )
    assert counts["TelemetryRange"] == 0


async def test_no_home_mini(session, sim_url, clock) -> None:
    """A meter without a Home Mini has no latest reading; an unknown device is KT-GB-4050."""
    client, _ = make_client(session, sim_url, clock, api_key=NOMINI.api_key)
    assert await client.get_latest_telemetry(NOMINI.device_ids[0]) is None
    with pytest.raises(KrakenNoHomeMiniError) as caught:
        await client.get_latest_telemetry("FF-FF-FF-FF-FF-FF-FF-FF")
    assert caught.value.code == "KT-GB-4050"


async def test_nulls_stay_none(session, sim_url, clock, simulator) -> None:
    """A null register arrives as None, never as 0."""
    device = SINGLE.device_ids[0]
    latest = simulator.latest_readable(device)
    assert latest is not None
    simulator.add_glitch(device, latest.read_at, "null")
    client, _ = make_client(session, sim_url, clock)
    reading = await client.get_latest_telemetry(device)
    assert reading is not None
    assert reading.consumption_wh is None
    assert reading.demand_w is not None


async def test_wrong_key(session, sim_url, clock) -> None:
    """A wrong API key is an authentication error with its code and without the key."""
    client, _ = make_client(session, sim_url, clock, api_key="sk_live_wrongwrongwrong")
    with pytest.raises(KrakenAuthenticationError) as caught:
        await client.authenticate()
    assert caught.value.code == "KT-CT-1139"
    assert "sk_live" not in str(caught.value)


async def test_account_not_ours(session, sim_url, clock) -> None:
    """Someone else's account number is 'account not found'."""
    client, _ = make_client(session, sim_url, clock)
    with pytest.raises(KrakenAccountNotFoundError) as caught:
        await client.get_account(TWOMETERS.account_number)
    assert caught.value.code in {"KT-CT-4177", "KT-CT-1111"}
    assert TWOMETERS.account_number not in str(caught.value)


FAULTS = [
    ("outage", KrakenServiceUnavailableError, "KT-GB-4039"),
    ("network", KrakenServiceUnavailableError, "KT-GB-4043"),
    ("internal", KrakenServiceUnavailableError, "KT-CT-7899"),
    ("http_502", KrakenServiceUnavailableError, "HTTP 502"),
    ("http_504", KrakenServiceUnavailableError, "HTTP 504"),
    ("http_403_html", KrakenServiceUnavailableError, "HTTP 403"),
    ("malformed_json", KrakenInvalidResponseError, "HTTP 200"),
    ("rate_limit", KrakenRateLimitError, "KT-CT-1199"),
    ("rate_limit_telemetry", KrakenRateLimitError, "KT-GB-4042"),
    ("rate_limit_backend", KrakenRateLimitError, "OE-0002"),
    ("http_429", KrakenRateLimitError, "HTTP 429"),
]


@pytest.mark.parametrize(("kind", "error", "code"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_fault_classes(session, sim_url, clock, simulator, kind, error, code) -> None:
    """Each injected fault maps to its error class and code, and the next call recovers."""
    client, _ = make_client(session, sim_url, clock)
    await client.authenticate()
    simulator.set_fault(kind, count=1, seconds=120 if kind == "http_429" else None)
    with pytest.raises(error) as caught:
        await client.get_latest_telemetry(SINGLE.device_ids[0])
    assert caught.value.code == code
    if kind == "http_429":
        assert caught.value.retry_after == 120
    assert await client.get_latest_telemetry(SINGLE.device_ids[0]) is not None


async def test_timeout_and_refused(session, sim_url, clock, simulator) -> None:
    """A slow answer and a closed port are connection errors."""
    client, _ = make_client(session, sim_url, clock, timeout=0.3)
    await client.authenticate()
    simulator.set_fault("timeout", count=1, seconds=2)
    with pytest.raises(KrakenConnectionError) as caught:
        await client.get_latest_telemetry(SINGLE.device_ids[0])
    assert caught.value.code == "timeout"

    closed, _ = make_client(session, "http://127.0.0.1:9", clock)
    with pytest.raises(KrakenConnectionError):
        await closed.authenticate()


async def test_document_errors_are_invalid_response(session, sim_url, clock) -> None:
    """HTTP 400 for a document the schema rejects is an invalid response (proves validation)."""
    client, _ = make_client(session, sim_url, clock)
    bad = "query Bad($deviceId: String!) { smartMeterTelemetry(deviceId: $deviceId) { demnd } }"
    with pytest.raises(KrakenInvalidResponseError) as caught:
        await client._post(bad, "Bad", {"deviceId": SINGLE.device_ids[0]})
    assert caught.value.code == "HTTP 400"


async def test_rate_limit_by_ceiling(session, sim_url, clock) -> None:
    """Past the simulator's hourly ceiling the client raises a rate-limit error."""
    sim = KrakenSimulator(clock=clock, rate_limit_per_hour=5)
    async with run_simulator(sim) as url:
        client, _ = make_client(session, url, clock)
        for _ in range(4):  # one token + four reads = five requests
            await client.get_latest_telemetry(SINGLE.device_ids[0])
        with pytest.raises(KrakenRateLimitError):
            await client.get_latest_telemetry(SINGLE.device_ids[0])


async def test_token_renewed_inside_the_margin(session, sim_url, clock) -> None:
    """With a 5-minute margin the token is reused until 5 min before exp, then renewed."""
    client, counts = make_client(session, sim_url, clock, token_renew_margin=timedelta(minutes=5))
    device = SINGLE.device_ids[0]
    await client.get_latest_telemetry(device)
    clock.advance(54 * 60)
    await client.get_latest_telemetry(device)
    assert counts["ObtainKrakenToken"] == 1
    clock.advance(2 * 60)  # 56 min: inside the 5-minute margin
    await client.get_latest_telemetry(device)
    assert counts["ObtainKrakenToken"] == 2
    assert counts["LatestTelemetry"] == 3


async def test_seven_days_of_polling(session, sim_url, clock, simulator) -> None:
    """Every 10 min for 7 days: <= 1 token request an hour, and no call fails on a token.

    Tokens serve their whole hour (6 calls each here; the 30-s cadence only makes that 120),
    renewals use the refresh token, and the API key is used again only when the refresh token
    expires after 7 days.
    """
    asyncio.get_running_loop().set_debug(False)  # 1,000 requests: skip debug bookkeeping
    client, counts = make_client(session, sim_url, clock)
    device = SINGLE.device_ids[0]
    polls = 7 * 24 * 6 + 12  # a little past the refresh token's 7-day expiry
    for _ in range(polls):
        clock.advance(600)
        await client.get_latest_telemetry(device)
    hours = polls / 6
    assert counts["LatestTelemetry"] == polls
    assert counts["ObtainKrakenToken"] / hours <= 1.0
    assert counts["ObtainKrakenToken"] >= 7 * 24  # renewed about hourly, not never
    rejected = [r for r in simulator.requests if r.error_code in {"KT-CT-1124", "KT-CT-1134"}]
    assert rejected == []


async def test_concurrent_calls_share_one_token_request(session, sim_url, clock) -> None:
    """100 concurrent calls with an expired token cause exactly one token request."""
    client, counts = make_client(session, sim_url, clock)
    await client.authenticate()
    clock.advance(3600)
    device = SINGLE.device_ids[0]
    await asyncio.gather(*(client.get_latest_telemetry(device) for _ in range(100)))
    assert counts["ObtainKrakenToken"] == 2


async def test_server_rejected_token_is_renewed_once(session, sim_url, clock, simulator) -> None:
    """KT-CT-1124 from the server: invalidate, one renewal for 100 callers, each call retried."""
    client, counts = make_client(session, sim_url, clock)
    await client.authenticate()
    simulator.set_fault("expire_tokens")
    device = SINGLE.device_ids[0]
    results = await asyncio.gather(*(client.get_latest_telemetry(device) for _ in range(100)))
    assert all(r is not None for r in results)
    assert counts["ObtainKrakenToken"] == 2
    assert counts["LatestTelemetry"] == 200


async def test_rejected_refresh_token_falls_back_to_key(session, sim_url, clock, simulator):
    """A revoked refresh token (KT-CT-1135/1134) falls back to the API key."""
    client, counts = make_client(session, sim_url, clock)
    await client.authenticate()
    simulator.set_fault("revoke_refresh_tokens")
    clock.advance(3600)
    assert await client.get_latest_telemetry(SINGLE.device_ids[0]) is not None
    assert counts["ObtainKrakenToken"] == 3  # key, refused refresh, key again


async def test_errors_never_carry_secrets(session, sim_url, clock, simulator) -> None:
    """Across error paths, no exception text contains the key, a token or the account."""
    client, _ = make_client(session, sim_url, clock)
    errors: list[KrakenError] = []
    for kind, _, _ in FAULTS:
        simulator.set_fault(kind, count=1)
        try:
            await client.get_latest_telemetry(SINGLE.device_ids[0])
        except KrakenError as err:
            errors.append(err)
    for call in (
        client.get_account(TWOMETERS.account_number),
        make_client(session, sim_url, clock, api_key="sk_live_revoked")[0].authenticate(),
    ):
        try:
            await call
        except KrakenError as err:
            errors.append(err)
    assert len(errors) == len(FAULTS) + 2
    secrets = {
        SINGLE.api_key,
        SINGLE.account_number,
        TWOMETERS.account_number,
        "sk_live_revoked",
        *simulator.issued_secrets(),
    }
    for err in errors:
        for secret in secrets:
            assert secret not in str(err)
            assert secret not in repr(err)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.octopus.energy/", "https://api.octopus.energy"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.8.9.10", "http://127.8.9.10"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://api.octopus.energy", KrakenInsecureUrlError),
        ("http://10.0.0.2", KrakenInsecureUrlError),
        ("http://localhost.example.com", KrakenInsecureUrlError),
        ("ws://127.0.0.1", KrakenInvalidUrlError),
        ("no scheme", KrakenInvalidUrlError),
        ("http://", KrakenInvalidUrlError),
    ],
)
async def test_the_key_goes_only_over_https_or_to_this_machine(
    session: aiohttp.ClientSession, url: str, expected: str | type[Exception]
) -> None:
    """The constructor refuses a base URL the key must not be sent to; nothing is sent."""
    if isinstance(expected, str):
        assert check_base_url(url) == expected
        KrakenClient(session, SINGLE.api_key, base_url=url)
        return
    with pytest.raises(expected) as caught:
        KrakenClient(session, SINGLE.api_key, base_url=url)
    assert SINGLE.api_key not in str(caught.value)


# -- gas and REST rates -------------------------------------------------------------------------


async def test_gas_discovery(session, sim_url, clock) -> None:
    """Gas smart meters come beside electricity; a gas-only account has only gas."""
    client, counts = make_client(session, sim_url, clock, api_key=DUAL.api_key)
    dual = await client.get_account(DUAL.account_number)
    (electricity,) = dual.smart_meters
    assert (electricity.fuel, electricity.mpan) == (Fuel.ELECTRICITY, DUAL.mpans[0])
    (gas,) = dual.gas_smart_meters
    assert gas.fuel is Fuel.GAS
    assert (gas.device_id, gas.meter_point) == (DUAL.gas_device_id, DUAL.gas_mprn)
    assert gas.serial_number == DUAL.gas[0].serial
    assert gas.export_device_id is None
    (point,) = dual.gas_meter_points
    assert point.meters[0].consumption_units == "m³"
    assert point.tariff is not None
    assert point.tariff.kind is TariffKind.GAS
    assert point.tariff.unit_rate_pence == Decimal("6.237")
    assert counts == Counter({"ObtainKrakenToken": 1, "Account": 1})

    only, _ = make_client(session, sim_url, clock, api_key=GASONLY.api_key)
    account = await only.get_account(GASONLY.account_number)
    assert account.smart_meters == ()
    assert [m.device_id for m in account.gas_smart_meters] == [GASONLY.gas_device_id]

    # The electricity-only account lists its gas point but offers no gas meter: its Mini has
    # no gas. (Gas telemetry is answered [] there, which the config flow reads as "no Mini".)
    single, _ = make_client(session, sim_url, clock)
    assert [
        m.device_id for m in (await single.get_account(SINGLE.account_number)).gas_smart_meters
    ] == [SINGLE.gas_device_id]
    assert await single.get_latest_telemetry(SINGLE.gas_device_id or "") is None


async def test_duplicate_gas_records_pick_the_one_with_a_device(session, sim_url, clock) -> None:
    """Of several records on one gas meter point, the one with a device id is the meter."""
    client, _ = make_client(session, sim_url, clock, api_key=GASDUP.api_key)
    account = await client.get_account(GASDUP.account_number)
    (point,) = account.gas_meter_points
    assert [m.device_id for m in point.meters] == [None, GASDUP.gas_device_id]
    (meter,) = account.gas_smart_meters
    assert meter.device_id == GASDUP.gas_device_id
    assert meter.serial_number == GASDUP.gas[0].serial
    reading = await client.get_latest_telemetry(meter.device_id)
    assert reading is not None


async def test_gas_tariff_comes_in_the_same_single_request(session, sim_url, clock) -> None:
    """One Tariff request returns electricity by MPAN and gas by MPRN."""
    client, counts = make_client(session, sim_url, clock, api_key=DUAL.api_key)
    tariffs = await client.get_tariffs(DUAL.account_number)
    assert counts["Tariff"] == 1
    assert set(tariffs) == {DUAL.mpans[0], DUAL.gas_mprn}
    gas = tariffs[DUAL.gas_mprn or ""]
    assert gas.kind is TariffKind.GAS
    assert gas.kind.fuel is Fuel.GAS
    assert (gas.product_code, gas.tariff_code) == ("VAR-22-11-01", "G-1R-VAR-22-11-01-H")
    assert (gas.unit_rate_pence, gas.standing_charge_pence) == (Decimal("6.237"), Decimal("31.43"))
    assert gas.valid_from == datetime(2024, 9, 30, 23, tzinfo=UTC)
    assert gas.valid_to is None
    assert tariffs[DUAL.mpans[0]].kind is TariffKind.HALF_HOURLY
    assert tariffs[DUAL.mpans[0]].kind.fuel is Fuel.ELECTRICITY


async def test_gas_telemetry_is_half_hourly(session, sim_url, clock, simulator) -> None:
    """Gas readings: the newest published half hour, no demand, registers that add up."""
    client, _ = make_client(session, sim_url, clock, api_key=GASONLY.api_key)
    device = GASONLY.gas_device_id or ""
    latest = await client.get_latest_telemetry(device)
    truth = simulator.latest_gas_readable(device)
    assert latest is not None
    assert truth is not None
    assert latest.read_at == truth.read_at == datetime(2026, 3, 14, 11, 0, tzinfo=UTC)
    assert latest.consumption_wh == truth.register_wh
    assert (latest.demand_w, latest.export_wh) == (None, None)
    midnight = clock.now.replace(hour=0)
    readings = await client.get_telemetry(
        device, midnight, clock.now, TelemetryGrouping.TEN_SECONDS
    )
    assert len(readings) == 23  # 00:00 ... 11:00
    assert sum(r.consumption_delta_wh or 0 for r in readings) == simulator.true_energy_wh(
        device, midnight, clock.now
    )
    assert sum(r.cost_delta_with_tax_pence or 0 for r in readings) == simulator.true_cost_pence(
        device, midnight, clock.now
    )


async def test_standard_unit_rates_over_rest(session, sim_url, clock, simulator) -> None:
    """Agile's rates for 40 days in two pages (each counted), oldest first, priced as served."""
    client, counts = make_client(session, sim_url, clock)
    start = clock.now - timedelta(days=40)
    rates = await client.get_standard_unit_rates(
        Fuel.ELECTRICITY, "AGILE-24-10-01", "E-1R-AGILE-24-10-01-H", start, clock.now
    )
    assert counts == Counter({"StandardUnitRates": 2})  # 1,920 rows; no token needed
    assert len(rates) == 40 * 48
    assert rates[0].valid_from == start
    assert rates[-1].valid_to == clock.now
    assert all(a.valid_to == b.valid_from for a, b in pairwise(rates))
    for rate in rates[::97]:
        assert rate.valid_from is not None
        assert rate.value_pence == simulator.unit_rate_pence(SINGLE.account_number, rate.valid_from)


async def test_gas_rates_by_payment_method(session, sim_url, clock) -> None:
    """A fixed gas tariff: open-ended current rate, older rate; DD unless asked otherwise."""
    client, counts = make_client(session, sim_url, clock)
    since = datetime(2024, 1, 1, tzinfo=UTC)
    direct = await client.get_standard_unit_rates(
        Fuel.GAS, "VAR-22-11-01", "G-1R-VAR-22-11-01-H", since, clock.now
    )
    assert [(r.value_pence, r.valid_to) for r in direct] == [
        (Decimal("7.2345"), datetime(2024, 3, 31, 23, tzinfo=UTC)),
        (Decimal("6.237"), None),
    ]
    other = await client.get_standard_unit_rates(
        Fuel.GAS, "VAR-22-11-01", "G-1R-VAR-22-11-01-H", since, clock.now, direct_debit=False
    )
    assert [r.value_pence for r in other] == [Decimal("7.5495"), Decimal("6.552")]
    assert counts["StandardUnitRates"] == 2


async def test_rest_rate_errors(session, sim_url, clock) -> None:
    """Unknown tariffs are a named error; bad periods never reach the wire."""
    client, counts = make_client(session, sim_url, clock)
    for fuel, product, code in (
        (Fuel.GAS, "NOPE-1", "G-1R-NOPE-1-H"),
        (Fuel.ELECTRICITY, "VAR-22-11-01", "G-1R-VAR-22-11-01-H"),  # a gas tariff, as electricity
    ):
        with pytest.raises(KrakenTariffNotFoundError) as caught:
            await client.get_standard_unit_rates(
                fuel, product, code, clock.now - timedelta(days=1), clock.now
            )
        assert caught.value.code == "HTTP 404"
    assert counts["StandardUnitRates"] == 2
    with pytest.raises(ValueError, match="later"):
        await client.get_standard_unit_rates(Fuel.GAS, "P", "T", clock.now, clock.now)
    with pytest.raises(ValueError, match="timezone"):
        await client.get_standard_unit_rates(
            Fuel.GAS,
            "P",
            "T",
            datetime(2026, 1, 1),
            clock.now,  # one naive bound
        )
    assert counts["StandardUnitRates"] == 2
    closed, _ = make_client(session, "http://127.0.0.1:9", clock)
    with pytest.raises(KrakenConnectionError):
        await closed.get_standard_unit_rates(
            Fuel.GAS, "P", "T", clock.now - timedelta(days=1), clock.now
        )


@contextlib.asynccontextmanager
async def _broken_rest(handler: web.RouteDef) -> AsyncIterator[str]:
    """A misbehaving REST server on loopback (the simulator's REST is never faulted)."""
    app = web.Application()
    app.router.add_routes([handler])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


RATES = "/v1/products/{product}/gas-tariffs/{tariff}/standard-unit-rates/"


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (200, "<html>", KrakenInvalidResponseError, "HTTP 200"),
        (200, '{"results": [{"value_inc_vat": 5}]}', KrakenInvalidResponseError, None),
        (400, '{"period_from": ["Enter a valid date/time."]}', KrakenRequestError, "HTTP 400"),
        (302, "", KrakenInvalidResponseError, "HTTP 302"),
        (503, "down", KrakenServiceUnavailableError, "HTTP 503"),
        (429, "", KrakenRateLimitError, "HTTP 429"),
    ],
)
async def test_rest_bad_answers(session, clock, socket_enabled, status, body, error, code) -> None:
    """Every bad REST answer maps into the client's error hierarchy."""

    async def answer(_request: web.Request) -> web.Response:
        return web.Response(status=status, text=body, headers={"Location": "/"})

    async with _broken_rest(web.get(RATES, answer)) as url:
        client, _ = make_client(session, url, clock)
        with pytest.raises(error) as caught:
            await client.get_standard_unit_rates(
                Fuel.GAS, "P", "T", clock.now - timedelta(days=1), clock.now
            )
        assert caught.value.code == code


async def test_rest_pagination_is_bounded(session, clock, socket_enabled) -> None:
    """Links to another host are refused; endless pages stop after REST_MAX_PAGES."""

    async def endless(request: web.Request) -> web.Response:
        page = int(request.query.get("page", "1"))
        link = str(request.url.with_query({"page": str(page + 1)}))
        match request.match_info["tariff"]:
            case "AWAY":
                link = "https://elsewhere.example/v1/products/P/gas-tariffs/T/standard-unit-rates/"
            case "RELATIVE":
                link = "/v1/products/P/gas-tariffs/T/standard-unit-rates/?page=2"
        row = {"value_inc_vat": 6.0, "valid_from": f"2026-01-{page:02}T00:00:00Z", "valid_to": None}
        return web.json_response({"count": 99, "next": link, "previous": None, "results": [row]})

    async with _broken_rest(web.get(RATES, endless)) as url:
        client, counts = make_client(session, url, clock)
        period = (clock.now - timedelta(days=1), clock.now)
        for tariff in ("AWAY", "RELATIVE"):
            with pytest.raises(KrakenInvalidResponseError, match="another host"):
                await client.get_standard_unit_rates(Fuel.GAS, "P", tariff, *period)
        assert counts["StandardUnitRates"] == 2
        with pytest.raises(KrakenInvalidResponseError, match="more pages"):
            await client.get_standard_unit_rates(Fuel.GAS, "P", "T", *period)
        assert counts["StandardUnitRates"] == 2 + 12


async def test_rest_requests_carry_no_token(session, clock, socket_enabled) -> None:
    """Product data is public: a client holding a token still sends none to REST."""
    seen: dict[str, list[str | None]] = {"rest": [], "graphql": []}

    @web.middleware
    async def spy(request: web.Request, handler: Any) -> web.StreamResponse:
        kind = "rest" if request.path.startswith("/v1/products/") else "graphql"
        seen[kind].append(request.headers.get("Authorization"))
        response: web.StreamResponse = await handler(request)
        return response

    sim = KrakenSimulator(clock=clock, rate_limit_per_hour=None)
    sim.app.middlewares.append(spy)
    async with run_simulator(sim) as url:
        client, _ = make_client(session, url, clock)
        await client.get_tariffs(SINGLE.account_number)
        await client.get_standard_unit_rates(
            Fuel.GAS, "VAR-22-11-01", "G-1R-VAR-22-11-01-H", clock.now - timedelta(1), clock.now
        )
    assert seen["rest"] == [None]
    assert seen["graphql"][0] is None  # the token request
    assert seen["graphql"][1]  # the Tariff query carried the token
