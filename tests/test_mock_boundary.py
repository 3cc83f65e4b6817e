"""The mocks stand apart from the engine: they share only a small kernel with it.

``tool_mocks`` plays the outside world (the APIs and the model). If it imported engine
internals, a change in the engine could silently change what the "world" answers, and the
tests that compare the engine against the mocks would test the engine against itself. So
``tool_mocks`` may import from ``ste_async`` only the kernel below, and the kernel's
``markers`` module imports nothing of the engine but its errors. The checks read the source
with :mod:`ast`, so an import hidden inside a function counts as much as one at the top.

The prompt markers are the contract between the two sides; the last tests check that every
template still holds the phrase the scripted LLM looks for, including the evaluation templates
whose modules do not check it themselves.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from ste_async import markers

ROOT = Path(__file__).resolve().parents[1]
MOCKS = ROOT / "tool_mocks"
KERNEL = frozenset({"ste_async.errors", "ste_async.catalog", "ste_async.markers"})
MARKERS_MAY_IMPORT = frozenset({"ste_async.errors"})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _known_modules(root: Path) -> set[str]:
    return {_module_name(p) for p in root.rglob("*.py")}


def _imports(path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """(absolute module name, line) of every import in ``path``, at any depth.

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module of the
    tree (``from . import policy``), else of ``pkg`` itself (``from .llm import MockLlmConfig``).
    """
    module = _module_name(path)
    package = module if _is_package(path) else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield (candidate if candidate in known else base), node.lineno


def _in(name: str, top: str) -> bool:
    return name == top or name.startswith(top + ".")


def _mock_files() -> list[Path]:
    return sorted(MOCKS.rglob("*.py"))


def test_the_mocks_import_only_the_kernel_of_the_engine() -> None:
    known = _known_modules(MOCKS) | _known_modules(ROOT / "ste_async")
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _mock_files()
        for name, line in _imports(path, known)
        if _in(name, "ste_async") and name not in KERNEL
    ]
    assert not offending, (
        f"tool_mocks may import from ste_async only {sorted(KERNEL)}; found:\n"
        + "\n".join(offending))


def test_the_markers_import_nothing_of_the_engine_but_its_errors() -> None:
    path = ROOT / "ste_async" / "markers.py"
    known = _known_modules(ROOT / "ste_async")
    offending = [f"{path.relative_to(ROOT)}:{line} imports {name}"
                 for name, line in _imports(path, known)
                 if _in(name, "ste_async") and name not in MARKERS_MAY_IMPORT]
    assert not offending, "\n".join(offending)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def _mock_graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    known = _known_modules(MOCKS)
    graph: dict[str, set[str]] = {name: set() for name in known}
    where: dict[tuple[str, str], str] = {}
    for path in _mock_files():
        source = _module_name(path)
        for target, line in _imports(path, known):
            if target in known and target != source:
                graph[source].add(target)
                where.setdefault((source, target), f"{path.relative_to(ROOT)}:{line}")
    return graph, where


def test_the_mock_modules_import_each_other_without_a_cycle() -> None:
    graph, where = _mock_graph()
    assert graph["tool_mocks.llm"] >= {"tool_mocks.policy"}  # the graph is really built
    cycle = _cycle(graph)
    if cycle:
        steps = [f"{a} -> {b} ({where[a, b]})" for a, b in itertools.pairwise(cycle)]
        pytest.fail("import cycle in tool_mocks:\n" + "\n".join(steps))


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize(("template", "marker", "where"), [
    ("prompts/reflect.txt", markers.REFLECT_MARKER, "start"),
    ("prompts/imagine_first.txt", markers.QUERY_MARKER, "end"),
    ("prompts/imagine_next.txt", markers.QUERY_MARKER, "end"),
    ("distill/prompts/judge.txt", markers.TRIAL_JUDGE_MARKER, "in"),
    ("distill/prompts/paraphrase_first.txt", markers.PARAPHRASE_MARKER, "in"),
    ("distill/prompts/paraphrase_again.txt", markers.PARAPHRASE_AGAIN_MARKER, "in"),
    ("evaluate/test_prompts/test.txt", markers.TEST_PROMPT_MARKER, "in"),
    ("evaluate/test_prompts/judge.txt", markers.CALL_JUDGE_MARKER, "in"),
    ("evaluate/test_prompts/demos.txt", markers.DEMO_INTRO, "start"),
])
def test_every_template_holds_the_marker_the_mock_looks_for(template: str, marker: str,
                                                            where: str) -> None:
    text = (ROOT / "ste_async" / template).read_text(encoding="utf-8").strip()
    found = {"start": text.startswith, "end": text.endswith, "in": text.__contains__}[where]
    assert found(marker), f"{template} no longer holds {marker!r} ({where})"


def test_each_marker_names_one_kind_of_prompt() -> None:
    """A marker found in a second template would send the mock down the wrong branch."""
    templates = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
                 for p in sorted((ROOT / "ste_async").rglob("*.txt"))}
    for marker in (markers.REFLECT_MARKER, markers.TRIAL_JUDGE_MARKER, markers.PARAPHRASE_MARKER,
                   markers.PARAPHRASE_AGAIN_MARKER, markers.TEST_PROMPT_MARKER,
                   markers.CALL_JUDGE_MARKER, markers.DEMO_INTRO):
        holders = [name for name, text in templates.items() if marker in text]
        assert len(holders) == 1, f"{marker!r} occurs in {holders}"
