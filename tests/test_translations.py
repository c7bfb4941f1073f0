"""translations/en.json by Home Assistant's rules (hassfest's), so a bad string cannot come back.

hassfest is not in the Home Assistant wheel; its string rule is (``cv.string_with_no_html``),
and the key and structure rules hassfest applies are restated here.
"""

from collections.abc import Iterator
import json
from pathlib import Path
import re
from typing import Any

from homeassistant.helpers import config_validation as cv
import probatio as vol
import pytest

PACKAGE = Path(__file__).parents[1] / "custom_components" / "octopus_home_mini"
STRINGS = json.loads((PACKAGE / "translations" / "en.json").read_text(encoding="utf-8"))
#: Lowercase letters, digits, "_" and "-", neither first nor last nor doubled.
KEY = re.compile(r"^[a-z0-9](?:[a-z0-9]|[_-](?=[a-z0-9]))*$")
QUOTED_PLACEHOLDER = re.compile(r"'\{\w+\}'")


def leaves(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (path, value) below a node."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    else:
        yield path, node


def string_problems(strings: dict[str, Any]) -> list[str]:
    """What hassfest would reject in the strings and keys."""
    problems = []
    for path, value in leaves(strings):
        where = ".".join(path)
        problems.extend(f"{where}: key {key!r}" for key in path if not KEY.match(key))
        if not isinstance(value, str) or not value:
            problems.append(f"{where}: empty or not a string")
            continue
        try:
            cv.string_with_no_html(value)
        except vol.Invalid as err:
            problems.append(f"{where}: {err}")
        if value != value.strip():
            problems.append(f"{where}: leading or trailing spaces")
        if QUOTED_PLACEHOLDER.search(value):
            problems.append(f"{where}: placeholder in single quotes")
    return problems


def steps(strings: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Config-flow steps and their sections, and repair fix-flow steps."""
    forms = [("config", strings["config"])] + [
        (f"issues.{key}.fix_flow", issue["fix_flow"])
        for key, issue in strings.get("issues", {}).items()
        if "fix_flow" in issue
    ]
    for prefix, flow in forms:
        for step_id, step in flow["step"].items():
            yield f"{prefix}.{step_id}", step
            for name, section in step.get("sections", {}).items():
                yield f"{prefix}.{step_id}.{name}", section


def test_strings_pass_hassfest_rules() -> None:
    """No HTML-like <word> (hassfest's own rule), valid keys, no empty strings."""
    assert string_problems(STRINGS) == []


def test_the_rules_catch_what_hassfest_catches() -> None:
    """The checks fail on the strings hassfest rejected (today's <API URL>)."""
    bad = {"config": {"step": {"user": {"data": {"api_url": "Called at <API URL>/v1/"}}}}}
    assert string_problems(bad) == [
        "config.step.user.data.api_url: the string should not contain HTML"
    ]
    assert string_problems({"Error": {"x": ""}}) == [
        "Error.x: key 'Error'",
        "Error.x: empty or not a string",
    ]


@pytest.mark.parametrize(("where", "step"), list(steps(STRINGS)), ids=lambda v: str(v)[:40])
def test_every_field_is_described(where: str, step: dict[str, Any]) -> None:
    """Every form field has a data_description, and every description a field."""
    assert set(step.get("data", {})) == set(step.get("data_description", {})), where


def test_every_issue_has_text() -> None:
    """An issue has a title and either a description or a fix flow."""
    for key, issue in STRINGS["issues"].items():
        assert "title" in issue, key
        assert ("description" in issue) != ("fix_flow" in issue), key


def used_keys(pattern: str) -> set[str]:
    """Keys the integration's code passes, by a pattern over its source."""
    found: set[str] = set()
    for module in PACKAGE.rglob("*.py"):
        found |= set(re.findall(pattern, module.read_text(encoding="utf-8")))
    return found


def test_every_key_the_code_uses_exists() -> None:
    """Form errors, aborts, exceptions and issues raised in code are all translated."""
    assert used_keys(r'_FlowError\(\s*"(\w+)"') <= STRINGS["config"]["error"].keys()
    aborts = STRINGS["config"]["abort"].keys() | {
        reason
        for issue in STRINGS["issues"].values()
        for reason in issue.get("fix_flow", {}).get("abort", {})
    }
    assert used_keys(r'async_abort\(reason="(\w+)"\)') <= aborts
    assert (
        used_keys(r'translation_domain=DOMAIN,\s*translation_key="(\w+)"')
        <= STRINGS["exceptions"].keys()
    )
    assert used_keys(r'\nISSUE_\w+ = "(\w+)"') <= STRINGS["issues"].keys()
    assert len(used_keys(r'_FlowError\(\s*"(\w+)"')) >= 8
    assert len(used_keys(r'\nISSUE_\w+ = "(\w+)"')) == 4
