"""REST tariff endpoints: paginated unit rates and standing charges (API.md §6.2, §7.8)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
import math
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .tariffs import (
    AGILE_START,
    HALF_HOUR,
    LONDON,
    RateRow,
    Tariff,
    agile_published_until,
    is_product,
    tariff_for,
)

if TYPE_CHECKING:
    from .simulator import KrakenSimulator

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1500
_FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
_FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


class _Rows:
    """Rows newest first, addressable by index so a page costs O(page size)."""

    def __init__(self, count: int, row: Callable[[int], RateRow]) -> None:
        self.count = count
        self.row = row


def _listed(rows: tuple[RateRow, ...], start: datetime, end: datetime) -> _Rows:
    kept = [r for r in rows if r.valid_from < end and (r.valid_to is None or r.valid_to > start)]
    return _Rows(len(kept), kept.__getitem__)


def _unit_rates(tariff: Tariff, now: datetime, start: datetime, end: datetime) -> _Rows:
    if not tariff.half_hourly:
        return _listed(tariff.unit_rows, start, end)
    first = max(int(AGILE_START.timestamp()), math.floor(start.timestamp())) // HALF_HOUR
    stop = min(
        int(agile_published_until(now).timestamp()) // HALF_HOUR,
        math.ceil(end.timestamp() / HALF_HOUR),
    )

    def row(index: int) -> RateRow:
        valid_from = datetime.fromtimestamp((stop - 1 - index) * HALF_HOUR, UTC)
        pre, inc = tariff.unit_rate(valid_from)
        valid_to = datetime.fromtimestamp((stop - index) * HALF_HOUR, UTC)
        return RateRow(valid_from, valid_to, pre, inc)

    return _Rows(max(0, stop - first), row)


def _standing_charges(tariff: Tariff, _now: datetime, start: datetime, end: datetime) -> _Rows:
    method = None if tariff.half_hourly else "DIRECT_DEBIT"
    since = AGILE_START if tariff.half_hourly else tariff.unit_rows[0].valid_from
    row = RateRow(since, None, tariff.standing_pre_vat, tariff.standing_inc_vat, method)
    return _listed((row,), start, end)


def _when(value: str | None, default: datetime) -> datetime:
    """A query datetime; without an offset Europe/London is assumed, like the real API."""
    if not value:
        return default
    parsed = datetime.fromisoformat(value.replace(" ", "+"))  # '+' arrives decoded as a space
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=LONDON)).astimezone(UTC)


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _not_found(detail: str) -> web.Response:
    return web.json_response({"detail": detail}, status=404)


def _page_url(request: web.Request, page: int) -> str:
    query = {k: v for k, v in request.query.items() if k != "page"}
    if page > 1:  # like Django REST framework, the link to page 1 carries no page parameter
        query["page"] = str(page)
    return str(request.url.with_query(query))


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return -1


Source = Callable[[Tariff, datetime, datetime, datetime], _Rows]


def _handler(sim_key: web.AppKey[KrakenSimulator], fuel: str, source: Source) -> Any:
    async def handle(request: web.Request) -> web.Response:
        request.app[sim_key].rest_requests.append(request.path)
        product = request.match_info["product"]
        if not is_product(product):
            return _not_found("No EnergyProduct matches the given query.")
        tariff = tariff_for(product, request.match_info["tariff"])
        if tariff is None or (tariff.kind == "gas") != (fuel == "gas"):
            kind = "GasTariff" if fuel == "gas" else "ElectricityTariff"
            return _not_found(f"No {kind} matches the given query.")
        try:
            start = _when(request.query.get("period_from"), _FAR_PAST)
            end = _when(request.query.get("period_to"), _FAR_FUTURE)
        except ValueError:
            return web.json_response({"period_from": ["Enter a valid date/time."]}, status=400)
        size = _int(request.query.get("page_size"), DEFAULT_PAGE_SIZE)
        size = DEFAULT_PAGE_SIZE if size < 1 else min(size, MAX_PAGE_SIZE)
        page = _int(request.query.get("page"), 1)
        rows = source(tariff, request.app[sim_key].clock(), start, end)
        pages = max(1, math.ceil(rows.count / size))
        if not 1 <= page <= pages:
            return _not_found("Invalid page.")
        first = (page - 1) * size
        results = [rows.row(i) for i in range(first, min(rows.count, first + size))]
        return web.json_response(
            {
                "count": rows.count,
                "next": _page_url(request, page + 1) if page < pages else None,
                "previous": _page_url(request, page - 1) if page > 1 else None,
                "results": [
                    {
                        "value_exc_vat": float(r.value_exc_vat),
                        "value_inc_vat": float(r.value_inc_vat),
                        "valid_from": _stamp(r.valid_from),
                        "valid_to": _stamp(r.valid_to),
                        "payment_method": r.payment_method,
                    }
                    for r in results
                ],
            }
        )

    return handle


def add_routes(app: web.Application, sim_key: web.AppKey[KrakenSimulator]) -> None:
    """Register the product/tariff endpoints for electricity and gas."""
    for fuel in ("electricity", "gas"):
        base = f"/v1/products/{{product}}/{fuel}-tariffs/{{tariff}}"
        app.router.add_get(f"{base}/standard-unit-rates/", _handler(sim_key, fuel, _unit_rates))
        app.router.add_get(f"{base}/standing-charges/", _handler(sim_key, fuel, _standing_charges))
