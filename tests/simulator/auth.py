"""Kraken tokens: minting JWT-shaped access tokens and 64-hex refresh tokens, and checking them."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from hashlib import blake2b
import json
import secrets
from typing import Any

from . import errors
from .errors import KrakenCode
from .fixtures import Fixture

ACCESS_LIFETIME = 3600
REFRESH_LIFETIME = 7 * 24 * 3600
ISSUER = "https://api.octopus.energy/v1/graphql/"
_HEADER = {
    "alg": "RS256",
    "iss": ISSUER,
    "jku": "https://auth.octopus.energy/.well-known/jwks.json",
    "kid": "simulator",
    "typ": "JWT",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


@dataclass(slots=True)
class AccessGrant:
    """What the simulator remembers about an access token."""

    account_number: str
    exp: int
    expired: bool = False  # set by the "expire_tokens" fault


@dataclass(slots=True)
class RefreshGrant:
    """What the simulator remembers about a refresh token."""

    fixture: Fixture
    expires_at: int
    orig_iat: int
    revoked: bool = False


class TokenBook:
    """Issued tokens, keyed by their exact string."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(16)  # fake RS256: a keyed hash, unforgeable by clients
        self.access: dict[str, AccessGrant] = {}
        self.refresh: dict[str, RefreshGrant] = {}

    def login(self, fixture: Fixture, now: int) -> dict[str, Any]:
        """API-key login: a new access token and a new refresh token valid for 7 days."""
        refresh = secrets.token_hex(32)
        self.refresh[refresh] = RefreshGrant(fixture, now + REFRESH_LIFETIME, now)
        return self._mint(refresh, now)

    def renew(self, refresh: str, now: int) -> dict[str, Any] | KrakenCode:
        """Refresh-token login: same refresh token and expiry (neither rotated nor extended)."""
        grant = self.refresh.get(refresh)
        if grant is None or grant.revoked:
            return errors.REFRESH_INVALID
        if now > grant.expires_at:
            return errors.REFRESH_EXPIRED
        return self._mint(refresh, now)

    def refresh_owner(self, refresh: str) -> str | None:
        """Account a refresh token belongs to (for rate limiting), if known."""
        grant = self.refresh.get(refresh)
        return None if grant is None else grant.fixture.account_number

    def _mint(self, refresh: str, now: int) -> dict[str, Any]:
        grant = self.refresh[refresh]
        fixture = grant.fixture
        payload = {
            "sub": f"kraken|account-user:{fixture.user_id}",
            "gty": "API-KEY",
            "email": fixture.email,
            "tokenUse": "access",
            "iss": ISSUER,
            "iat": now,
            "exp": now + ACCESS_LIFETIME,
            "origIat": grant.orig_iat,
        }
        signing_input = f"{_segment(_HEADER)}.{_segment(payload)}"
        signature = blake2b(signing_input.encode(), key=self._key, digest_size=32).digest()
        token = f"{signing_input}.{_b64(signature)}"
        self.access[token] = AccessGrant(fixture.account_number, now + ACCESS_LIFETIME)
        return {
            "token": token,
            "payload": payload,
            "refreshToken": refresh,
            "refreshExpiresIn": grant.expires_at,
        }

    @staticmethod
    def _token(header: str) -> str | None:
        value = header.strip()
        if value.startswith("JWT "):
            return value[4:].strip()
        if " " in value:  # "Bearer x" and other schemes are not credentials here
            return None
        return value

    def owner(self, header: str | None) -> str | None:
        """Account of the token in an Authorization header, expired or not."""
        token = self._token(header) if header else None
        grant = self.access.get(token) if token else None
        return None if grant is None else grant.account_number

    def check(self, header: str | None, now: float) -> str | KrakenCode:
        """The account number the header authenticates, or the error to raise."""
        if not header or not header.strip():
            return errors.NO_AUTH_HEADER
        token = self._token(header)
        grant = self.access.get(token) if token else None
        if grant is None:
            return errors.BAD_TOKEN
        if grant.expired or now > grant.exp:
            return errors.JWT_EXPIRED
        return grant.account_number

    def expire_all(self) -> None:
        """Treat every access token issued so far as expired."""
        for grant in self.access.values():
            grant.expired = True

    def revoke_all_refresh(self) -> None:
        """Forget every refresh token issued so far (later use gives KT-CT-1135)."""
        for grant in self.refresh.values():
            grant.revoked = True
