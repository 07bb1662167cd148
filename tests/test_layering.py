"""DESIGN §5/§7 layering, checked on the source tree: arrows point one way (no import cycles among the
project's modules), apps never import the server or gradio, and an app's `app.py` stays small.

Modules are named as they install: `studio/…` → `studio.…`, `apps/…` → `studio.apps.…`, `models/…` →
`studio.models.…`. Every import counts — module level or inside a function — except those under
`if TYPE_CHECKING:`, which never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

ROOTS = {"studio": REPO / "studio", "studio.apps": REPO / "apps", "studio.models": REPO / "models"}
MAX_APP_LINES = 250
FORBIDDEN_IN_APPS = ("studio.serve", "gradio", "gradio_client")


def _module_files() -> dict[str, Path]:
    """Installed module name → source file, for every project module."""
    modules: dict[str, Path] = {}
    for prefix, root in ROOTS.items():
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root)
            if any(part == "__pycache__" or part.startswith(".") for part in rel.parts):
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([prefix, *parts])] = path
    return modules


MODULES = _module_files()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """Every Import/ImportFrom node that can run: the bodies of `if TYPE_CHECKING:` are left out."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative imports resolved against `module`'s package)."""
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    base = package.split(".")
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(module: str, path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for each import in the file; `from pkg import name` names `pkg.name` when that
    is a module, else `pkg`. Non-project imports are kept (the forbidden-import check reads them)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in _imports(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
            continue
        base = _absolute(module, path, node)
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            found.append((candidate if candidate in MODULES else base, node.lineno))
    return found


def _graph() -> dict[str, dict[str, int]]:
    """module → {project module it imports: first line of that import}."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in MODULES.items():
        edges: dict[str, int] = {}
        for target, line in _targets(module, path):
            # `import studio.x.y` names studio.x.y; the packages above it are not counted as edges, since a
            # package __init__ that imports its own submodules would otherwise read as a cycle.
            if target in MODULES and target != module:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def _strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); components of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def _shortest_cycle(graph: dict[str, dict[str, int]], start: str, members: set[str]) -> list[str]:
    """The shortest path start → … → start inside one component (breadth first)."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in parents:
                    parents[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"{start} is in a cycle but no path back was found")


def _describe(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    steps = []
    for here, there in zip(cycle, cycle[1:]):
        path = MODULES[here].relative_to(REPO)
        steps.append(f"    {here} → {there}  ({path}:{graph[here][there]})")
    return "\n".join(steps)


def test_no_import_cycles():
    graph = _graph()
    report = []
    for component in _strongly_connected(graph):
        cycle = _shortest_cycle(graph, component[0], set(component))
        report.append(f"  cycle among {len(component)} module(s): {', '.join(component)}\n"
                      f"  for example:\n{_describe(graph, cycle)}")  # fmt: skip
    assert not report, "Import cycles (DESIGN §5: front-ends → apps → core, one way):\n" + "\n".join(report)


def test_the_layering_check_sees_cycles_and_function_level_imports():
    """The checker itself: a function-level import closes a cycle; a TYPE_CHECKING import does not."""
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert _strongly_connected(graph) == [["a", "b", "c"]]
    assert _shortest_cycle(graph, "a", {"a", "b", "c"}) == ["a", "b", "c", "a"]
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from studio.hidden import X\nelse:\n    import studio.shown_else\n"
        "def f():\n    from .sibling import g\n"
    )
    names = {n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in _imports(tree)}
    assert names == {"typing", "studio.shown_else", "sibling"}
    relative = ast.parse("from ..errors import InputError").body[0]
    assert _absolute("studio.apps.makeup.app", REPO / "apps/makeup/app.py", relative) == "studio.apps.errors"
    assert _absolute("studio.preprocess", REPO / "studio/preprocess/__init__.py",
                     ast.parse("from . import face").body[0]) == "studio.preprocess"  # fmt: skip


def test_apps_never_import_the_server_or_gradio():
    offenders = []
    for module, path in MODULES.items():
        if not module.startswith("studio.apps"):
            continue
        for target, line in _targets(module, path):
            if any(target == name or target.startswith(f"{name}.") for name in FORBIDDEN_IN_APPS):
                offenders.append(f"  {path.relative_to(REPO)}:{line} imports {target}")
    assert not offenders, "Apps never import studio.serve or gradio (DESIGN §7):\n" + "\n".join(offenders)


APP_FILES = sorted((REPO / "apps").glob("*/app.py"))


@pytest.mark.parametrize("path", APP_FILES, ids=[p.parent.name for p in APP_FILES])
def test_an_apps_app_py_stays_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_APP_LINES, (
        f"{path.relative_to(REPO)} has {lines} lines (at most {MAX_APP_LINES}, DESIGN §7): move what two apps "
        "would both write into the core, and what is the app's own into its lite.py / diffusion.py / modules."
    )
