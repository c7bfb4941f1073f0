"""``python -m tests.simulator --port N [--host 127.0.0.1]``: a wall-clock demo server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from .fixtures import ACCOUNTS
from .simulator import KrakenSimulator, run_simulator


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--lag-seconds", type=float, default=30)
    parser.add_argument(
        "--gas-lag-seconds", type=float, default=300, help="after the end of each gas half hour"
    )
    parser.add_argument("--rate-limit", type=int, default=125, help="per account per hour; 0 = off")
    parser.add_argument("--retention-days", type=float, default=14)
    return parser.parse_args(argv)


async def _serve(options: argparse.Namespace) -> None:
    sim = KrakenSimulator(
        lag_seconds=options.lag_seconds,
        rate_limit_per_hour=options.rate_limit or None,
        retention_days=options.retention_days,
        gas_lag_seconds=options.gas_lag_seconds,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not available on Windows
            loop.add_signal_handler(signum, stop.set)
    async with run_simulator(sim, options.host, options.port) as base_url:
        # The first line is machine-readable so a parent process can learn a picked port.
        print(f"Kraken simulator listening on {base_url}", flush=True)
        for fixture in ACCOUNTS:
            devices = ", ".join((*fixture.device_ids, *(g.device_id for g in fixture.gas)))
            print(f"  {fixture.api_key}: {fixture.account_number} ({devices})", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM."""
    asyncio.run(_serve(_arguments(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
