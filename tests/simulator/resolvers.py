"""Root-field resolvers: authentication, rate limiting, injected faults, then business logic."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import math
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo

from . import errors
from .errors import KrakenCode
from .faults import FIELD_KINDS, TELEMETRY
from .fixtures import Fixture
from .gas import gas_latest_row, gas_range_rows
from .graph import account_node, viewer_node
from .household import SLOT_SECONDS
from .tariffs import HALF_HOUR
from .telemetry import GROUPING_SLOTS, TooManyRowsError, latest_row, range_rows

if TYPE_CHECKING:
    from .gas import GasMeterModel
    from .simulator import KrakenSimulator

_FIELD_FAULT_ERRORS = {  # checked in this order
    "rate_limit": errors.TOO_MANY_REQUESTS,
    "rate_limit_backend": errors.BACKEND_TOO_MANY_REQUESTS,
    "rate_limit_telemetry": errors.TELEMETRY_THROTTLED,
    "internal": errors.INTERNAL,
    "outage": errors.TELEMETRY_UNAVAILABLE,
    "network": errors.NETWORK_ERROR,
    "no_han": errors.NO_HAN_RECORD,
}


@dataclass(slots=True)
class RequestContext:
    """Per-request state handed to resolvers as ``info.context``."""

    sim: KrakenSimulator
    now: datetime
    authorization: str | None
    fired: set[str] = field(default_factory=set)  # field-level fault kinds firing on this request
    account_number: str | None = None
    over_limit: bool | None = None  # None until the request is attributed to an account

    def charge(self, account_number: str) -> bool:
        """Attribute the request to an account (once) and say whether it is over the limit."""
        if self.over_limit is None:
            self.account_number = account_number
            self.over_limit = self.sim.charge(account_number, self.now)
        return self.over_limit


def _context(info: GraphQLResolveInfo) -> RequestContext:
    context = info.context
    assert isinstance(context, RequestContext)
    return context


def _fault(context: RequestContext, field_name: str) -> KrakenCode | None:
    """The error of the first field-level fault firing on this request that targets the field."""
    for kind, code in _FIELD_FAULT_ERRORS.items():
        if kind in context.fired and FIELD_KINDS[kind] in (None, field_name):
            return code
    return None


def _viewer(info: GraphQLResolveInfo, *, telemetry: bool = False) -> Fixture:
    """Authenticate a protected field; raise its Kraken error otherwise."""
    context = _context(info)
    outcome = context.sim.tokens.check(context.authorization, context.now.timestamp())
    if isinstance(outcome, KrakenCode):
        raise outcome.error()
    if context.charge(outcome):
        raise (errors.TELEMETRY_THROTTLED if telemetry else errors.TOO_MANY_REQUESTS).error()
    fault = _fault(context, TELEMETRY if telemetry else info.field_name)
    if fault is not None:
        raise fault.error()
    return context.sim.accounts[outcome]


def resolve_viewer(_root: object, info: GraphQLResolveInfo) -> dict[str, Any]:
    """Query.viewer."""
    return viewer_node(_viewer(info), _context(info).now)


def resolve_account(_root: object, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    """Query.account(accountNumber): only the viewer's own account."""
    fixture = _viewer(info)
    if args["accountNumber"] != fixture.account_number:
        raise errors.ACCOUNT_UNAUTHORIZED.error()
    return account_node(fixture, _context(info).now)


def resolve_rate_limit_info(_root: object, info: GraphQLResolveInfo) -> dict[str, Any]:
    """Query.rateLimitInfo: the viewer's points allowance (API.md §5.4, §11)."""
    fixture = _viewer(info)
    context = _context(info)
    allowance = context.sim.allowance(fixture.account_number, context.now)
    return {"pointsAllowanceRateLimit": allowance}


def resolve_token(_root: object, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    """Mutation.obtainKrakenToken: API key or refresh token, exactly one."""
    context = _context(info)
    sim = context.sim
    sim.token_requests += 1
    given = {key: value for key, value in args["input"].items() if value not in (None, "")}
    now = math.floor(context.now.timestamp())
    account: str | None
    match sorted(given):
        case ["APIKey"]:
            account = sim.api_keys.get(given["APIKey"])
            if account is None:
                raise errors.BAD_API_KEY.error()
        case ["refreshToken"]:
            account = sim.tokens.refresh_owner(given["refreshToken"])  # None when unknown
        case ["email", "password"]:
            raise errors.BAD_CREDENTIALS.error()
        case _:  # no input, or two kinds at once
            raise errors.REFRESH_INVALID.error()
    if account is not None and context.charge(account):
        raise errors.TOO_MANY_REQUESTS.error()
    fault = _fault(context, info.field_name)
    if fault is not None:
        raise fault.error()
    if "APIKey" in given:
        result = sim.tokens.login(sim.accounts[sim.api_keys[given["APIKey"]]], now)
    else:
        outcome = sim.tokens.renew(given["refreshToken"], now)
        if isinstance(outcome, KrakenCode):
            raise outcome.error()
        result = outcome
    sim.issued_tokens += 1
    return result


#: Kraken's documented cap on the nodes of one response (API.md §5.4), and how many nodes a
#: telemetry row may count for [INF: how Kraken counts is not published].
MAX_NODES = 10_000
NODES_PER_ROW = {"rows": 1, "fields": 8}


def resolve_telemetry(_root: object, info: GraphQLResolveInfo, **args: Any) -> list[dict[str, Any]]:
    """Query.smartMeterTelemetry: latest sample, or a grouped range."""
    fixture = _viewer(info, telemetry=True)
    context = _context(info)
    sim, now = context.sim, context.now
    device = sim.devices.get(args["deviceId"])
    if device is None:
        raise errors.METER_NOT_FOUND.error()
    if device.account_number != fixture.account_number:
        raise errors.UNAUTHORIZED.error()
    start, end, grouping = args.get("start"), args.get("end"), args.get("grouping")
    ranged = [start is not None, end is not None, grouping is not None]
    if any(ranged) and not all(ranged):
        raise errors.RANGE_INCOMPLETE.error()
    if start is not None and end is not None:
        if end <= start:
            raise errors.RANGE_INVERTED.error()
        if sim.max_range is not None and end - start > sim.max_range:
            raise errors.TOO_MANY_NODES.error()
        if start < now - sim.retention:
            raise errors.RANGE_TOO_OLD.error()
    gas = sim.gas_telemetry_meter(device.device_id)
    if gas is not None:
        return _gas_rows(sim, gas, now, start, end, grouping, sim.glitches(device.device_id))
    meter = sim.telemetry_meter(device.device_id)
    if meter is None:  # no Home Mini on this meter: nothing is collected
        return []
    gaps, glitches, readable_end = sim.gaps(), sim.glitches(device.device_id), sim.readable_end(now)
    if start is None or end is None or grouping is None:
        rows = [latest_row(meter, gaps, glitches, readable_end, sim.gap_delta)]
        return _without_export(rows) if device.device_id in sim.export_unreported else rows
    first = math.ceil(start.timestamp() / SLOT_SECONDS)
    first = max(first, sim.installed_at.get(device.device_id, first))
    stop = min(math.ceil(end.timestamp() / SLOT_SECONDS), readable_end)
    try:
        rows = range_rows(
            meter, gaps, glitches, first, stop, GROUPING_SLOTS[grouping], sim.gap_delta
        )
    except TooManyRowsError:
        raise errors.TOO_MANY_NODES.error() from None
    if len(rows) * NODES_PER_ROW[sim.node_count] > MAX_NODES:
        raise errors.TOO_MANY_NODES.error()
    sim.served(device.device_id, first, stop)
    return _without_export(rows) if device.device_id in sim.export_unreported else rows


def _without_export(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "export": None} for row in rows]


def _gas_rows(
    sim: KrakenSimulator,
    gas: GasMeterModel,
    now: datetime,
    start: datetime | None,
    end: datetime | None,
    grouping: str | None,
    glitches: dict[int, str],
) -> list[dict[str, Any]]:
    """A gas meter's half-hourly rows: one per half hour at any grouping finer than HOURLY."""
    gaps, readable_end = sim.gaps(), sim.gas_readable_end(now)
    if start is None or end is None or grouping is None:
        return [gas_latest_row(gas, gaps, glitches, readable_end)]
    first = math.ceil(start.timestamp() / HALF_HOUR)
    stop = min(math.ceil(end.timestamp() / HALF_HOUR), readable_end)
    try:
        return gas_range_rows(gas, gaps, glitches, first, stop, 2 if grouping == "HOURLY" else 1)
    except TooManyRowsError:  # only with a retention of over 200 days
        raise errors.TOO_MANY_NODES.error() from None


ROOT_RESOLVERS = {
    ("Query", "viewer"): resolve_viewer,
    ("Query", "account"): resolve_account,
    ("Query", "rateLimitInfo"): resolve_rate_limit_info,
    ("Query", TELEMETRY): resolve_telemetry,
    ("Mutation", "obtainKrakenToken"): resolve_token,
}
