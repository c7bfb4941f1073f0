"""Constants for the Octopus Home Mini integration."""

from typing import Final

DOMAIN: Final = "octopus_home_mini"
