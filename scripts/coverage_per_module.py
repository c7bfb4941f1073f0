"""Fail unless every module of the integration is covered >= 95 % and config_flow.py 100 %.

Reads `coverage json` output (lines and branches, as coverage.py counts them).
"""

import json
from pathlib import Path
import sys

FLOOR = 95.0
#: The quality scale's config-flow-test-coverage rule asks for every line of the flow.
FULL = {"custom_components/octopus_home_mini/config_flow.py"}


def main(report: Path) -> int:
    """Print each module below its floor; the exit code says whether any was."""
    files = json.loads(report.read_text())["files"]
    short = []
    for name, data in sorted(files.items()):
        needed = 100.0 if name in FULL else FLOOR
        covered = data["summary"]["percent_covered"]
        if covered < needed:
            missing = data.get("missing_lines", [])
            short.append(f"{name}: {covered:.1f} % < {needed:.0f} % (missing lines {missing})")
    for line in short:
        print(line)
    missing_full = FULL - files.keys()
    for name in sorted(missing_full):
        print(f"{name}: not measured")
    print(f"per-module coverage: {len(files)} modules, {len(short) + len(missing_full)} short")
    return 1 if short or missing_full else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
