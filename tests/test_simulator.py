"""The Kraken simulator behaves like the API described in /work/shared/kraken/API.md."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
import itertools
import json
import re
import sys
from typing import Any

import aiohttp
from graphql import parse
import pytest

from custom_components.octopus_home_mini.api.queries import ALL_DOCUMENTS
from tests.conftest import FakeClock
from tests.simulator import (
    ACCOUNTS,
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
from tests.simulator.app import complexity

START = datetime(2025, 3, 14, 16, 29, 32, tzinfo=UTC)
DEVICE = SINGLE.device_ids[0]
TELEMETRY = """
query Telemetry(
  $deviceId: String!, $start: DateTime, $end: DateTime, $grouping: TelemetryGrouping
) {
  smartMeterTelemetry(deviceId: $deviceId, start: $start, end: $end, grouping: $grouping) {
    readAt consumption consumptionDelta demand export costDelta costDeltaWithTax
  }
}
"""
LOGIN = """
mutation Login($input: ObtainJSONWebTokenInput!) {
  obtainKrakenToken(input: $input) { token payload refreshToken refreshExpiresIn }
}
"""
GROUPING_SECONDS = {
    "TEN_SECONDS": 10,
    "ONE_MINUTE": 60,
    "FIVE_MINUTES": 300,
    "HALF_HOURLY": 1800,
    "HOURLY": 3600,
}


@dataclass
class Api:
    """A served simulator plus a client session."""

    sim: KrakenSimulator
    clock: FakeClock
    base_url: str
    session: aiohttp.ClientSession

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        operation_name: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": token} if token is not None else {}
        body = {"query": query, "variables": variables, "operationName": operation_name}
        async with self.session.post(
            f"{self.base_url}/v1/graphql/", json=body, headers=headers
        ) as response:
            if response.content_type != "application/json":
                return response.status, {"text": await response.text()}
            return response.status, await response.json()

    async def login(self, api_key: str = SINGLE.api_key) -> dict[str, Any]:
        status, body = await self.post(LOGIN, {"input": {"APIKey": api_key}})
        assert status == 200, body
        result: dict[str, Any] = body["data"]["obtainKrakenToken"]
        return result

    async def token(self, api_key: str = SINGLE.api_key) -> str:
        return str((await self.login(api_key))["token"])

    async def telemetry(
        self, token: str, device_id: str = DEVICE, **variables: Any
    ) -> tuple[int, dict[str, Any]]:
        return await self.post(TELEMETRY, {"deviceId": device_id, **variables}, f"JWT {token}")

    async def rows(
        self, token: str, device_id: str = DEVICE, **variables: Any
    ) -> list[dict[str, Any]]:
        status, body = await self.telemetry(token, device_id, **variables)
        assert status == 200, body
        assert "errors" not in body, body
        rows: list[dict[str, Any]] = body["data"]["smartMeterTelemetry"]
        return rows

    async def get(self, path_or_url: str) -> tuple[int, Any]:
        url = path_or_url if path_or_url.startswith("http") else self.base_url + path_or_url
        async with self.session.get(url) as response:
            return response.status, await response.json()


def error_code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["errorCode"])


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def _serve(sim: KrakenSimulator, clock: FakeClock) -> AsyncIterator[Api]:
    async with run_simulator(sim) as base_url, aiohttp.ClientSession() as session:
        yield Api(sim, clock, base_url, session)


@pytest.fixture
async def api(socket_enabled: None) -> AsyncIterator[Api]:
    """A simulator at START with default settings."""
    clock = FakeClock(START)
    async for served in _serve(KrakenSimulator(clock=clock), clock):
        yield served


@pytest.fixture
async def limited(socket_enabled: None) -> AsyncIterator[Api]:
    """A simulator with a ceiling of five requests per hour."""
    clock = FakeClock(START)
    async for served in _serve(KrakenSimulator(clock=clock, rate_limit_per_hour=5), clock):
        yield served


# -- GraphQL transport and validation -------------------------------------------------------


async def test_misspelt_field_is_http_400_without_extensions(api: Api) -> None:
    token = await api.token()
    status, body = await api.post(
        f'query {{ smartMeterTelemetry(deviceId: "{DEVICE}") {{ readAt consumptoin }} }}',
        token=token,
    )
    assert status == 400
    assert set(body) == {"errors"}
    assert body["errors"][0]["message"] == (
        "Cannot query field 'consumptoin' on type 'SmartMeterTelemetryType'."
        " Did you mean 'consumption'?"
    )
    assert set(body["errors"][0]) == {"message", "locations"}

    bad_enum = (
        f'{{ smartMeterTelemetry(deviceId: "{DEVICE}", grouping: THIRTY_MINUTES) {{ readAt }} }}'
    )
    status, body = await api.post(bad_enum, token=token)
    assert status == 400
    assert "extensions" not in body["errors"][0]

    status, body = await api.post("query { account(", token=token)
    assert status == 400
    assert body["errors"][0]["message"].startswith("Syntax Error")
    assert [r.status for r in api.sim.requests] == [200, 400, 400, 400]


async def test_a_repeated_root_field_is_refused(api: Api) -> None:
    """Two aliases of one root field: HTTP 200, one error without extensions, no data."""
    token = await api.token()
    twice = (
        f'query {{ a: smartMeterTelemetry(deviceId: "{DEVICE}") {{ readAt }} '
        f'b: smartMeterTelemetry(deviceId: "{DEVICE}") {{ readAt }} }}'
    )
    status, body = await api.post(twice, token=token)
    assert status == 200
    assert body["data"] is None
    assert body["errors"] == [
        {"message": "Field 'smartMeterTelemetry' is repeated 2 times. Maximum allowed is 1."}
    ]


async def test_rate_limit_info_reports_the_points_or_is_unknown(api: Api) -> None:
    """`rateLimitInfo` counts the account's requests in points; switched off, it is refused."""
    token = await api.token()
    query = (
        "query { rateLimitInfo { pointsAllowanceRateLimit "
        "{ limit remainingPoints usedPoints ttl isBlocked } } }"
    )
    await api.telemetry(token)
    status, body = await api.post(query, token=f"JWT {token}")
    assert status == 200, body
    points = body["data"]["rateLimitInfo"]["pointsAllowanceRateLimit"]
    assert points["limit"] == api.sim.points_per_hour
    assert points["usedPoints"] == 3 * api.sim.points_per_request  # token, telemetry, this
    assert points["remainingPoints"] == points["limit"] - points["usedPoints"]
    assert points["isBlocked"] is False
    api.sim.points_used_elsewhere = api.sim.points_per_hour
    status, body = await api.post(query, token=f"JWT {token}")
    assert body["data"]["rateLimitInfo"]["pointsAllowanceRateLimit"]["isBlocked"] is True
    api.sim.rate_limit_info = False
    status, body = await api.post(query, token=f"JWT {token}")
    assert status == 400
    assert "rateLimitInfo" in body["errors"][0]["message"]


async def test_a_document_over_the_complexity_limit_is_refused_whole(api: Api) -> None:
    """Kraken allows a complexity of 200 a request (KT-CT-1188); the client's documents are far
    below it as modelled (one point a field), the largest the account read's."""
    token = await api.token()
    limits = "limit remainingPoints usedPoints ttl isBlocked "
    heavy = "query { rateLimitInfo { pointsAllowanceRateLimit { " + limits * 40 + "} } }"
    assert complexity(parse(heavy)) == 2 + 200
    status, body = await api.post(heavy, token=f"JWT {token}")
    assert status == 200
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["errorCode"] == "KT-CT-1188"
    assert api.sim.requests[-1].error_code == "KT-CT-1188"
    api.sim.max_complexity = None  # a Kraken without the limit answers it
    status, body = await api.post(heavy, token=f"JWT {token}")
    assert body["data"]["rateLimitInfo"]["pointsAllowanceRateLimit"]["isBlocked"] is False
    ours = {name: complexity(parse(doc)) for name, doc in ALL_DOCUMENTS.items()}
    assert max(ours.values()) == ours["Account"] == 52, ours


async def test_variables_aliases_and_fragments(api: Api) -> None:
    token = await api.token()
    query = """
    query Discover($number: String!) {
      me: account(accountNumber: $number) {
        number
        power: electricityAgreements(active: true) {
          validTo
          meterPoint { ...Point }
          tariff {
            __typename
            ... on TariffType { productCode tariffCode }
            ... on HalfHourlyTariff { unitRates { validFrom value preVatValue } }
            ... on StandardTariff { unitRate }
          }
        }
        gasAgreements(active: true) {
          meterPoint { mprn meters { serialNumber smartGasMeter { deviceId } } }
        }
      }
      viewer { accounts { number } }
    }
    fragment Point on ElectricityMeterPointType {
      mpan direction
      meters(includeInactive: false) {
        serialNumber meterType activeTo
        smartImportElectricityMeter { deviceId manufacturer model firmwareVersion }
        smartExportElectricityMeter { deviceId }
      }
      history: agreements(includeInactive: true) { validFrom validTo }
    }
    """
    status, body = await api.post(query, {"number": SINGLE.account_number}, token, "Discover")
    assert status == 200, body
    assert "errors" not in body, body
    account = body["data"]["me"]
    assert account["number"] == "A-1234ABCD"
    assert body["data"]["viewer"] == {"accounts": [{"number": "A-1234ABCD"}]}
    (agreement,) = account["power"]
    point = agreement["meterPoint"]
    assert (point["mpan"], point["direction"]) == ("1900012345678", "IMPORT")
    (meter,) = point["meters"]
    assert meter["serialNumber"] == "21E1234567"
    assert meter["meterType"] == "S2ADE"
    assert meter["smartImportElectricityMeter"]["deviceId"] == DEVICE
    assert meter["smartExportElectricityMeter"] is None
    assert [a["validTo"] for a in point["history"]] == ["2024-09-30T23:00:00+00:00", None]
    tariff = agreement["tariff"]
    assert tariff["__typename"] == "HalfHourlyTariff"
    assert tariff["tariffCode"] == "E-1R-AGILE-24-10-01-H"
    first = tariff["unitRates"][0]
    assert first["validFrom"] == "2025-03-14T00:00:00+00:00"
    assert Decimal(str(first["value"])) == api.sim.unit_rate_pence(
        SINGLE.account_number, START.replace(hour=0, minute=0, second=0)
    )
    assert tariff["unitRates"][-1]["validFrom"] == "2025-03-15T22:30:00+00:00"  # published at 16:00
    gas_meter = account["gasAgreements"][0]["meterPoint"]["meters"][0]
    assert gas_meter["smartGasMeter"]["deviceId"] == "00-0A-1B-FF-FE-2C-3D-5F"
    assert api.sim.requests[-1].operation_name == "Discover"
    assert api.sim.requests[-1].root_fields == ("account", "viewer")


async def test_solar_account_has_an_export_point_on_the_same_device(api: Api) -> None:
    token = await api.token(SOLAR.api_key)
    query = """query($n: String!) { account(accountNumber: $n) {
      electricityAgreements(active: true) {
      meterPoint { mpan direction meters { smartImportElectricityMeter { deviceId }
                                           smartExportElectricityMeter { deviceId } } }
      tariff { ... on TariffType { tariffCode } } } } }"""
    status, body = await api.post(query, {"n": SOLAR.account_number}, token)
    assert status == 200, body
    points = [a["meterPoint"] for a in body["data"]["account"]["electricityAgreements"]]
    assert [p["direction"] for p in points] == ["IMPORT", "EXPORT"]
    assert points[0]["meters"][0]["smartImportElectricityMeter"]["deviceId"] == SOLAR.device_ids[0]
    assert points[1]["meters"][0]["smartExportElectricityMeter"]["deviceId"] == SOLAR.device_ids[0]
    assert points[1]["mpan"] == SOLAR.export_mpan


async def test_datetime_inputs_accept_every_offset_spelling(api: Api) -> None:
    token = await api.token()
    spellings = [
        ("2025-03-14T16:00:00Z", "2025-03-14T16:05:00Z"),
        ("2025-03-14T16:00:00+00:00", "2025-03-14T16:05:00+00:00"),
        ("2025-03-14T16:00:00+0000", "2025-03-14T16:05:00+0000"),
        ("2025-03-14T16:00:00", "2025-03-14T16:05:00"),
        ("2025-03-14T17:00:00+01:00", "2025-03-14T17:05:00+01:00"),
    ]
    results = [
        await api.rows(token, start=start, end=end, grouping="ONE_MINUTE")
        for start, end in spellings
    ]
    assert all(rows == results[0] for rows in results)
    assert [r["readAt"] for r in results[0]][:2] == [
        "2025-03-14T16:00:00+00:00",
        "2025-03-14T16:01:00+00:00",
    ]
    literal = '{ smartMeterTelemetry(deviceId: "%s", start: "2025-03-14T16:00:00+0000", end: "2025-03-14T16:05:00Z", grouping: ONE_MINUTE) { readAt consumption consumptionDelta demand export costDelta costDeltaWithTax } }'  # noqa: E501
    status, body = await api.post(literal % DEVICE, token=f"JWT {token}")
    assert status == 200
    assert body["data"]["smartMeterTelemetry"] == results[0]
    garbled = {"deviceId": DEVICE, "start": "yesterday", "end": iso(START), "grouping": "HOURLY"}
    status, body = await api.post(TELEMETRY, garbled, token)
    assert status == 400
    assert "$start" in body["errors"][0]["message"]
    assert "extensions" not in body["errors"][0]


# -- authentication ---------------------------------------------------------------------------


def _jwt_part(token: str, index: int) -> dict[str, Any]:
    segment = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


async def test_api_key_login_and_refresh(api: Api) -> None:
    first = await api.login()
    iat = int(START.timestamp())
    assert len(first["token"].split(".")) == 3
    assert _jwt_part(first["token"], 0)["alg"] == "RS256"
    assert _jwt_part(first["token"], 1) == first["payload"]
    assert first["payload"]["iat"] == iat
    assert first["payload"]["exp"] == iat + 3600
    assert first["payload"]["gty"] == "API-KEY"
    assert first["payload"]["tokenUse"] == "access"
    assert re.fullmatch(r"[0-9a-f]{64}", first["refreshToken"])
    assert first["refreshExpiresIn"] == iat + 7 * 24 * 3600

    api.clock.advance(minutes=50)
    status, body = await api.post(LOGIN, {"input": {"refreshToken": first["refreshToken"]}})
    renewed = body["data"]["obtainKrakenToken"]
    assert status == 200
    assert renewed["token"] != first["token"]
    assert renewed["payload"]["exp"] == iat + 3000 + 3600
    assert renewed["payload"]["origIat"] == iat
    assert renewed["refreshToken"] == first["refreshToken"]  # not rotated
    assert renewed["refreshExpiresIn"] == first["refreshExpiresIn"]  # not extended
    for header in (renewed["token"], f"JWT {renewed['token']}"):
        status, body = await api.post("{ viewer { email } }", token=header)
        assert body["data"]["viewer"]["email"] == SINGLE.email
    assert api.sim.issued_tokens == 2
    assert api.sim.token_requests == 2


async def test_wrong_api_key_is_kt_ct_1139(api: Api) -> None:
    status, body = await api.post(LOGIN, {"input": {"APIKey": "sk_live_nope"}})
    assert status == 200
    assert body["data"] == {"obtainKrakenToken": None}
    error = body["errors"][0]
    assert error["path"] == ["obtainKrakenToken"]
    assert error["message"] == "Invalid data."
    assert error["extensions"]["errorCode"] == "KT-CT-1139"
    assert error["extensions"]["errorType"] == "VALIDATION"
    assert error["extensions"]["validationErrors"] == [
        {"message": "Authentication failed.", "inputPath": ["input", "apiKey"]}
    ]


async def test_refresh_token_errors(api: Api) -> None:
    login = await api.login()
    cases = [
        ({"refreshToken": "0" * 64}, "KT-CT-1135"),
        ({"refreshToken": login["refreshToken"], "APIKey": SINGLE.api_key}, "KT-CT-1135"),
        ({"email": "a@example.com", "password": "x"}, "KT-CT-1138"),
    ]
    for credentials, code in cases:
        status, body = await api.post(LOGIN, {"input": credentials})
        assert (status, error_code(body)) == (200, code)
    api.clock.advance(days=7, seconds=1)
    status, body = await api.post(LOGIN, {"input": {"refreshToken": login["refreshToken"]}})
    assert error_code(body) == "KT-CT-1134"
    assert body["errors"][0]["extensions"]["errorDescription"] == "The refresh token has expired."


async def test_access_token_expires_after_an_hour(api: Api) -> None:
    token = await api.token()
    query = f'{{ account(accountNumber: "{SINGLE.account_number}") {{ number }} }}'
    api.clock.advance(seconds=3600)
    status, body = await api.post(query, token=token)
    assert body["data"]["account"]["number"] == SINGLE.account_number  # now == exp still valid
    api.clock.advance(seconds=1)
    status, body = await api.post(query, token=token)
    assert status == 200
    assert body["data"] == {"account": None}
    error = body["errors"][0]
    assert error["message"] == "Signature of the JWT has expired."
    assert error["extensions"] == {
        "errorType": "APPLICATION",
        "errorCode": "KT-CT-1124",
        "errorDescription": "",
    }
    assert error["path"] == ["account"]
    assert error["locations"]


async def test_authorization_header_errors(api: Api) -> None:
    token = await api.token()
    query = f'{{ smartMeterTelemetry(deviceId: "{DEVICE}") {{ readAt }} }}'
    for header, code in [
        (None, "KT-CT-1112"),
        ("garbage", "KT-CT-1143"),
        (f"Bearer {token}", "KT-CT-1143"),
        (token[:-3] + "abc", "KT-CT-1143"),
    ]:
        status, body = await api.post(query, token=header)
        assert (status, error_code(body)) == (200, code)
        assert body["data"] == {"smartMeterTelemetry": None}


async def test_account_of_someone_else_is_unauthorized(api: Api) -> None:
    token = await api.token()
    for number in (NOMINI.account_number, "A-99999999"):
        status, body = await api.post(
            "query($n: String!) { account(accountNumber: $n) { number } }", {"n": number}, token
        )
        assert status == 200
        assert body["data"] == {"account": None}
        assert error_code(body) == "KT-CT-4177"
        assert body["errors"][0]["message"] == "Unauthorized."


# -- telemetry --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grouping", "span"),
    [
        ("TEN_SECONDS", timedelta(hours=1)),
        ("ONE_MINUTE", timedelta(hours=2)),
        ("FIVE_MINUTES", timedelta(hours=6)),
        ("HALF_HOURLY", timedelta(days=1)),
        ("HOURLY", timedelta(days=2)),
    ],
)
async def test_grouped_buckets_are_consistent(api: Api, grouping: str, span: timedelta) -> None:
    token = await api.token()
    api.clock.advance(hours=1)  # now 17:29:32; the range ends in the future
    now = api.clock.now
    if span >= timedelta(days=1):
        start = now.replace(hour=0, minute=0, second=0)
        end = start + span
    else:
        start = (now - span).replace(second=0)
        end = now + timedelta(minutes=10)
    rows = await api.rows(token, start=iso(start), end=iso(end), grouping=grouping)
    size = GROUPING_SECONDS[grouping]
    times = [datetime.fromisoformat(r["readAt"]) for r in rows]
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    assert all(int(t.timestamp()) % size == 0 for t in times)
    assert times[0] == datetime.fromtimestamp(start.timestamp() // size * size, UTC)
    last_readable = now - timedelta(seconds=30)
    assert times[-1] <= last_readable < times[-1] + timedelta(seconds=size)  # partial bucket in
    for previous, row in itertools.pairwise(rows):
        assert Decimal(row["consumption"]) - Decimal(previous["consumption"]) == Decimal(
            row["consumptionDelta"]
        )
    truth_before = api.sim.register_wh(DEVICE, start - timedelta(seconds=10))
    assert Decimal(rows[0]["consumption"]) - truth_before == Decimal(rows[0]["consumptionDelta"])
    assert Decimal(rows[-1]["consumption"]) == api.sim.register_wh(DEVICE, last_readable)
    total = sum(Decimal(r["costDeltaWithTax"]) for r in rows)
    assert total == api.sim.true_cost_pence(DEVICE, start, last_readable)
    assert all(
        Decimal(r["costDelta"]) * Decimal("1.05") == Decimal(r["costDeltaWithTax"]) for r in rows
    )
    assert all(r["export"] is None for r in rows)


async def test_ten_second_rows_are_the_true_samples(api: Api) -> None:
    token = await api.token()
    start = START - timedelta(minutes=10)
    rows = await api.rows(token, start=iso(start), end=iso(START), grouping="TEN_SECONDS")
    samples = api.sim.samples(DEVICE, start, START - timedelta(seconds=30))
    assert len(rows) == len(samples) == 57
    for row, sample in zip(rows, samples, strict=True):
        assert datetime.fromisoformat(row["readAt"]) == sample.read_at
        assert Decimal(row["consumption"]) == sample.register_wh
        assert Decimal(row["consumptionDelta"]) == sample.delta_wh
        assert Decimal(row["demand"]) == sample.demand_w
        assert Decimal(row["costDeltaWithTax"]) == sample.cost_with_tax_pence
    assert any(r["consumptionDelta"] == "0E+1" for r in rows)
    assert re.fullmatch(r"\d+\.0", rows[0]["consumption"])


async def test_lag_decides_what_is_readable(socket_enabled: None) -> None:
    clock = FakeClock(START)
    async for api in _serve(KrakenSimulator(clock=clock, lag_seconds=120), clock):
        token = await api.token()
        (latest,) = await api.rows(token)
        assert latest["readAt"] == "2025-03-14T16:27:30+00:00"  # 16:29:32 - 120 s, floored
        assert api.sim.latest_readable(DEVICE).read_at.isoformat() == latest["readAt"]  # type: ignore[union-attr]
        clock.advance(seconds=8)  # 16:29:40: the 16:27:40 sample has just become readable
        (latest,) = await api.rows(token)
        assert latest["readAt"] == "2025-03-14T16:27:40+00:00"
        assert Decimal(latest["consumption"]) == api.sim.register_wh(
            DEVICE, clock.now - timedelta(seconds=120)
        )
        rows = await api.rows(
            token, start=iso(START), end=iso(START + timedelta(hours=1)), grouping="TEN_SECONDS"
        )
        assert rows == []  # nothing after 16:29:32 is readable yet


async def test_telemetry_argument_errors(api: Api) -> None:
    token = await api.token()
    day_ago = iso(START - timedelta(days=1))

    def span(start: datetime, grouping: str = "HOURLY") -> dict[str, Any]:
        return {"start": iso(start), "end": iso(START), "grouping": grouping}

    cases = [
        ({"start": day_ago}, "KT-GB-4040"),
        ({"start": day_ago, "end": iso(START), "grouping": None}, "KT-GB-4040"),
        (span(START), "KT-GB-4041"),
        ({"start": iso(START), "end": day_ago, "grouping": "HOURLY"}, "KT-GB-4041"),
        (span(START - timedelta(days=15)), "KT-GB-4051"),
        (span(START - timedelta(days=2), "TEN_SECONDS"), "KT-CT-1189"),
        ({"deviceId": "12-34-5A-FF-FF-6B-C7-89"}, "KT-GB-4050"),
        ({"deviceId": TWOMETERS.device_ids[0]}, "KT-CT-1111"),
    ]
    for variables, code in cases:
        status, body = await api.post(TELEMETRY, {"deviceId": DEVICE, **variables}, token)
        assert (status, error_code(body)) == (200, code), variables
        assert body["data"] == {"smartMeterTelemetry": None}
    status, body = await api.post(TELEMETRY, {"deviceId": "nope"}, token)
    assert body["errors"][0]["message"] == "Smart meter not found."
    assert body["errors"][0]["extensions"]["errorType"] == "NOT_FOUND"
    day = {"start": iso(START - timedelta(days=1)), "end": iso(START), "grouping": "TEN_SECONDS"}
    assert len(await api.rows(token, **day)) == 8640 - 3  # a day of 10 s rows is under the cap


async def test_devices_without_a_home_mini_return_empty_lists(api: Api) -> None:
    token = await api.token()
    assert await api.rows(token, SINGLE.gas_device_id or "") == []
    no_mini = await api.token(NOMINI.api_key)
    assert await api.rows(no_mini, NOMINI.device_ids[0]) == []
    day = {"start": iso(START - timedelta(hours=1)), "end": iso(START), "grouping": "ONE_MINUTE"}
    assert await api.rows(no_mini, NOMINI.device_ids[0], **day) == []


async def test_solar_meter_exports_at_noon(api: Api) -> None:
    token = await api.token(SOLAR.api_key)
    device = SOLAR.device_ids[0]
    day = START.replace(hour=0, minute=0, second=0)
    rows = await api.rows(token, device, start=iso(day), end=iso(START), grouping="HALF_HOURLY")
    by_time = {datetime.fromisoformat(r["readAt"]).strftime("%H:%M"): r for r in rows}
    assert Decimal(by_time["12:00"]["demand"]) < 0 < Decimal(by_time["02:00"]["demand"])
    assert Decimal(by_time["12:00"]["export"]) > Decimal(by_time["02:00"]["export"])
    assert by_time["02:00"]["export"] == by_time["03:00"]["export"]  # no export at night
    noon = api.sim.samples(device, day.replace(hour=12), day.replace(hour=12, minute=5))
    assert all(s.delta_wh == 0 and s.cost_with_tax_pence == 0 for s in noon if s.demand_w < 0)
    assert api.sim.export_wh(DEVICE, START) is None


async def test_fixed_rate_costs(api: Api) -> None:
    token = await api.token(TWOMETERS.api_key)
    assert api.sim.unit_rate_pence(TWOMETERS.account_number, START) == Decimal("24.57")
    day = START.replace(hour=0, minute=0, second=0)
    for device in TWOMETERS.device_ids:
        rows = await api.rows(token, device, start=iso(day), end=iso(START), grouping="HALF_HOURLY")
        assert len(rows) == 33  # 00:00 ... 16:00, the last one partial
        for row in rows:
            expected = Decimal(row["consumptionDelta"]) * Decimal("24.57") / 1000
            assert Decimal(row["costDeltaWithTax"]) == expected
    first, second = (api.sim.register_wh(d, START) for d in TWOMETERS.device_ids)
    assert first != second


async def test_glitches_change_only_the_reported_consumption(api: Api) -> None:
    token = await api.token()
    minute = START.replace(minute=20, second=0)
    kinds = {"zero": "0.0", "decrease": None, "null": None}
    for offset, kind in enumerate(kinds):
        api.sim.add_glitch(DEVICE, minute + timedelta(minutes=offset, seconds=50), kind)
    rows = await api.rows(
        token, start=iso(minute), end=iso(minute + timedelta(minutes=3)), grouping="ONE_MINUTE"
    )
    truth = [
        api.sim.register_wh(DEVICE, minute + timedelta(minutes=n, seconds=50)) for n in range(3)
    ]
    assert [r["consumption"] for r in rows] == ["0.0", f"{truth[1] - 500}.0", None]
    assert [Decimal(r["consumptionDelta"]) for r in rows] == [
        truth[0] - api.sim.register_wh(DEVICE, minute - timedelta(seconds=10)),
        truth[1] - truth[0],
        truth[2] - truth[1],
    ]
    tens = await api.rows(
        token,
        start=iso(minute + timedelta(seconds=40)),
        end=iso(minute + timedelta(minutes=1)),
        grouping="TEN_SECONDS",
    )
    assert [r["consumption"] for r in tens] == [
        f"{api.sim.register_wh(DEVICE, minute + timedelta(seconds=40))}.0",
        "0.0",
    ]


# -- rate limiting ----------------------------------------------------------------------------


async def test_rate_limit_after_the_ceiling(limited: Api) -> None:
    api = limited
    token = await api.token()  # request 1 of 5
    for _ in range(4):
        assert len(await api.rows(token)) == 1
    status, body = await api.telemetry(token)
    assert (status, error_code(body)) == (200, "KT-GB-4042")
    status, body = await api.post(
        f'{{ account(accountNumber: "{SINGLE.account_number}") {{ number }} }}', token=token
    )
    assert body["errors"][0]["message"] == "Too many requests."
    assert body["errors"][0]["extensions"] == {
        "errorType": "AUTHORIZATION",
        "errorCode": "KT-CT-1199",
        "errorDescription": "There were too many requests. Please try again later.",
    }
    status, body = await api.post(LOGIN, {"input": {"APIKey": SINGLE.api_key}})
    assert error_code(body) == "KT-CT-1199"
    assert body["errors"][0]["path"] == ["obtainKrakenToken"]
    other = await api.token(TWOMETERS.api_key)  # limits are per account
    assert len(await api.rows(other, TWOMETERS.device_ids[0])) == 1
    assert api.sim.request_count(account_number=SINGLE.account_number) == 8
    assert api.sim.request_count(SINGLE.account_number, root_field="smartMeterTelemetry") == 5
    api.clock.advance(minutes=59, seconds=59)
    status, body = await api.telemetry(token)
    assert error_code(body) == "KT-GB-4042"  # rejected requests count as well
    api.clock.advance(hours=1)  # the old calls have left the window (and the token expired)
    assert len(await api.rows(await api.token())) == 1


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code", "hits_account"),
    [
        ("outage", "KT-GB-4039", False),
        ("network", "KT-GB-4043", False),
        ("no_han", "KT-GB-4056", False),
        ("rate_limit_telemetry", "KT-GB-4042", False),
        ("internal", "KT-CT-7899", True),
        ("rate_limit", "KT-CT-1199", True),
        ("rate_limit_backend", "OE-0002", True),
    ],
)
async def test_field_faults(api: Api, kind: str, code: str, hits_account: bool) -> None:
    token = await api.token()
    api.sim.set_fault(kind, count=2)
    query = f'query Both {{ account(accountNumber: "{SINGLE.account_number}") {{ number }} smartMeterTelemetry(deviceId: "{DEVICE}") {{ readAt }} }}'  # noqa: E501
    status, body = await api.post(query, token=token)
    assert status == 200
    assert {e["path"][0]: e["extensions"]["errorCode"] for e in body["errors"]} == (
        {"account": code, "smartMeterTelemetry": code}
        if hits_account
        else {"smartMeterTelemetry": code}
    )
    assert body["data"]["smartMeterTelemetry"] is None
    assert (body["data"]["account"] is None) == hits_account
    status, body = await api.telemetry(token)
    assert error_code(body) == code
    assert len(await api.rows(token)) == 1  # count exhausted


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("http_502", 502, "text/html"),
        ("http_504", 504, "text/html"),
        ("http_403_html", 403, "text/html"),
        ("http_429", 429, "application/json"),
        ("malformed_json", 200, "application/json"),
    ],
)
async def test_http_faults(api: Api, kind: str, status: int, content_type: str) -> None:
    token = await api.token()
    api.sim.set_fault(kind, count=1, seconds=7)
    body = {"query": TELEMETRY, "variables": {"deviceId": DEVICE}}
    headers = {"Authorization": token}
    async with api.session.post(
        f"{api.base_url}/v1/graphql/", json=body, headers=headers
    ) as response:
        text = await response.text()
        assert (response.status, response.content_type) == (status, content_type)
        if kind == "http_429":
            assert response.headers["Retry-After"] == "7"
        if kind == "http_403_html":
            assert "The request could not be satisfied" in text
        if kind == "malformed_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(text)
    assert api.sim.requests[-1].status == status
    assert len(await api.rows(token)) == 1


async def test_timeout_fault_delays_the_answer(api: Api) -> None:
    token = await api.token()
    api.sim.set_fault("timeout", count=1, seconds=5)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await api.rows(token)
    api.sim.set_fault("timeout", count=1, seconds=0.05)
    assert len(await api.rows(token)) == 1  # answered normally after the delay


async def test_fault_filters_by_operation_and_until(api: Api) -> None:
    token = await api.token()
    api.sim.set_fault("internal", operation="account", until=START + timedelta(minutes=1))
    assert len(await api.rows(token)) == 1
    query = f'query Acc {{ account(accountNumber: "{SINGLE.account_number}") {{ number }} }}'
    status, body = await api.post(query, token=token)
    assert error_code(body) == "KT-CT-7899"
    api.sim.set_fault("http_502", operation="Telemetry")
    status, _ = await api.telemetry(token)
    assert status == 502
    api.sim.clear_faults()
    api.clock.advance(minutes=1)
    api.sim.set_fault("outage", operation="Other")
    status, body = await api.post(query, token=token)
    assert body["data"]["account"]["number"] == SINGLE.account_number
    assert len(await api.rows(token)) == 1
    with pytest.raises(ValueError, match="unknown fault kind"):
        api.sim.set_fault("gremlins")


async def test_token_faults(api: Api) -> None:
    login = await api.login()
    api.sim.set_fault("expire_tokens")
    _, body = await api.telemetry(login["token"])
    assert error_code(body) == "KT-CT-1124"
    _, body = await api.post(LOGIN, {"input": {"refreshToken": login["refreshToken"]}})
    fresh = body["data"]["obtainKrakenToken"]["token"]
    assert len(await api.rows(fresh)) == 1
    api.sim.set_fault("revoke_refresh_tokens")
    _, body = await api.post(LOGIN, {"input": {"refreshToken": login["refreshToken"]}})
    assert error_code(body) == "KT-CT-1135"
    assert len(await api.rows(await api.token())) == 1  # the API key still works


async def test_stale_home_mini_leaves_a_gap(api: Api) -> None:
    token = await api.token()
    api.sim.set_fault("stale")  # at 16:29:32: the 16:29:30 sample is the last upload
    api.clock.advance(minutes=5)
    (latest,) = await api.rows(token)
    assert latest["readAt"] == "2025-03-14T16:29:30+00:00"
    api.sim.clear_faults()  # at 16:34:32: uploads resume with 16:34:40
    api.clock.advance(minutes=2)
    (latest,) = await api.rows(token)
    assert latest["readAt"] == "2025-03-14T16:36:00+00:00"
    start = START.replace(minute=29, second=0)
    rows = await api.rows(token, start=iso(start), end=iso(api.clock.now), grouping="TEN_SECONDS")
    times = [r["readAt"][11:19] for r in rows]
    assert times[:5] == ["16:29:00", "16:29:10", "16:29:20", "16:29:30", "16:34:40"]
    jump = Decimal(rows[4]["consumptionDelta"])
    truth = api.sim.register_wh(DEVICE, START.replace(minute=34, second=40))
    assert jump == truth - api.sim.register_wh(DEVICE, START.replace(second=30)) > 10
    minutes = await api.rows(token, start=iso(start), end=iso(api.clock.now), grouping="ONE_MINUTE")
    assert [r["readAt"][11:16] for r in minutes] == ["16:29", "16:34", "16:35", "16:36"]
    for previous, row in itertools.pairwise(minutes):
        delta = Decimal(row["consumption"]) - Decimal(previous["consumption"])
        assert delta == Decimal(row["consumptionDelta"])


# -- REST -------------------------------------------------------------------------------------


async def test_rest_unit_rates_paginate_newest_first(api: Api) -> None:
    product, tariff = "AGILE-24-10-01", "E-1R-AGILE-24-10-01-H"
    path = (
        f"/v1/products/{product}/electricity-tariffs/{tariff}/standard-unit-rates/"
        "?period_from=2025-03-13T00:00:00Z&period_to=2025-03-14T00:00:00Z&page_size=10"
    )
    status, page = await api.get(path)
    assert status == 200
    assert page["count"] == 48
    assert page["previous"] is None
    results = list(page["results"])
    while page["next"]:
        assert page["next"].startswith(api.base_url + "/v1/products/")
        assert "period_from=" in page["next"]
        status, page = await api.get(page["next"])
        results.extend(page["results"])
    assert page["previous"].endswith("page=4")
    assert len(results) == 48
    starts = [r["valid_from"] for r in results]
    assert starts[0] == "2025-03-13T23:30:00Z"
    assert starts[-1] == "2025-03-13T00:00:00Z"
    assert all(
        older["valid_to"] == newer["valid_from"] for newer, older in itertools.pairwise(results)
    )
    for row in results:
        at = datetime.fromisoformat(row["valid_from"])
        assert Decimal(str(row["value_inc_vat"])) == api.sim.unit_rate_pence(
            SINGLE.account_number, at
        )
        assert row["value_inc_vat"] == pytest.approx(row["value_exc_vat"] * 1.05)
        assert -5 <= row["value_inc_vat"] <= 35
        assert row["payment_method"] is None
    status, second = await api.get(path + "&page=2")
    assert "page=" not in second["previous"]
    status, body = await api.get(path + "&page=9")
    assert (status, body) == (404, {"detail": "Invalid page."})


async def test_rest_fixed_tariff_and_errors(api: Api) -> None:
    base = "/v1/products/VAR-22-11-01/electricity-tariffs/E-1R-VAR-22-11-01-A"
    status, body = await api.get(f"{base}/standard-unit-rates/?period_from=2025-01-01T00:00Z")
    assert status == 200
    assert body["count"] == 2
    assert [(r["value_inc_vat"], r["payment_method"], r["valid_to"]) for r in body["results"]] == [
        (24.57, "DIRECT_DEBIT", None),
        (25.83, "NON_DIRECT_DEBIT", None),
    ]
    status, body = await api.get(f"{base}/standing-charges/")
    assert body["results"][0]["value_inc_vat"] == 53.35
    status, body = await api.get(base.replace("VAR-22-11-01/", "NOPE-1/") + "/standing-charges/")
    assert (status, body) == (404, {"detail": "No EnergyProduct matches the given query."})
    status, body = await api.get(f"{base[:-1]}Z/standard-unit-rates/")
    assert status == 404
    status, body = await api.get(
        "/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-C/standard-unit-rates/"
    )
    published = datetime(2025, 3, 15, 23, 0, tzinfo=UTC) - datetime(2024, 9, 30, 23, 0, tzinfo=UTC)
    assert status == 200
    assert body["count"] == published // timedelta(minutes=30)
    assert body["next"].endswith("page=2")
    assert body["results"][0]["valid_to"] == "2025-03-15T23:00:00Z"  # tomorrow's prices are out


# -- control endpoints and the Python surface -----------------------------------------------


async def test_control_endpoints(api: Api) -> None:
    token = await api.token()
    async with api.session.post(
        f"{api.base_url}/_sim/faults", json={"kind": "outage", "count": 1}
    ) as response:
        assert response.status == 200
    status, body = await api.telemetry(token)
    assert error_code(body) == "KT-GB-4039"
    async with api.session.post(f"{api.base_url}/_sim/faults", json={"kind": "outage"}) as response:
        assert response.status == 200
    async with api.session.delete(f"{api.base_url}/_sim/faults") as response:
        assert response.status == 200
    assert len(await api.rows(token)) == 1
    async with api.session.post(f"{api.base_url}/_sim/faults", json={"kind": "nope"}) as response:
        assert response.status == 400
    status, truth = await api.get(f"/_sim/truth?device_id={DEVICE}")
    assert status == 200
    assert truth["register_wh"] == api.sim.register_wh(DEVICE, START)
    assert truth["export_wh"] is None
    assert truth["latest_readable"]["read_at"] == "2025-03-14T16:29:00+00:00"
    status, log = await api.get("/_sim/requests")
    assert len(log) == len(api.sim.requests) == 3
    assert log[1] == {
        "at": START.isoformat(),
        "operation_name": "Telemetry",
        "root_fields": ["smartMeterTelemetry"],
        "account_number": SINGLE.account_number,
        "status": 200,
        "error_code": "KT-GB-4039",
        "grouping": None,  # no range: the latest reading
        "complexity": 8,  # one point a field selected
    }
    status, _ = await api.get("/_sim/truth?device_id=nope")
    assert status == 404


async def test_household_model_is_deterministic_and_plausible() -> None:
    clock = FakeClock(START)
    one, two = KrakenSimulator(clock=clock), KrakenSimulator(clock=clock)
    day = START.replace(hour=0, minute=0, second=0)
    samples = one.samples(DEVICE, day, day + timedelta(days=1))
    assert samples == two.samples(DEVICE, day, day + timedelta(days=1))
    assert one.register_wh(DEVICE, day - timedelta(microseconds=1)) == 22_905_000  # epoch base
    registers = [s.register_wh for s in samples]
    assert registers == sorted(registers)
    assert all(
        s.delta_wh == b - a
        for s, a, b in zip(samples[1:], registers[:-1], registers[1:], strict=True)
    )
    night = [int(s.demand_w) for s in samples if s.read_at.hour == 3]
    assert min(night) >= 150
    assert max(night) < 400
    assert max(int(s.demand_w) for s in samples) > 2500  # kettle / oven
    assert min(int(s.demand_w) for s in samples) >= 150
    assert 3_000 < registers[-1] - registers[0] < 20_000  # 3-20 kWh a day
    rates = [
        one.unit_rate_pence(SINGLE.account_number, day + timedelta(minutes=30 * n))
        for n in range(48 * 14)
    ]
    assert min(rates) < 0 < max(rates) <= 35
    assert len(set(rates)) > 100


async def test_registers_far_from_the_epoch() -> None:
    """Registers days away agree with each other (their speed is scripts/bench's to measure)."""
    sim = KrakenSimulator(clock=FakeClock(START))
    later = START + timedelta(days=8)
    ahead = sim.register_wh(DEVICE, later)
    behind = sim.register_wh(DEVICE, START - timedelta(days=8))
    minutes = [sim.register_wh(DEVICE, later + timedelta(minutes=m)) for m in range(60)]
    assert minutes == sorted(minutes)
    assert minutes[0] == ahead
    assert behind < 22_905_000 < sim.register_wh(DEVICE, START) < ahead
    assert sim.true_cost_pence(DEVICE, START, START) == 0


async def test_an_hour_of_ten_second_rows(api: Api) -> None:
    """An hour of TEN_SECONDS rows, twice alike (its speed is measured by scripts/bench)."""
    token = await api.token()
    window = {
        "start": iso(START - timedelta(hours=1)),
        "end": iso(START),
        "grouping": "TEN_SECONDS",
    }
    first = await api.rows(token, **window)
    rows = await api.rows(token, **window)
    assert rows == first
    assert len(rows) == 357


async def test_module_runs_as_a_server(socket_enabled: None) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.simulator", "--port", "0", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        prefix = "Kraken simulator listening on "
        assert line.startswith(f"{prefix}http://127.0.0.1:")
        listing = [(await process.stdout.readline()).decode() for _ in ACCOUNTS]
        assert [f.api_key in text for f, text in zip(ACCOUNTS, listing, strict=True)]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{line.removeprefix(prefix)}/_sim/truth?device_id={DEVICE}") as response,
        ):
            assert response.status == 200
            assert (await response.json())["register_wh"] > 22_905_000
    finally:
        process.terminate()
        assert await process.wait() == 0


# -- gas --------------------------------------------------------------------------------------

GAS = DUAL.gas[0].device_id
GAS_ACCOUNT = """
query Gas($number: String!, $inactive: Boolean) {
  account(accountNumber: $number) {
    electricityAgreements(active: true) { meterPoint { mpan } }
    gasAgreements(active: true) {
      validFrom validTo
      tariff {
        __typename productCode tariffCode displayName standingCharge preVatStandingCharge
        unitRate preVatUnitRate
      }
      meterPoint {
        mprn
        meters(includeInactive: $inactive) {
          serialNumber activeFrom activeTo consumptionUnits mechanism
          smartGasMeter { deviceId }
        }
      }
    }
  }
}
"""


async def gas_account(api: Api, api_key: str, number: str, inactive: bool) -> dict[str, Any]:
    token = await api.token(api_key)
    status, body = await api.post(GAS_ACCOUNT, {"number": number, "inactive": inactive}, token)
    assert status == 200, body
    assert "errors" not in body, body
    account: dict[str, Any] = body["data"]["account"]
    return account


async def test_gas_accounts_in_graphql(api: Api) -> None:
    dual = await gas_account(api, DUAL.api_key, DUAL.account_number, False)
    assert [a["meterPoint"]["mpan"] for a in dual["electricityAgreements"]] == list(DUAL.mpans)
    (agreement,) = dual["gasAgreements"]
    assert agreement["tariff"] == {
        "__typename": "GasTariffType",
        "productCode": "VAR-22-11-01",
        "tariffCode": "G-1R-VAR-22-11-01-H",
        "displayName": "Flexible Octopus",
        "standingCharge": 31.43,
        "preVatStandingCharge": 29.9333,
        "unitRate": 6.237,
        "preVatUnitRate": 5.94,
    }
    assert (agreement["validFrom"], agreement["validTo"]) == ("2024-09-30T23:00:00+00:00", None)
    (meter,) = agreement["meterPoint"]["meters"]
    assert meter["smartGasMeter"] == {"deviceId": GAS}
    assert (meter["consumptionUnits"], meter["mechanism"]) == ("m³", "S2")

    only = await gas_account(api, GASONLY.api_key, GASONLY.account_number, False)
    assert only["electricityAgreements"] == []
    assert only["gasAgreements"][0]["meterPoint"]["mprn"] == GASONLY.gas_mprn

    # BottlecapDave #1672: the record without a smart device comes first on the meter point.
    dup = await gas_account(api, GASDUP.api_key, GASDUP.account_number, False)
    meters = dup["gasAgreements"][0]["meterPoint"]["meters"]
    assert [m["smartGasMeter"] for m in meters] == [None, {"deviceId": GASDUP.gas_device_id}]
    assert all(m["activeTo"] is None for m in meters)
    everything = await gas_account(api, GASDUP.api_key, GASDUP.account_number, True)
    meters = everything["gasAgreements"][0]["meterPoint"]["meters"]
    assert [m["activeTo"] for m in meters] == [None, "2023-04-23", None]
    retired = meters[1]["smartGasMeter"]["deviceId"]
    token = await api.token(GASDUP.api_key)
    status, body = await api.telemetry(token, retired)
    assert (status, error_code(body)) == (200, "KT-GB-4050")  # the old device serves nothing


@pytest.mark.parametrize("grouping", ["TEN_SECONDS", "ONE_MINUTE", "FIVE_MINUTES", "HALF_HOURLY"])
async def test_gas_is_one_row_per_half_hour_at_any_grouping(api: Api, grouping: str) -> None:
    token = await api.token(DUAL.api_key)
    day = START.replace(hour=0, minute=0, second=0)
    rows = await api.rows(token, GAS, start=iso(day), end=iso(START), grouping=grouping)
    truth = api.sim.half_hours(GAS, day, START)
    # 16:29:32 with the default 5-minute lag: 15:30-16:00 is the newest published half hour.
    assert [datetime.fromisoformat(r["readAt"]) for r in rows] == [h.read_at for h in truth[:32]]
    for row, half_hour in zip(rows, truth, strict=False):
        assert Decimal(row["consumption"]) == half_hour.register_wh
        assert Decimal(row["consumptionDelta"]) == half_hour.energy_wh
        assert Decimal(row["costDeltaWithTax"]) == half_hour.cost_with_tax_pence
        assert Decimal(row["costDelta"]) == half_hour.energy_wh * Decimal("5.94") / 1000
        assert (row["demand"], row["export"]) == (None, None)
    assert any(r["consumptionDelta"] == "0E+1" for r in rows)  # no gas burnt at night
    before = api.sim.register_wh(GAS, day)
    assert Decimal(rows[0]["consumption"]) - before == Decimal(rows[0]["consumptionDelta"])
    (latest,) = await api.rows(token, GAS)
    assert latest == rows[-1]


async def test_gas_hourly_merges_two_half_hours(api: Api) -> None:
    token = await api.token(DUAL.api_key)
    day = START.replace(hour=0, minute=0, second=0)
    halves = await api.rows(token, GAS, start=iso(day), end=iso(START), grouping="HALF_HOURLY")
    hours = await api.rows(token, GAS, start=iso(day), end=iso(START), grouping="HOURLY")
    assert [r["readAt"][11:16] for r in hours] == [f"{h:02}:00" for h in range(16)]
    for hour, pair in zip(hours, itertools.batched(halves, 2, strict=False), strict=True):
        assert hour["consumption"] == pair[-1]["consumption"]
        assert Decimal(hour["consumptionDelta"]) == sum(
            Decimal(r["consumptionDelta"]) for r in pair
        )
        assert Decimal(hour["costDeltaWithTax"]) == sum(
            Decimal(r["costDeltaWithTax"]) for r in pair
        )
    assert hours[-1]["readAt"][11:16] == "15:00"  # partial: only 15:30 of 15:xx is out
    assert hours[-1]["consumptionDelta"] == halves[-1]["consumptionDelta"]


async def test_gas_lag_decides_what_is_readable(socket_enabled: None) -> None:
    clock = FakeClock(START)
    async for api in _serve(KrakenSimulator(clock=clock, gas_lag_seconds=600), clock):
        token = await api.token(GASONLY.api_key)
        device = GASONLY.gas_device_id or ""
        (latest,) = await api.rows(token, device)
        assert latest["readAt"] == "2025-03-14T15:30:00+00:00"  # ended 16:00, out at 16:10
        clock.now = START.replace(minute=39, second=59)
        (latest,) = await api.rows(token, device)
        assert latest["readAt"] == "2025-03-14T15:30:00+00:00"
        clock.now = START.replace(minute=40, second=0)  # 16:00-16:30 ended + 10 minutes
        (latest,) = await api.rows(token, device)
        assert latest["readAt"] == "2025-03-14T16:00:00+00:00"
        truth = api.sim.latest_gas_readable(device)
        assert truth is not None
        assert truth.read_at.isoformat() == latest["readAt"]
        assert Decimal(latest["consumption"]) == truth.register_wh
        assert Decimal(latest["consumption"]) == api.sim.register_wh(device, clock.now)
        ahead = {"start": iso(clock.now), "end": iso(clock.now + timedelta(hours=2))}
        assert await api.rows(token, device, grouping="TEN_SECONDS", **ahead) == []


async def test_gas_household_is_deterministic_and_plausible() -> None:
    clock = FakeClock(START)
    one, two = KrakenSimulator(clock=clock), KrakenSimulator(clock=clock)
    day = START.replace(hour=0, minute=0, second=0)
    week = one.half_hours(GAS, day - timedelta(days=7), day)
    assert week == two.half_hours(GAS, day - timedelta(days=7), day)
    registers = [h.register_wh for h in week]
    assert all(
        b - a == h.energy_wh for a, b, h in zip(registers, registers[1:], week[1:], strict=False)
    )
    for first in range(0, len(week), 48):
        today = week[first : first + 48]
        total = sum(h.energy_wh for h in today)
        assert 15_000 < total < 45_000  # a winter day's gas
        heating = sum(
            h.energy_wh for h in today if 6 <= h.read_at.hour < 9 or 17 <= h.read_at.hour < 22
        )
        assert heating > 0.75 * total  # morning and evening heating dominate
        assert all(h.energy_wh == 0 for h in today if 0 <= h.read_at.hour < 5)
    assert len({h.energy_wh for h in week}) > 100
    assert one.true_energy_wh(GAS, day - timedelta(days=7), day) == registers[-1] - (
        registers[0] - week[0].energy_wh
    )
    assert one.true_cost_pence(GAS, day, day) == 0
    later = one.register_wh(GAS, day + timedelta(days=20))
    assert one.register_wh(GAS, day - timedelta(days=20)) < registers[0] < later


async def test_gas_glitches_and_stale_gaps(api: Api) -> None:
    token = await api.token(DUAL.api_key)
    morning = START.replace(hour=6, minute=0, second=0)
    api.sim.add_glitch(GAS, morning, "null_cost")
    api.sim.add_glitch(GAS, morning + timedelta(minutes=30), "zero")
    rows = await api.rows(
        token, GAS, start=iso(morning), end=iso(morning + timedelta(hours=1)), grouping="HOURLY"
    )
    # The hour's last half hour reports a zero register; the first one's cost is null alone.
    assert rows[0]["consumption"] == "0.0"
    halves = await api.rows(
        token,
        GAS,
        start=iso(morning),
        end=iso(morning + timedelta(hours=1)),
        grouping="HALF_HOURLY",
    )
    assert (halves[0]["costDelta"], halves[0]["costDeltaWithTax"]) == (None, None)
    assert halves[0]["consumption"] is not None
    assert halves[1]["costDeltaWithTax"] is not None

    api.sim.set_fault("stale")  # 16:29:32: the Mini stops; 16:30 and 17:00 are never uploaded
    api.clock.advance(hours=1)
    api.sim.clear_faults()  # 17:29:32: back in time for 17:30
    api.clock.advance(hours=1)  # 18:29:32: 17:30-18:00 is the newest published half hour
    token = await api.token(DUAL.api_key)
    day = START.replace(hour=15, minute=0, second=0)
    rows = await api.rows(
        token, GAS, start=iso(day), end=iso(api.clock.now), grouping="HALF_HOURLY"
    )
    assert [r["readAt"][11:16] for r in rows] == ["15:00", "15:30", "16:00", "17:30"]
    truth = api.sim.half_hours(GAS, START.replace(minute=0, second=0), api.clock.now)
    assert Decimal(rows[-1]["consumptionDelta"]) == sum(h.energy_wh for h in truth[1:4])
    assert Decimal(rows[-1]["costDeltaWithTax"]) == sum(h.cost_with_tax_pence for h in truth[1:4])


async def test_electricity_null_cost_glitch(api: Api) -> None:
    token = await api.token()
    at = START.replace(minute=20, second=0)
    api.sim.add_glitch(DEVICE, at, "null_cost")
    rows = await api.rows(
        token, start=iso(at), end=iso(at + timedelta(seconds=20)), grouping="TEN_SECONDS"
    )
    assert [r["costDeltaWithTax"] is None for r in rows] == [True, False]
    assert rows[0]["consumption"] is not None


async def test_gas_rest_tariffs(api: Api) -> None:
    base = "/v1/products/VAR-22-11-01/gas-tariffs/G-1R-VAR-22-11-01-H"
    status, body = await api.get(f"{base}/standard-unit-rates/?period_from=2024-01-01T00:00Z")
    assert status == 200
    assert [
        (r["value_inc_vat"], r["payment_method"], r["valid_from"], r["valid_to"])
        for r in body["results"]
    ] == [
        (6.237, "DIRECT_DEBIT", "2024-03-31T23:00:00Z", None),
        (6.552, "NON_DIRECT_DEBIT", "2024-03-31T23:00:00Z", None),
        (7.2345, "DIRECT_DEBIT", "2024-01-01T00:00:00Z", "2024-03-31T23:00:00Z"),
        (7.5495, "NON_DIRECT_DEBIT", "2024-01-01T00:00:00Z", "2024-03-31T23:00:00Z"),
    ]
    status, body = await api.get(f"{base}/standing-charges/")
    assert (status, body["results"][0]["value_inc_vat"]) == (200, 31.43)
    status, body = await api.get(f"{base.replace('gas-', 'electricity-')}/standard-unit-rates/")
    assert (status, body) == (404, {"detail": "No ElectricityTariff matches the given query."})
    assert api.sim.unit_rate_pence(DUAL.account_number, START, "gas") == Decimal("6.237")


async def test_truth_endpoints_for_both_fuels(api: Api) -> None:
    status, truth = await api.get(f"/_sim/truth?device_id={GAS}")
    assert status == 200
    assert (truth["fuel"], truth["export_wh"]) == ("gas", None)
    assert truth["register_wh"] == api.sim.register_wh(GAS, START)
    assert truth["latest_readable"]["read_at"] == "2025-03-14T15:30:00+00:00"
    assert truth["latest_readable"]["register_wh"] == truth["register_wh"]  # as of 16:00
    status, truth = await api.get(f"/_sim/truth?device_id={SINGLE.gas_device_id}")
    assert (status, truth["latest_readable"]) == (200, None)  # its Mini serves no gas

    day = START.replace(hour=0, minute=0, second=0)
    span = f"start={iso(day)}&end={iso(START.replace(minute=0, second=0))}".replace("+", "%2B")
    token = await api.token(DUAL.api_key)
    for device in (GAS, DUAL.device_ids[0]):
        status, halves = await api.get(f"/_sim/truth/half_hours?device_id={device}&{span}")
        assert status == 200
        assert len(halves) == 32
        assert sum(h["energy_wh"] for h in halves) == api.sim.true_energy_wh(
            device, day, START.replace(minute=0, second=0)
        )
        rows = await api.rows(
            token,
            device,
            start=iso(day),
            end=iso(day + timedelta(hours=16)),
            grouping="HALF_HOURLY",
        )
        assert [(Decimal(r["consumptionDelta"]), Decimal(r["costDeltaWithTax"])) for r in rows] == [
            (h["energy_wh"], Decimal(h["cost_with_tax_pence"])) for h in halves
        ]
    status, _ = await api.get(f"/_sim/truth/half_hours?device_id=nope&{span}")
    assert status == 404
