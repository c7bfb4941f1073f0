"""Errors raised by the Kraken client.

Every error is classified by the API's ``extensions.errorCode`` (or the HTTP layer), never by
message text. Messages carry the code and a short reason, never a credential.
"""

from __future__ import annotations


class KrakenError(Exception):
    """Base class for every error raised by the client."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        """Store the Kraken error code (``KT-..``) or HTTP status alongside the message."""
        super().__init__(f"{message} ({code})" if code else message)
        self.code = code


class KrakenAuthenticationError(KrakenError):
    """The API key (or the credentials derived from it) was rejected."""


class KrakenAccountNotFoundError(KrakenError):
    """The account number does not exist or does not belong to this API key."""


class KrakenNoHomeMiniError(KrakenError):
    """The meter has no Home Mini (no consumption device reporting telemetry)."""


class KrakenTariffNotFoundError(KrakenError):
    """The REST API knows no such product or tariff (HTTP 404)."""


class KrakenRateLimitError(KrakenError):
    """The account's request allowance is exhausted."""

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        """Carry the server's retry-after (seconds) when it gave one."""
        super().__init__(message, code=code)
        self.retry_after = retry_after


class KrakenServiceUnavailableError(KrakenError):
    """Kraken or its telemetry backend is temporarily unavailable."""


class KrakenConnectionError(KrakenError):
    """The API could not be reached (network error or timeout)."""


class KrakenInvalidResponseError(KrakenError):
    """The API answered with something the client cannot use."""


class KrakenInvalidUrlError(KrakenError):
    """The API base URL is not an http(s) URL with a host."""


class KrakenInsecureUrlError(KrakenInvalidUrlError):
    """Plain http to a host other than this machine: the API key would travel unencrypted."""


class KrakenRequestError(KrakenError):
    """The API rejected the request's arguments (a client bug or an unknown error code)."""
