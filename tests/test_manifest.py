"""The manifest is plain, valid JSON: no key twice (json.load would silently keep the last)."""

import json
from pathlib import Path

MANIFEST = Path(__file__).parents[1] / "custom_components/octopus_home_mini/manifest.json"


def test_manifest_has_each_key_once() -> None:
    """A duplicated key (e.g. two after_dependencies) loses one of them without a word."""

    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    manifest = json.loads(MANIFEST.read_text(), object_pairs_hook=unique)
    assert manifest["requirements"] == []
    assert {"frontend", "http", "recorder"} <= set(manifest["after_dependencies"])
    assert list(manifest)[:2] == ["domain", "name"]
    assert list(manifest)[2:] == sorted(list(manifest)[2:])
