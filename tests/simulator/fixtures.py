"""The simulator's accounts: API keys, account numbers, meter points, meters and devices.

Identifiers are synthetic but shaped like real ones (13-digit MPANs, EUI-64 device ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from .tariffs import (
    AGILE_H,
    AGILE_J,
    AGILE_OUTGOING_J,
    GAS_VAR_H,
    OUTGOING_FIXED_J,
    VAR_A,
    VAR_H,
    Tariff,
)

# Metadata of a real EDMI meter (API.md §3.3).
ESME_MANUFACTURER = "106C - EDMI Metering Europe"
ESME_MODEL = "10E2A100"
ESME_FIRMWARE = "0314B700"
AGREEMENT_START = datetime(2024, 9, 30, 23, 0, tzinfo=UTC)  # 2024-10-01 00:00 UK time


@dataclass(frozen=True, slots=True)
class ElectricityPoint:
    """One electricity meter point with its single active smart meter."""

    mpan: str
    direction: str  # IMPORT | EXPORT
    serial: str
    device_id: str  # ESME EUI-64; an export point shares the import meter's ESME
    tariff: Tariff | None  # None: the point has no agreement (an export point not signed up)
    home_mini: bool = True
    meter_id: int = 0
    meter_type: str = "S2ADE"
    active_from: date = date(2023, 4, 24)
    agreed_from: datetime = AGREEMENT_START
    previous_tariff: Tariff | None = None  # an ended agreement before agreed_from


@dataclass(frozen=True, slots=True)
class GasMeterRecord:
    """A further meter record on a gas meter point, listed before its smart meter (#1672)."""

    serial: str
    meter_id: int
    device_id: str | None  # None: ``smartGasMeter`` is null
    active_from: date
    active_to: date | None  # set: an inactive (removed) meter
    mechanism: str  # GasMeterMechanism, e.g. S1 / S2


@dataclass(frozen=True, slots=True)
class GasPoint:
    """A gas meter point with a SMETS2 meter whose Home Mini reports half-hourly gas."""

    mprn: str
    serial: str
    device_id: str  # GSME EUI-64
    tariff: Tariff
    meter_id: int = 0
    agreed_from: datetime = AGREEMENT_START
    previous_tariff: Tariff | None = None
    home_mini: bool = True  # False: the Mini serves no gas (telemetry [], as for a new Mini)
    other_meters: tuple[GasMeterRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class Fixture:
    """A simulated customer: what a test needs to log in and find its devices."""

    api_key: str
    account_number: str
    device_ids: tuple[str, ...]  # import ESME ids, same order as mpans/serials
    mpans: tuple[str, ...]  # import MPANs
    serials: tuple[str, ...]  # import meter serial numbers
    home_mini: bool  # whether the import devices have a Home Mini (telemetry)
    solar: bool  # whether the household exports
    user_id: int
    email: str
    electricity: tuple[ElectricityPoint, ...]
    gas: tuple[GasPoint, ...] = ()

    @property
    def export_mpan(self) -> str | None:
        """The EXPORT meter point's MPAN, if the account has one."""
        return next((p.mpan for p in self.electricity if p.direction == "EXPORT"), None)

    @property
    def gas_device_id(self) -> str | None:
        """The GSME id of the first gas meter, if any."""
        return self.gas[0].device_id if self.gas else None

    @property
    def gas_mprn(self) -> str | None:
        """The MPRN of the first gas meter point, if any."""
        return self.gas[0].mprn if self.gas else None


def _fixture(
    api_key: str,
    account_number: str,
    user_id: int,
    electricity: tuple[ElectricityPoint, ...],
    gas: tuple[GasPoint, ...] = (),
) -> Fixture:
    imports = [p for p in electricity if p.direction == "IMPORT"]
    return Fixture(
        api_key=api_key,
        account_number=account_number,
        device_ids=tuple(p.device_id for p in imports),
        mpans=tuple(p.mpan for p in imports),
        serials=tuple(p.serial for p in imports),
        home_mini=all(p.home_mini for p in imports),
        solar=any(p.direction == "EXPORT" for p in electricity),
        user_id=user_id,
        email=f"user{user_id}@example.com",
        electricity=electricity,
        gas=gas,
    )


SINGLE = _fixture(
    "sk_test_single",
    "A-1234ABCD",
    1234567,
    (
        ElectricityPoint(
            mpan="1900012345678",
            direction="IMPORT",
            serial="21E1234567",
            device_id="00-0A-1B-FF-FE-2C-3D-4E",
            tariff=AGILE_H,
            meter_id=4001,
            previous_tariff=VAR_H,
        ),
    ),
    (
        GasPoint(
            mprn="1234567890",
            serial="E6S12345671961",
            device_id="00-0A-1B-FF-FE-2C-3D-5F",
            tariff=GAS_VAR_H,
            meter_id=5001,
            home_mini=False,
        ),
    ),
)
NOMINI = _fixture(
    "sk_test_nomini",
    "A-0000AAAA",
    1000001,
    (
        ElectricityPoint(
            mpan="1900000000017",
            direction="IMPORT",
            serial="19L0000001",
            device_id="00-0A-1B-FF-FE-00-00-01",
            tariff=AGILE_H,
            home_mini=False,
            meter_id=4002,
        ),
    ),
)
TWOMETERS = _fixture(
    "sk_test_twometers",
    "A-2222BBBB",
    2222222,
    tuple(
        ElectricityPoint(
            mpan=mpan,
            direction="IMPORT",
            serial=serial,
            device_id=device_id,
            tariff=VAR_A,
            meter_id=meter_id,
        )
        for mpan, serial, device_id, meter_id in (
            ("1200022222221", "22L2222221", "00-0A-1B-FF-FE-22-22-01", 4003),
            ("1200022222238", "22L2222222", "00-0A-1B-FF-FE-22-22-02", 4004),
        )
    ),
)
SOLAR = _fixture(
    "sk_test_solar",
    "A-3333CCCC",
    3333333,
    (
        ElectricityPoint(
            mpan="1400033333330",
            direction="IMPORT",
            serial="23J3333333",
            device_id="00-0A-1B-FF-FE-33-33-01",
            tariff=AGILE_J,
            meter_id=4005,
        ),
        ElectricityPoint(  # same physical meter and ESME as the import point (API.md §3.4)
            mpan="1460033333336",
            direction="EXPORT",
            serial="23J3333333",
            device_id="00-0A-1B-FF-FE-33-33-01",
            tariff=AGILE_OUTGOING_J,
            home_mini=False,
            meter_id=4006,
            active_from=date(2023, 10, 9),
            agreed_from=datetime(2024, 8, 12, 23, 0, tzinfo=UTC),
        ),
    ),
)

DUAL = _fixture(
    "sk_test_dual",
    "A-4444DDDD",
    4444444,
    (
        ElectricityPoint(
            mpan="1900044444447",
            direction="IMPORT",
            serial="24H4444444",
            device_id="00-0A-1B-FF-FE-44-44-01",
            tariff=AGILE_H,
            meter_id=4007,
        ),
    ),
    (
        GasPoint(
            mprn="4444444410",
            serial="E6S14444444424",
            device_id="00-0A-1B-FF-FE-44-44-02",
            tariff=GAS_VAR_H,
            meter_id=5002,
        ),
    ),
)
GASONLY = _fixture(
    "sk_test_gasonly",
    "A-5555EEEE",
    5555555,
    (),
    (
        GasPoint(
            mprn="5555555510",
            serial="E6S15555555525",
            device_id="00-0A-1B-FF-FE-55-55-02",
            tariff=GAS_VAR_H,
            meter_id=5003,
        ),
    ),
)
GASDUP = _fixture(
    "sk_test_gasdup",
    "A-6666FFFF",
    6666666,
    (),
    (
        GasPoint(
            mprn="6666666610",
            serial="E6S16666666626",
            device_id="00-0A-1B-FF-FE-66-66-02",
            tariff=GAS_VAR_H,
            meter_id=5004,
            other_meters=(
                # The record BottlecapDave #1672 saw: active, same meter point, no smart device.
                GasMeterRecord("E6S16666666600", 5005, None, date(2023, 4, 24), None, "S2"),
                # The SMETS1 meter the SMETS2 one replaced: inactive, its device id serves nothing.
                GasMeterRecord(
                    "G4A0666666",
                    5006,
                    "00-0A-1B-FF-FE-66-66-99",
                    date(2019, 6, 1),
                    date(2023, 4, 23),
                    "S1",
                ),
            ),
        ),
    ),
)

SOLARFIXED = _fixture(
    "sk_test_solarfixed",
    "A-7777GGGG",
    7777777,
    (
        ElectricityPoint(
            mpan="1400077777770",
            direction="IMPORT",
            serial="23J7777777",
            device_id="00-0A-1B-FF-FE-77-77-01",
            tariff=VAR_H,
            meter_id=4008,
        ),
        ElectricityPoint(  # a fixed export tariff (Outgoing Octopus, 15 p/kWh)
            mpan="1460077777776",
            direction="EXPORT",
            serial="23J7777777",
            device_id="00-0A-1B-FF-FE-77-77-01",
            tariff=OUTGOING_FIXED_J,
            home_mini=False,
            meter_id=4009,
        ),
    ),
)
EXPORTNOAGREEMENT = _fixture(
    "sk_test_exportnoagreement",
    "A-8888HHHH",
    8888888,
    (
        ElectricityPoint(
            mpan="1400088888880",
            direction="IMPORT",
            serial="23J8888888",
            device_id="00-0A-1B-FF-FE-88-88-01",
            tariff=VAR_H,
            meter_id=4010,
        ),
        ElectricityPoint(  # panels on the roof, the export point exists, no export tariff yet
            mpan="1460088888886",
            direction="EXPORT",
            serial="23J8888888",
            device_id="00-0A-1B-FF-FE-88-88-01",
            tariff=None,
            home_mini=False,
            meter_id=4011,
        ),
    ),
)

ACCOUNTS: tuple[Fixture, ...] = (
    SINGLE,
    NOMINI,
    TWOMETERS,
    SOLAR,
    DUAL,
    GASONLY,
    GASDUP,
    SOLARFIXED,
    EXPORTNOAGREEMENT,
)
BY_NUMBER: dict[str, Fixture] = {f.account_number: f for f in ACCOUNTS}
API_KEYS: dict[str, Fixture] = {f.api_key: f for f in ACCOUNTS}
