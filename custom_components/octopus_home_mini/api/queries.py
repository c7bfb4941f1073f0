"""The GraphQL documents the client sends: named operations, values only in variables."""

from typing import Final

SIGN_IN: Final = """
mutation ObtainKrakenToken($input: ObtainJSONWebTokenInput!) {
  obtainKrakenToken(input: $input) {
    token
    payload
    refreshToken
    refreshExpiresIn
  }
}
"""

_TARIFF_FIELDS: Final = """
fragment TariffFields on ElectricityTariffType {
  __typename
  ... on TariffType {
    productCode
    tariffCode
    displayName
    standingCharge
  }
  ... on StandardTariff {
    unitRate
  }
  ... on PrepayTariff {
    unitRate
  }
  ... on DayNightTariff {
    dayRate
    nightRate
  }
  ... on ThreeRateTariff {
    dayRate
    nightRate
    offPeakRate
  }
  ... on HalfHourlyTariff {
    unitRates {
      validFrom
      validTo
      value
    }
  }
}
"""

_GAS_TARIFF_FIELDS: Final = """
fragment GasTariffFields on GasTariffType {
  __typename
  productCode
  tariffCode
  displayName
  standingCharge
  unitRate
}
"""

ACCOUNT: Final = (
    """
query Account($accountNumber: String!) {
  account(accountNumber: $accountNumber) {
    number
    electricityAgreements(active: true) {
      validFrom
      validTo
      tariff {
        ...TariffFields
      }
      meterPoint {
        mpan
        direction
        meters(includeInactive: false) {
          serialNumber
          activeFrom
          activeTo
          meterType
          smartImportElectricityMeter {
            deviceId
          }
          smartExportElectricityMeter {
            deviceId
          }
        }
      }
    }
    gasAgreements(active: true) {
      validFrom
      validTo
      tariff {
        ...GasTariffFields
      }
      meterPoint {
        mprn
        meters(includeInactive: false) {
          serialNumber
          activeFrom
          activeTo
          consumptionUnits
          mechanism
          smartGasMeter {
            deviceId
          }
        }
      }
    }
  }
}
"""
    + _TARIFF_FIELDS
    + _GAS_TARIFF_FIELDS
)

TARIFF: Final = (
    """
query Tariff($accountNumber: String!) {
  account(accountNumber: $accountNumber) {
    electricityAgreements(active: true) {
      validFrom
      validTo
      tariff {
        ...TariffFields
      }
      meterPoint {
        mpan
        direction
        meters(includeInactive: false) {
          serialNumber
        }
      }
    }
    gasAgreements(active: true) {
      validFrom
      validTo
      tariff {
        ...GasTariffFields
      }
      meterPoint {
        mprn
      }
    }
  }
}
"""
    + _TARIFF_FIELDS
    + _GAS_TARIFF_FIELDS
)

_TELEMETRY_FIELDS: Final = """
fragment TelemetryFields on SmartMeterTelemetryType {
  readAt
  consumption
  demand
  consumptionDelta
  costDelta
  costDeltaWithTax
  export
}
"""

LATEST_TELEMETRY: Final = (
    """
query LatestTelemetry($deviceId: String!) {
  smartMeterTelemetry(deviceId: $deviceId) {
    ...TelemetryFields
  }
}
"""
    + _TELEMETRY_FIELDS
)

TELEMETRY_RANGE: Final = (
    """
query TelemetryRange(
  $deviceId: String!
  $start: DateTime!
  $end: DateTime!
  $grouping: TelemetryGrouping!
) {
  smartMeterTelemetry(deviceId: $deviceId, start: $start, end: $end, grouping: $grouping) {
    ...TelemetryFields
  }
}
"""
    + _TELEMETRY_FIELDS
)

RATE_LIMIT_INFO: Final = """
query RateLimitInfo {
  rateLimitInfo {
    pointsAllowanceRateLimit {
      limit
      remainingPoints
      usedPoints
      ttl
      isBlocked
    }
  }
}
"""

#: Every document the client can send, by operation name (the schema test validates them all).
ALL_DOCUMENTS: Final = {
    "ObtainKrakenToken": SIGN_IN,
    "Account": ACCOUNT,
    "Tariff": TARIFF,
    "LatestTelemetry": LATEST_TELEMETRY,
    "TelemetryRange": TELEMETRY_RANGE,
    "RateLimitInfo": RATE_LIMIT_INFO,
}
