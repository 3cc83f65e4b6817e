"""The house rules of the code base, checked: module boundaries, no import cycles, exports.

- The engine never imports :mod:`tool_mocks`; only the edge does (``ste_async.cli``, which
  parses the command line, and ``ste_async.services``, which starts servers).
- No import cycle between any two modules of the project (imports that run only for the
  type checker, under ``if TYPE_CHECKING:``, do not count).
- Every module says what it exports: ``__all__`` names only what the module has, and every
  public function or class defined in a module is in its ``__all__``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ste_async", "tool_mocks")
EDGE = {"ste_async.cli", "ste_async.services"}  # may import tool_mocks


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that runs, in function bodies too; not those for the type
    checker alone."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The project modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        # "from pkg import name" loads pkg.name when that is a module, else pkg itself
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                 for a in node.names]
    for name in names:
        while name and name not in MODULES:  # "import a.b.c" of a module a.b: its nearest
            name = name.rpartition(".")[0]
        if name:
            yield name


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[module] = {t for node in _import_nodes(tree) for t in _targets(module, node)
                         if t != module}
    return graph


GRAPH = _graph()


def test_the_graph_sees_the_imports_it_should() -> None:
    # the checks below are only as good as the graph: it must see known edges of each kind
    assert "ste_async.explore.runner" in GRAPH["ste_async.explore.workers"]  # relative
    assert "tool_mocks.server" in GRAPH["ste_async.services"]  # inside a function
    assert "ste_async.catalog" in GRAPH["tool_mocks.server"]  # absolute


def test_only_the_edge_imports_tool_mocks() -> None:
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items() if module.startswith("ste_async")
        and module not in EDGE
        for target in targets if target.split(".")[0] == "tool_mocks")
    assert not offenders, "the engine must be given URLs, not start mocks: " + "; ".join(offenders)


def _cycle() -> list[str] | None:
    """One import cycle of the graph, as a path that comes back to its start; None if none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(GRAPH):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_import_cycle() -> None:
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(GRAPH, "ste_async.errors", {"ste_async.catalog"})
    assert _cycle() is not None  # catalog imports errors: now they import each other


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith("__main__")))
def test_all_lists_exactly_the_public_names(module: str) -> None:
    mod = importlib.import_module(module)
    exported = getattr(mod, "__all__", None)
    assert exported is not None, f"{module} has no __all__"
    missing = [name for name in exported if not hasattr(mod, name)]
    assert not missing, f"{module}.__all__ names what it does not have: {missing}"
    assert len(set(exported)) == len(exported), f"{module}.__all__ repeats a name"
    defined = [name for name, value in vars(mod).items()
               if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
               and getattr(value, "__module__", None) == module]
    unlisted = sorted(set(defined) - set(exported))
    assert not unlisted, f"{module} defines public {unlisted} but does not export them"


def test_the_mocks_load_only_the_kernel_at_run_time() -> None:
    # the package's own __init__ loads its names lazily, so importing the mocks in a fresh
    # interpreter brings in no engine module beyond the kernel
    import subprocess
    import sys

    code = ("import sys, tool_mocks, tool_mocks.server, tool_mocks.llm, tool_mocks.policy; "
            "print(sorted(m for m in sys.modules if m.startswith('ste_async')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == str(["ste_async", "ste_async.catalog", "ste_async.errors",
                               "ste_async.markers"])
