"""The exploration prompts: text files in this folder, rendered by small pure functions.

The texts are this project's own wording of the STE protocol. Rendering never involves the
clock or randomness, so a prompt is a pure function of the API, the memory and the step: the
prefix of an episode's conversation stays byte-stable, which keeps server prefix caches warm.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources

from ..markers import QUERY_MARKER, REFLECT_MARKER

__all__ = (
    "ACT_NEXT",
    "QUERY_MARKER",
    "REFLECT",
    "SYSTEM",
    "MemoryLine",
    "act_first",
    "api_block",
    "imagine_first",
    "imagine_next",
    "with_memory",
)


def _load(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8").strip()


SYSTEM = _load("system.txt")
REFLECT = _load("reflect.txt")
ACT_NEXT = _load("act_next.txt")
_IMAGINE_FIRST = _load("imagine_first.txt")
_IMAGINE_NEXT = _load("imagine_next.txt")
_ACT_FIRST = _load("act_first.txt")
_MEMORY_PRE, _MEMORY_POST = (part.strip() for part in _load("memory.txt").split("========="))

# the scripted mock LLM tells the phases apart by these phrases (see ste_async.markers)
for _text in (_IMAGINE_FIRST, _IMAGINE_NEXT):
    assert _text.endswith(QUERY_MARKER), f"an imagination prompt no longer ends in {QUERY_MARKER!r}"
assert REFLECT.startswith(REFLECT_MARKER), f"reflect.txt no longer opens with {REFLECT_MARKER!r}"

MemoryLine = tuple[str, bool | None]  # (query, solved or None while still being tried)


def api_block(names_and_descriptions: Iterable[tuple[str, str]]) -> str:
    """The API list as the study lays it out: name line, description line, blank line."""
    return "\n\n".join(f"API_name: {n}\nDescription: {d}" for n, d in names_and_descriptions)


def imagine_first(api_descriptions: str) -> str:
    return _IMAGINE_FIRST.format(api_descriptions=api_descriptions)


def imagine_next() -> str:
    return _IMAGINE_NEXT


def act_first(api_names: Sequence[str], query: str) -> str:
    return _ACT_FIRST.format(api_names=", ".join(api_names), query=query)


def _label(solved: bool | None) -> str:
    return "pending" if solved is None else ("Yes" if solved else "No")


def with_memory(prompt: str, memory: Sequence[MemoryLine], *, labels: bool = True) -> str:
    """``prompt`` (ending in the query marker) with the long-term memory inserted before it.

    ``labels=False`` (the no-reflection ablation) lists the queries without a solved label.
    """
    if not memory:
        return prompt
    head = prompt.removesuffix(QUERY_MARKER).rstrip()
    if labels:
        lines = "\n".join(f"Query: {q} | Solved: {_label(s)}" for q, s in memory)
    else:
        lines = "\n".join(f"Query: {q}" for q, _ in memory)
    return f"{head}\n\n{_MEMORY_PRE}\n{lines}\n\n{_MEMORY_POST}\n\n{QUERY_MARKER}"
