"""Tests for the Octopus Home Mini integration."""
