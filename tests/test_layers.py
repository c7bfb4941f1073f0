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
