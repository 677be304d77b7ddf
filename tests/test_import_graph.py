"""The layers hold: the import graph of the packages, read from the source with `ast` (every
import counts, inside functions and under TYPE_CHECKING too)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("telemed", "web", "records", "signaling")


def module_names() -> dict[str, Path]:
    """Every module of the packages (migrations excepted), by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imported(name: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The modules of the packages that one module imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import module` imports the module, not only the package.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            # `import a.b.c` of a package module: the longest known prefix is the module.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of the packages it imports."""
    modules = module_names()
    return {name: set(imported(name, path, modules)) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each strongly connected group of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def within(name: str, package: str) -> bool:
    """Whether a module is `package` or inside it."""
    return name == package or name.startswith(package + ".")


GRAPH = import_graph()


def test_the_graph_is_read() -> None:
    # Positive controls: a reader that finds nothing would pass every rule below.
    assert "signaling.registry" in GRAPH["signaling.server"]
    assert "signaling.media" in GRAPH["telemed.recording"]
    assert "records.services.room_admission" in GRAPH["telemed.room_bridge"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_packages_have_no_circle() -> None:
    assert cycles(GRAPH) == []


def test_dependencies_point_one_way() -> None:
    # telemed -> web -> records; telemed -> signaling (docs in DEVELOPERS.md).
    allowed = {
        ("telemed", "web"),
        ("telemed", "records"),
        ("telemed", "signaling"),
        ("web", "records"),
    }
    crossing = {
        (name.partition(".")[0], target.partition(".")[0])
        for name, targets in GRAPH.items()
        for target in targets
    }
    assert {edge for edge in crossing if edge[0] != edge[1]} <= allowed


def test_signaling_has_no_circle() -> None:
    signaling = {
        name: {t for t in targets if within(t, "signaling")}
        for name, targets in GRAPH.items()
        if within(name, "signaling")
    }
    assert cycles(signaling) == []


@pytest.mark.parametrize("other", ["web", "records", "telemed"])
def test_signaling_imports_no_other_package(other: str) -> None:
    wrong = {
        (name, target)
        for name, targets in GRAPH.items()
        if within(name, "signaling")
        for target in targets
        if within(target, other)
    }
    assert wrong == set()


def test_only_the_application_uses_the_media_part() -> None:
    users = {
        name
        for name, targets in GRAPH.items()
        if not within(name, "signaling.media")
        and any(within(t, "signaling.media") for t in targets)
    }
    assert users and all(within(name, "telemed") for name in users), users
