"""An async client for the parts of Octopus Energy's Kraken GraphQL API a Home Mini needs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
import ipaddress
import json
import logging
from typing import Any, Final
from urllib.parse import quote

import aiohttp
from yarl import URL

from . import parse, queries
from .errors import (
    KrakenAccountNotFoundError,
    KrakenAuthenticationError,
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
)
from .models import (
    Account,
    AccountTariffs,
    Allowance,
    Fuel,
    TelemetryGrouping,
    TelemetryReading,
    Token,
    UnitRate,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://api.octopus.energy"
DEFAULT_TIMEOUT: Final = 20.0
#: By default a token serves its whole hour: that keeps token requests at one an hour, and a
#: token the server already considers expired (clock skew) is renewed and the call retried.
DEFAULT_TOKEN_RENEW_MARGIN: Final = timedelta(0)
#: Do not present a refresh token this close to its expiry.
REFRESH_RENEW_MARGIN: Final = timedelta(minutes=1)
#: The REST API's largest page (API.md §6.2): a month of half-hourly rates is one request.
REST_PAGE_SIZE: Final = 1500
#: Pages followed for one period at most (a year of half-hourly rates takes 12).
REST_MAX_PAGES: Final = 12

# Each code's class, by ``extensions.errorCode``; unknown codes are request errors.
# KT-GB-4050 answers a device id that came from the account itself, so that meter is not on
# the telemetry service at all: for the user that is "no Home Mini", not a transient fault.
_CODE_CLASSES: Final[dict[str, tuple[type[KrakenError], str]]] = {
    **dict.fromkeys(
        ("KT-CT-1111", "KT-CT-1112", "KT-CT-1134", "KT-CT-1135", "KT-CT-1138", "KT-CT-1139"),
        (KrakenAuthenticationError, "Authentication failed"),
    ),
    **dict.fromkeys(
        ("KT-CT-4177", "KT-CT-4178"),
        (KrakenAccountNotFoundError, "Account not found for this API key"),
    ),
    **dict.fromkeys(
        ("KT-GB-4050", "KT-GB-4056"),
        (KrakenNoHomeMiniError, "No Home Mini is reporting for this meter"),
    ),
    # OE-0002 comes from Kraken's backend (seen 2026, no errorType): a rate limit too.
    **dict.fromkeys(
        ("KT-CT-1199", "KT-GB-4042", "OE-0002"), (KrakenRateLimitError, "Too many requests")
    ),
    **dict.fromkeys(
        ("KT-GB-4039", "KT-GB-4043", "KT-CT-7899", "KT-CT-1113"),
        (KrakenServiceUnavailableError, "Kraken is temporarily unavailable"),
    ),
}
_EXPIRED_TOKEN_CODES: Final = frozenset({"KT-CT-1120", "KT-CT-1124", "KT-CT-1125", "KT-CT-1143"})

type RequestHook = Callable[[str], None]


class _TokenRejectedError(KrakenError):
    """The server refused an access token the client believed valid (expired or unknown)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _classify(error: dict[str, Any]) -> KrakenError:
    """Map one GraphQL error object to the client's hierarchy, by ``errorCode`` only."""
    extensions = error.get("extensions")
    code = extensions.get("errorCode") if isinstance(extensions, dict) else None
    if not isinstance(code, str):
        return KrakenInvalidResponseError("Error without an error code")
    if code in _EXPIRED_TOKEN_CODES:
        return _TokenRejectedError("Access token rejected", code=code)
    path = error.get("path")
    if code == "KT-CT-1111" and isinstance(path, list) and path[:1] == ["account"]:
        # "Unauthorized" on the account field: the token is fine, the account is not ours.
        return KrakenAccountNotFoundError("Account not found for this API key", code=code)
    error_class, message = _CODE_CLASSES.get(code, (KrakenRequestError, "Request rejected"))
    return error_class(message, code=code)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str) -> str:
    """The base URL without a trailing slash, if the API key may be sent there.

    ``https://`` anywhere; ``http://`` only to this machine (a local test server).
    """
    try:
        url = URL(base_url.strip())
    except (TypeError, ValueError):
        raise KrakenInvalidUrlError("The API URL is not a URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise KrakenInvalidUrlError("The API URL must be an http(s) URL with a host")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise KrakenInsecureUrlError("Plain http is only allowed to this machine; use https")
    return str(url).rstrip("/")


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("Telemetry range bounds must be timezone-aware")
    return value.astimezone(UTC).isoformat()


def _rest_time(value: datetime) -> str:
    """A period bound as the REST API reads it ('Z': a '+' would need escaping in a query)."""
    if value.tzinfo is None:
        raise ValueError("Rate period bounds must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _raise_for_transport(operation: str, status: int, retry_after: str | None) -> None:
    """Statuses that mean the same on every endpoint: throttled, or not answering."""
    if status == 429:
        raise KrakenRateLimitError(
            f"{operation}: too many requests",
            code="HTTP 429",
            retry_after=_retry_after(retry_after),
        )
    if status >= 500 or status == 403:
        raise KrakenServiceUnavailableError(
            f"{operation}: service unavailable", code=f"HTTP {status}"
        )


class KrakenClient:
    """Kraken API client for one API key.

    Tokens are cached and renewed with the refresh token, then with the API key; token
    requests are single-flight. Every HTTP request is reported to ``request_hook`` with its
    operation name, so a caller can count and budget them.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = _utcnow,
        request_hook: RequestHook | None = None,
        token_renew_margin: timedelta = DEFAULT_TOKEN_RENEW_MARGIN,
    ) -> None:
        """Use the caller's aiohttp session; nothing is sent until the first call.

        ``token_renew_margin`` renews the access token that long before its expiry. A base
        URL the key must not be sent to raises ``KrakenInvalidUrlError`` here, before any call.
        """
        self._session = session
        self._api_key = api_key
        self._base_url = check_base_url(base_url)
        self._graphql_url = f"{self._base_url}/v1/graphql/"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self.request_hook = request_hook
        self._renew_margin = token_renew_margin
        self._token: Token | None = None
        self._token_lock = asyncio.Lock()

    def use_api_key(self, api_key: str) -> None:
        """Mint future tokens from this key; a different key drops the tokens of the old one."""
        if api_key != self._api_key:
            self._api_key = api_key
            self._token = None

    async def authenticate(self) -> None:
        """Make sure a valid token is held (mints one if needed); proves the API key."""
        await self._access_token()

    async def get_account(self, account_number: str) -> Account:
        """The account's meter points, meters, smart devices and active tariffs."""
        data = await self._query(queries.ACCOUNT, "Account", {"accountNumber": account_number})
        return parse.account(data, account_number)

    async def get_allowance(self) -> Allowance | None:
        """The viewer's points allowance as Kraken counts it (a request of its own)."""
        data = await self._query(queries.RATE_LIMIT_INFO, "RateLimitInfo", {})
        return parse.allowance(data)

    async def get_tariffs(self, account_number: str) -> AccountTariffs:
        """The active tariff of each meter point, by MPAN and (gas) MPRN, in one request;
        export tariffs say which meters they pay for."""
        data = await self._query(queries.TARIFF, "Tariff", {"accountNumber": account_number})
        return parse.tariffs(data)

    async def get_standard_unit_rates(
        self,
        fuel: Fuel,
        product_code: str,
        tariff_code: str,
        start: datetime,
        end: datetime,
        *,
        direct_debit: bool = True,
    ) -> tuple[UnitRate, ...]:
        """A tariff's unit rates in force during ``[start, end)``, oldest first, from REST.

        Product data is public, so no token is sent. Rows priced for the other payment method
        are dropped (rows without one apply to all). Every page is one request.
        """
        params: dict[str, str] | None = {
            "period_from": _rest_time(start),
            "period_to": _rest_time(end),
            "page_size": str(REST_PAGE_SIZE),
        }
        if end <= start:
            raise ValueError("Rate period end must be later than its start")
        url: str | URL = (
            f"{self._base_url}/v1/products/{quote(product_code, safe='')}/{fuel}-tariffs/"
            f"{quote(tariff_code, safe='')}/standard-unit-rates/"
        )
        skipped = "NON_DIRECT_DEBIT" if direct_debit else "DIRECT_DEBIT"
        rates: dict[datetime, UnitRate] = {}
        for _ in range(REST_MAX_PAGES):
            rows, following = parse.rest_unit_rates(
                await self._get("StandardUnitRates", url, params)
            )
            for rate, method in rows:
                if method != skipped and rate.valid_from is not None:
                    rates.setdefault(rate.valid_from, rate)
            if following is None:
                return tuple(rates[key] for key in sorted(rates))
            url, params = self._same_origin(following), None
        raise KrakenInvalidResponseError("StandardUnitRates: more pages than a period needs")

    def _same_origin(self, link: str) -> URL:
        """A pagination link, only if it points back at the API the client was given."""
        try:
            target = URL(link, encoded=True)
            same = target.origin() == URL(self._base_url).origin()
        except ValueError:
            same = False
        if not same:
            raise KrakenInvalidResponseError("StandardUnitRates: next page on another host")
        return target

    async def get_latest_telemetry(self, device_id: str) -> TelemetryReading | None:
        """The newest 10-second reading, or ``None`` when the meter has none."""
        data = await self._query(
            queries.LATEST_TELEMETRY, "LatestTelemetry", {"deviceId": device_id}
        )
        readings = parse.telemetry(data)
        return readings[-1] if readings else None

    async def get_telemetry(
        self,
        device_id: str,
        start: datetime,
        end: datetime,
        grouping: TelemetryGrouping,
    ) -> list[TelemetryReading]:
        """Readings in ``[start, end)`` at ``grouping``, sorted, without duplicates."""
        if end <= start:
            raise ValueError("Telemetry range end must be later than its start")
        data = await self._query(
            queries.TELEMETRY_RANGE,
            "TelemetryRange",
            {
                "deviceId": device_id,
                "start": _iso(start),
                "end": _iso(end),
                "grouping": grouping.value,
            },
        )
        return parse.telemetry(data)

    # Token lifecycle -----------------------------------------------------------------

    async def _access_token(self) -> Token:
        async with self._token_lock:
            now = self._clock()
            current = self._token
            if current is not None and now < current.expires_at - self._renew_margin:
                return current
            self._token = await self._renew(current, now)
            return self._token

    async def _renew(self, current: Token | None, now: datetime) -> Token:
        if (
            current is not None
            and current.refresh_token
            and current.refresh_expires_at is not None
            and now < current.refresh_expires_at - REFRESH_RENEW_MARGIN
        ):
            try:
                renewed = await self._obtain_token({"refreshToken": current.refresh_token})
            except KrakenAuthenticationError as err:
                _LOGGER.debug("Refresh token rejected (%s); using the API key", err.code)
            else:
                # Kraken does not rotate refresh tokens; keep ours if none came back.
                return (
                    renewed
                    if renewed.refresh_token
                    else replace(
                        renewed,
                        refresh_token=current.refresh_token,
                        refresh_expires_at=current.refresh_expires_at,
                    )
                )
        return await self._obtain_token({"APIKey": self._api_key})

    async def _obtain_token(self, credential: dict[str, str]) -> Token:
        data = await self._post(queries.SIGN_IN, "ObtainKrakenToken", {"input": credential})
        return parse.token(data, self._clock())

    def _invalidate(self, rejected: Token) -> None:
        """Drop a token the server refused, unless another caller already replaced it."""
        if self._token is rejected:
            self._token = replace(rejected, expires_at=datetime.min.replace(tzinfo=UTC))

    # Transport -------------------------------------------------------------------------

    async def _query(
        self, document: str, operation: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        """Send an authenticated query; a refused token is renewed and the call retried once."""
        token = await self._access_token()
        try:
            return await self._post(document, operation, variables, token.token)
        except _TokenRejectedError as err:
            _LOGGER.debug("%s: token rejected (%s); renewing once", operation, err.code)
            async with self._token_lock:
                self._invalidate(token)
        token = await self._access_token()
        try:
            return await self._post(document, operation, variables, token.token)
        except _TokenRejectedError as err:
            # A freshly issued token refused again is the server's trouble, not the key's.
            raise KrakenServiceUnavailableError(
                "Kraken refused a freshly issued token", code=err.code
            ) from None

    async def _post(
        self,
        document: str,
        operation: str,
        variables: dict[str, Any],
        token: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = token
        body = {"query": document, "variables": variables, "operationName": operation}
        status, retry_after, text = await self._send(
            operation, "POST", self._graphql_url, json=body, headers=headers
        )
        return self._decode(operation, status, retry_after, text)

    async def _get(self, operation: str, url: str | URL, params: dict[str, str] | None) -> Any:
        """A REST GET: its JSON body, or the error its status means."""
        status, retry_after, text = await self._send(
            operation, "GET", url, params=params, headers={"Accept": "application/json"}
        )
        _raise_for_transport(operation, status, retry_after)
        if status == 404:
            raise KrakenTariffNotFoundError(
                f"{operation}: no such product or tariff", code="HTTP 404"
            )
        if status != 200:
            error_class = KrakenRequestError if status == 400 else KrakenInvalidResponseError
            raise error_class(f"{operation}: unexpected response", code=f"HTTP {status}")
        try:
            return json.loads(text)
        except ValueError:
            raise KrakenInvalidResponseError(
                f"{operation}: response is not JSON", code=f"HTTP {status}"
            ) from None

    async def _send(
        self, operation: str, method: str, url: str | URL, **kwargs: Any
    ) -> tuple[int, str | None, str]:
        """One HTTP request, counted by the hook: (status, Retry-After, body text)."""
        if self.request_hook is not None:
            self.request_hook(operation)
        try:
            # Redirects are not followed: they could lead off the https:// API host.
            async with self._session.request(
                method, url, timeout=self._timeout, allow_redirects=False, **kwargs
            ) as response:
                return response.status, response.headers.get("Retry-After"), await response.text()
        except TimeoutError:
            raise KrakenConnectionError(f"{operation}: request timed out", code="timeout") from None
        except aiohttp.ClientError as err:
            raise KrakenConnectionError(
                f"{operation}: cannot reach the API ({type(err).__name__})"
            ) from None

    @staticmethod
    def _decode(operation: str, status: int, retry_after: str | None, text: str) -> dict[str, Any]:
        _raise_for_transport(operation, status, retry_after)
        try:
            body = json.loads(text)
        except ValueError:
            raise KrakenInvalidResponseError(
                f"{operation}: response is not JSON", code=f"HTTP {status}"
            ) from None
        if status == 400:
            # Validation messages can echo variable values, so they are never repeated.
            raise KrakenInvalidResponseError(
                f"{operation}: the API rejected the document", code="HTTP 400"
            )
        if status != 200 or not isinstance(body, dict):
            raise KrakenInvalidResponseError(
                f"{operation}: unexpected response", code=f"HTTP {status}"
            )
        errors = body.get("errors")
        if errors:
            first = errors[0] if isinstance(errors, list) else None
            if not isinstance(first, dict):
                raise KrakenInvalidResponseError(f"{operation}: malformed error list")
            raise _classify(first)
        data = body.get("data")
        if not isinstance(data, dict):
            raise KrakenInvalidResponseError(f"{operation}: response has no data")
        return data
