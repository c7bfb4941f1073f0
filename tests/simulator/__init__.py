"""A deterministic test double of the Octopus Energy Kraken API (Home Mini telemetry).

Serves ``POST /v1/graphql/`` (graphql-core against the trimmed ``schema.graphql``), the REST
tariff endpoints and ``/_sim/`` control endpoints; see /work/shared/kraken/API.md for the
behaviour it reproduces.

    sim = KrakenSimulator(clock=None, lag_seconds=30, rate_limit_per_hour=125, retention_days=14,
                          gas_lag_seconds=300)
    async with run_simulator(sim) as base_url:      # "http://127.0.0.1:<port>"
        ...                                         # GraphQL at base_url + "/v1/graphql/"

or ``python -m tests.simulator --port 8080`` for a wall-clock demo server.

Accounts (all meter registers start from a per-device base at the epoch day, 00:00 UTC of
the clock at construction unless ``epoch=`` is given):

=================  ============  ======================================================
API key            account       what it has
=================  ============  ======================================================
sk_test_single     A-1234ABCD    ``SINGLE``: IMPORT MPAN 1900012345678, meter 21E1234567,
                                 ESME 00-0A-1B-FF-FE-2C-3D-4E with a Home Mini, Agile
                                 (E-1R-AGILE-24-10-01-H); gas MPRN 1234567890 with GSME
                                 00-0A-1B-FF-FE-2C-3D-5F whose Mini serves no gas ([]).
sk_test_nomini     A-0000AAAA    ``NOMINI``: IMPORT meter, smart meter but no Home Mini
                                 (telemetry []), ESME 00-0A-1B-FF-FE-00-00-01.
sk_test_twometers  A-2222BBBB    ``TWOMETERS``: two IMPORT points, each with a Home Mini
                                 (00-0A-1B-FF-FE-22-22-01/-02), fixed StandardTariff
                                 E-1R-VAR-22-11-01-A at 24.57 p/kWh (23.40 + VAT).
sk_test_solar      A-3333CCCC    ``SOLAR``: IMPORT + EXPORT points sharing ESME
                                 00-0A-1B-FF-FE-33-33-01, solar generation (negative
                                 demand, export register), Agile region J.
sk_test_dual       A-4444DDDD    ``DUAL``: IMPORT MPAN 1900044444447 (ESME
                                 00-0A-1B-FF-FE-44-44-01, Agile H) and gas MPRN
                                 4444444410 (GSME 00-0A-1B-FF-FE-44-44-02, gas
                                 G-1R-VAR-22-11-01-H at 6.237 p/kWh), both reporting.
sk_test_gasonly    A-5555EEEE    ``GASONLY``: no electricity; gas MPRN 5555555510,
                                 GSME 00-0A-1B-FF-FE-55-55-02 reporting.
sk_test_gasdup     A-6666FFFF    ``GASDUP``: gas only; MPRN 6666666610 lists an active
                                 record without ``smartGasMeter`` first, then the
                                 smart meter (GSME 00-0A-1B-FF-FE-66-66-02); an inactive
                                 SMETS1 record only with ``includeInactive: true``.
sk_test_solarfixed A-7777GGGG   ``SOLARFIXED``: solar on Flexible (E-1R-VAR-22-11-01-H)
                                 with a fixed export tariff, Outgoing Octopus 15 p/kWh
                                 (E-1R-OUTGOING-FIX-12M-19-05-13-J); ESME
                                 00-0A-1B-FF-FE-77-77-01.
sk_test_export…    A-8888HHHH    ``EXPORTNOAGREEMENT`` (key sk_test_exportnoagreement):
                                 an EXPORT point with no agreement (exports, unpaid);
                                 ESME 00-0A-1B-FF-FE-88-88-01, Flexible import.
=================  ============  ======================================================

Export tariffs carry no VAT; their rates come over REST like import's. Truth of export:
``true_export(account, device, start, end)`` -> (Wh, pence earned).

Gas (see README.md): one reading per half hour, ``readAt`` its start, readable
``gas_lag_seconds`` after its end, at every grouping (HOURLY merges two); kWh-equivalent Wh,
demand and export null; cost from the gas tariff. Truth: ``half_hours()``,
``latest_gas_readable()``, ``true_energy_wh()``, ``true_cost_pence()``, and over HTTP
``/_sim/truth`` and ``/_sim/truth/half_hours`` (both fuels).

Faults (``set_fault(kind, *, count=None, until=None, operation=None, seconds=None)``):
``outage`` KT-GB-4039, ``network`` KT-GB-4043, ``no_han`` KT-GB-4056 and
``rate_limit_telemetry`` KT-GB-4042 hit ``smartMeterTelemetry`` only; ``internal`` KT-CT-7899,
``rate_limit`` KT-CT-1199 and ``rate_limit_backend`` OE-0002 (no errorType) hit every root
field; ``http_502``, ``http_504``, ``http_403_html``, ``http_429`` (Retry-After = seconds or
60), ``malformed_json`` and ``timeout`` (sleeps ``seconds``, default 30, then answers normally)
act on the whole GraphQL response (REST is never faulted); ``stale`` stops every Home Mini
uploading from now until cleared or ``until`` (the gap stays in history, ``count`` does not
apply); ``expire_tokens`` and ``revoke_refresh_tokens`` act once, at once.
``count`` = next N matching requests; ``operation`` = operationName or a root field name.
Glitches (``add_glitch``): ``zero``, ``decrease`` or ``null`` consumption, or ``null_cost``
(costDelta and costDeltaWithTax null) on one sample or gas half hour.

Account changes: ``add_api_key(account_number)`` issues a further key for an account;
``swap_meter(device_id, new_device_id, new_serial)`` (or ``POST /_sim/meters/swap``) is a meter
exchange on the same MPAN: the old device then answers KT-GB-4050.

Rate limiting: every GraphQL request attributable to an account (its token, or the API key /
refresh token of ``obtainKrakenToken``) counts in a sliding hour, rejected ones included;
requests that fail parsing/validation (HTTP 400) or an HTTP-level fault are not counted.
"""

from .app import RecordedRequest
from .fixtures import (
    ACCOUNTS,
    API_KEYS,
    BY_NUMBER,
    DUAL,
    EXPORTNOAGREEMENT,
    GASDUP,
    GASONLY,
    NOMINI,
    SINGLE,
    SOLAR,
    SOLARFIXED,
    TWOMETERS,
    Fixture,
)
from .gas import HalfHour
from .household import Sample
from .simulator import KrakenSimulator, run_simulator

__all__ = [
    "ACCOUNTS",
    "API_KEYS",
    "BY_NUMBER",
    "DUAL",
    "EXPORTNOAGREEMENT",
    "GASDUP",
    "GASONLY",
    "NOMINI",
    "SINGLE",
    "SOLAR",
    "SOLARFIXED",
    "TWOMETERS",
    "Fixture",
    "HalfHour",
    "KrakenSimulator",
    "RecordedRequest",
    "Sample",
    "run_simulator",
]
