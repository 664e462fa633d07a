"""The package's modules import each other without a cycle.

Read with ``ast`` (every import, also those inside functions and under TYPE_CHECKING): a
module depends on the modules it names and on their packages, whose ``__init__`` runs
first. Dependencies run events -> store -> projections -> reports -> service; the store
projects what it appends through the projector it is given, so it imports none of them.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "catalyst_hub"

KNOWN_CYCLES: list[set[str]] = []


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        named: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                named.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                named.add(source)
                named.update(f"{source}.{alias.name}" for alias in node.names)
        # a module's own packages are already being imported when it runs
        own = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 2)}
        graph[name] = {
            ".".join(dep.split(".")[:k])
            for dep in named
            for k in range(1, dep.count(".") + 2)
            if ".".join(dep.split(".")[:k]) in paths
        } - own
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_reader_sees_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [{"a", "b", "c"}]


def test_no_import_cycle():
    found = cycles(import_graph())
    assert sorted(map(sorted, found)) == sorted(map(sorted, KNOWN_CYCLES))


#: the layers, lowest first: a module of a layer imports from its own and lower layers only
LAYERS = [
    {"events", "badges"},  # the event types and schemas; credentials and their signatures
    {"store"},
    {"projections"},
    {"reports"},
    {"workflows", "interop", "warehouse"},  # writes of staff pages; records out (xAPI, Parquet)
    {"service"},
    {"consortium"},  # a service of its own, on the hub service's handlers
]


def test_layers_import_downwards_only():
    rank = {f"catalyst_hub.{name}": i for i, layer in enumerate(LAYERS) for name in layer}

    def layer(module: str) -> int | None:
        return rank.get(".".join(module.split(".")[:2]))

    upward = sorted(
        (module, dep)
        for module, deps in import_graph().items()
        if layer(module) is not None
        for dep in deps
        if layer(dep) is not None and layer(dep) > layer(module)
    )
    assert upward == []
