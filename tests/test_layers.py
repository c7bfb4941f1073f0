"""The house is layered: no import circle among the integration's modules (type-only imports
count too), and the Kraken client knows nothing of Home Assistant."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "custom_components" / "octopus_home_mini"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__") or "__init__"


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """The package's own modules ``path`` imports, and every absolute import's top name."""
    here = _module(path).split(".")
    package = here if path.name == "__init__.py" and here != ["__init__"] else here[:-1]
    own, absolute = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            target = [*base, *(node.module.split(".") if node.module else [])]
            names = [".".join(target)] if node.module else []
            names += [".".join([*target, alias.name]) for alias in node.names]
            modules = {_module(p) for p in PACKAGE.rglob("*.py")}
            own |= {name for name in names if name in modules}
            if not target and not node.module:
                own |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module:
            absolute.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            absolute |= {alias.name.split(".")[0] for alias in node.names}
    return own - {_module(path)}, absolute


GRAPH = {_module(path): _imports(path)[0] for path in PACKAGE.rglob("*.py")}


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(GRAPH.get(node, ())):
            if nxt.startswith(f"{node}.") or node.startswith(f"{nxt}."):
                continue  # a package and its own modules
            if state.get(nxt) == 1:
                return [*trail, node, nxt]
            if nxt not in state and (found := visit(nxt, [*trail, node])):
                return found
        state[node] = 2
        return None

    for start in sorted(GRAPH):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_no_import_circle() -> None:
    """Every module imports only modules below it."""
    assert len(GRAPH) > 20
    assert GRAPH["repairs"] >= {"coordinator", "issues"}  # the fix sits above the coordinator
    assert _cycle() is None


def test_the_client_has_no_home_assistant_import() -> None:
    """``api/`` is a package of its own: aiohttp and the standard library only."""
    for path in (PACKAGE / "api").rglob("*.py"):
        assert "homeassistant" not in _imports(path)[1], path.name


#: Classes allowed past the house's 200 lines, and their own limits (the house issue's).
CLASS_LIMITS = {"HomeMiniCoordinator": 180, "MeterState": 200, "Ledger": 300, "KrakenClient": 400}
CLASS_DEFAULT_LIMIT = 200


def _class_sizes() -> dict[str, int]:
    sizes = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                sizes[f"{_module(path)}.{node.name}"] = node.end_lineno - node.lineno + 1
    return sizes


def test_no_class_too_long_to_read() -> None:
    """One concern per class: the coordinator ≤ 180 lines, MeterState ≤ 200, the Ledger ≤ 300,
    the Kraken client aside; no other class over 200."""
    sizes = _class_sizes()
    assert sizes["coordinator.HomeMiniCoordinator"] > 100  # the walk found the classes
    too_long = {
        name: lines
        for name, lines in sizes.items()
        if lines > CLASS_LIMITS.get(name.rsplit(".", 1)[1], CLASS_DEFAULT_LIMIT)
    }
    assert too_long == {}
