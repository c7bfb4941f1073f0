"""``/_sim/`` endpoints that let an out-of-process test steer and inspect the simulator."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .gas import HalfHour
from .household import Sample
from .schema import parse_datetime
from .telemetry import GAP_DELTAS

if TYPE_CHECKING:
    from .simulator import KrakenSimulator

MAX_SPAN = timedelta(days=62)  # of half-hour truth per request


def sample_json(sample: Sample | None) -> dict[str, Any] | None:
    """A truth sample as JSON (Decimals as strings, like the API)."""
    if sample is None:
        return None
    return {
        "read_at": sample.read_at.isoformat(),
        "demand_w": str(sample.demand_w),
        "register_wh": sample.register_wh,
        "delta_wh": sample.delta_wh,
        "cost_pence": str(sample.cost_pence),
        "cost_with_tax_pence": str(sample.cost_with_tax_pence),
        "export_wh": sample.export_wh,
    }


def half_hour_json(half_hour: HalfHour | None) -> dict[str, Any] | None:
    """A half hour's truth as JSON (Decimals as strings)."""
    if half_hour is None:
        return None
    return {
        "read_at": half_hour.read_at.isoformat(),
        "register_wh": half_hour.register_wh,
        "energy_wh": half_hour.energy_wh,
        "cost_pence": str(half_hour.cost_pence),
        "cost_with_tax_pence": str(half_hour.cost_with_tax_pence),
    }


def _optional_time(value: Any) -> datetime | None:
    return None if value in (None, "") else parse_datetime(str(value))


def add_routes(app: web.Application, sim_key: web.AppKey[KrakenSimulator]) -> None:
    """Register the control endpoints."""

    async def set_fault(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            request.app[sim_key].set_fault(
                body["kind"],
                count=body.get("count"),
                until=_optional_time(body.get("until")),
                operation=body.get("operation"),
                seconds=body.get("seconds"),
            )
        except (ValueError, KeyError, TypeError) as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response({"ok": True})

    async def clear_faults(request: web.Request) -> web.Response:
        request.app[sim_key].clear_faults()
        return web.json_response({"ok": True})

    async def add_glitch(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            when = parse_datetime(body["read_at"])
            request.app[sim_key].add_glitch(
                body["device_id"], when, body["kind"], once=bool(body.get("once", False))
            )
        except (ValueError, KeyError, TypeError) as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response({"ok": True})

    async def behaviour(request: web.Request) -> web.Response:
        """The switches for behaviours API.md leaves open (gap deltas, buffered uploads)."""
        sim = request.app[sim_key]
        if request.method == "POST":
            body = await request.json()
            if body.get("gap_delta", sim.gap_delta) not in GAP_DELTAS:
                return web.json_response({"error": f"gap_delta: one of {GAP_DELTAS}"}, status=400)
            sim.gap_delta = body.get("gap_delta", sim.gap_delta)
            sim.stale_backfills = bool(body.get("stale_backfills", sim.stale_backfills))
        return web.json_response(
            {"gap_delta": sim.gap_delta, "stale_backfills": sim.stale_backfills}
        )

    async def truth(request: web.Request) -> web.Response:
        sim = request.app[sim_key]
        device_id = request.query.get("device_id", "")
        try:
            at = _optional_time(request.query.get("at")) or sim.clock()
            gas = sim.devices[device_id].kind == "GSME"
            body = {
                "device_id": device_id,
                "fuel": "gas" if gas else "electricity",
                "at": at.isoformat(),
                "register_wh": sim.register_wh(device_id, at),
                "export_wh": None if gas else sim.export_wh(device_id, at),
                "latest_readable": half_hour_json(sim.latest_gas_readable(device_id, at))
                if gas
                else sample_json(sim.latest_readable(device_id, at)),
            }
        except (KeyError, ValueError) as error:
            return web.json_response({"error": str(error)}, status=404)
        return web.json_response(body)

    async def half_hours(request: web.Request) -> web.Response:
        sim = request.app[sim_key]
        try:
            start = parse_datetime(request.query["start"])
            end = parse_datetime(request.query["end"])
            found = sim.half_hours(request.query["device_id"], start, min(end, start + MAX_SPAN))
        except (KeyError, ValueError) as error:
            return web.json_response({"error": str(error)}, status=404)
        return web.json_response([half_hour_json(h) for h in found])

    async def requests(request: web.Request) -> web.Response:
        log = request.app[sim_key].requests
        return web.json_response(
            [{**asdict(r), "at": r.at.isoformat(), "root_fields": list(r.root_fields)} for r in log]
        )

    async def swap_meter(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            request.app[sim_key].swap_meter(
                body["device_id"], body["new_device_id"], body["serial_number"]
            )
        except (ValueError, KeyError, TypeError) as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response({"ok": True})

    app.router.add_post("/_sim/meters/swap", swap_meter)
    app.router.add_post("/_sim/faults", set_fault)
    app.router.add_delete("/_sim/faults", clear_faults)
    app.router.add_post("/_sim/glitches", add_glitch)
    app.router.add_route("*", "/_sim/behaviour", behaviour)
    app.router.add_get("/_sim/truth", truth)
    app.router.add_get("/_sim/truth/half_hours", half_hours)
    app.router.add_get("/_sim/requests", requests)
