"""Shared fixtures."""

import pytest

# Import our package before Home Assistant mounts phcc's testing_config/custom_components.
import custom_components.octopus_home_mini  # noqa: F401


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components/."""
