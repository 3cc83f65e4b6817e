"""The playbook: for every API, the user requests the scripted LLM invents and the calls it makes.

The files ``tool_mocks/data/playbook_*.json`` map an API name to a list of entries
``{"query": ..., "args": {...}}``: a plausible request and the arguments that serve it. The
scripted LLM draws its imagined requests and its calls from here, the simulator tests check that
every entry succeeds, and the benches use the entries as a realistic workload. Names holding
``#`` (such as ``search#invalid``) list calls that must be rejected; they are not APIs.

The files are read once per process: every reply of the mock consults the playbook, and the
data never changes while a server runs.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import orjson

__all__ = ("Entry", "entries_for", "playbook")

Entry = dict[str, Any]  # {"query": str, "args": dict} (or {"args": ..., "status": ...} under '#')


@functools.cache
def playbook() -> dict[str, list[Entry]]:
    """Every playbook file merged, read in name order (a later file wins on a repeated API)."""
    book: dict[str, list[Entry]] = {}
    folder = resources.files("tool_mocks").joinpath("data")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith("playbook") and entry.name.endswith(".json"):
            book.update(orjson.loads(entry.read_bytes()))
    return book


def entries_for(api: str) -> list[Entry]:
    """The entries of ``api``; an API the playbook does not know gets one generic request, so
    the scripted LLM can still explore any catalog (its arguments then come from the API's
    description, see ``policy``)."""
    return playbook().get(api) or [{"query": f"Please show me what {api} can do.", "args": {}}]
