"""The test suite's own guards can fail: a leaked secret fails the test that logged it."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

LEAKY_TESTS = """
import logging

import pytest

from tests.simulator import SINGLE


@pytest.fixture
def leaky_fixture():
    logging.getLogger("leak").warning("set-up with %s", SINGLE.api_key)


def test_body_logs_the_key():
    logging.getLogger("leak").error("the key is %s", SINGLE.api_key)


def test_setup_logs_the_key(leaky_fixture):
    pass


def test_clean():
    logging.getLogger("leak").error("nothing secret here")
"""


def test_secrets_guard_fails_a_leaking_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test that logs the API key in its body or set-up errors in the guard's teardown."""
    # A separate process, so the leaks stay out of this test's own log.
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[1]))
    pytester.makeconftest("from tests.conftest import no_secrets_in_logs  # noqa: F401\n")
    pytester.makepyfile(test_leaky=LEAKY_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:homeassistant", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(["ERROR *test_body_logs_the_key*", "ERROR *test_setup_logs*"])
    assert "secrets in the log (prefixes): ['sk_tes']" in result.stdout.str()
