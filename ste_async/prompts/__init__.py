"""The exploration prompts: text files in this folder, rendered by small pure functions.

The texts are this project's own wording of the STE protocol. Rendering never involves the
clock or randomness, so a prompt is a pure function of the API, the memory and the step: the
prefix of an episode's conversation stays byte-stable, which keeps server prefix caches warm.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .._text import load_prompt
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


SYSTEM = load_prompt(__name__, "system.txt")
REFLECT = load_prompt(__name__, "reflect.txt", marker=REFLECT_MARKER)
ACT_NEXT = load_prompt(__name__, "act_next.txt")
_IMAGINE_FIRST = load_prompt(__name__, "imagine_first.txt", marker=QUERY_MARKER)
_IMAGINE_NEXT = load_prompt(__name__, "imagine_next.txt", marker=QUERY_MARKER)
_ACT_FIRST = load_prompt(__name__, "act_first.txt")
_MEMORY_PRE, _MEMORY_POST = (
    part.strip() for part in load_prompt(__name__, "memory.txt").split("========="))

# the scripted mock LLM finds the phase by where these phrases stand (see ste_async.markers)
if not all(t.endswith(QUERY_MARKER) for t in (_IMAGINE_FIRST, _IMAGINE_NEXT)) or \
        not REFLECT.startswith(REFLECT_MARKER):
    raise RuntimeError("the imagination prompts must end in the query marker and the "
                       "reflection prompt must open with its marker")

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
