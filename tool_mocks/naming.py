"""Which catalog API a ToolBench-style request means.

A ``/virtual`` request names an API by ``category``, ``tool_name`` and ``api_name``, and the
clients that send one do not agree on how:

- the STE study sends the names as its catalog writes them (``"Places"``, ``"Geographic
  coordinates by placename"``), with the API name repeated where the tool has one API of the
  same name (``"Global Email V4"`` twice);
- ToolBench and StableToolBench send them *standardized*: lower case, every run of characters
  other than letters, digits, CJK, ``_`` and ``^`` turned into one ``_`` and trimmed, a leading
  digit prefixed with ``get_``, a handful of Python keywords prefixed with ``is_``
  (``"global_email_v4"``); the tool may carry ``_for_<category>`` and the API
  ``_for_<tool>``, as their function names do;
- a BMTools API of the study is known by its bare name (``"add_date"``).

:class:`ApiResolver` tries these in that order and answers the API, or a message saying why
none (or more than one) fits.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict

from ste_async.catalog import ApiSpec, Catalog

__all__ = ("ApiResolver", "standardize", "standardize_api", "standardize_category")

# ToolBench keeps "^" too: its pattern lists it inside the class, where it is literal
_NOT_NAME = re.compile(r"[^\u4e00-\u9fa5a-zA-Z0-9_^]")
_RUNS = re.compile(r"_+")
# names ToolBench renames because they would clash with Python in its generated code
_RENAMED = frozenset({"from", "class", "return", "false", "true", "id", "and"})


def standardize(name: str) -> str:
    """A tool or API name the way ToolBench writes it in file and function names."""
    text = _RUNS.sub("_", _NOT_NAME.sub("_", name)).lower().strip("_")
    if text[:1].isdigit():
        text = "get_" + text
    return text


def standardize_api(name: str) -> str:
    """An API name as ToolBench's clients send it: standardized, keywords prefixed."""
    text = standardize(name)
    return "is_" + text if text in _RENAMED else text


def standardize_category(name: str) -> str:
    """A category as ToolBench's folders spell it (``"Business Software"`` ->
    ``"Business_Software"``); compared without regard to case."""
    text = re.sub(r"[ ,/]", "_", name)
    while "__" in text:
        text = text.replace("__", "_")
    return text.lower()


class ApiResolver:
    """Finds the catalog API that a ``(category, tool_name, api_name)`` request means."""

    def __init__(self, catalog: Catalog):
        self._catalog = catalog
        self._exact: dict[tuple[str, str], list[ApiSpec]] = defaultdict(list)
        self._standard: dict[tuple[str, str], list[ApiSpec]] = defaultdict(list)
        for spec in catalog.values():
            self._exact[spec.tool, spec.api].append(spec)
            self._standard[standardize(spec.tool), standardize_api(spec.api)].append(spec)

    def resolve(self, tool: str, api: str, category: str = "") -> ApiSpec | str:
        """The API meant, or a message saying why there is none (or more than one)."""
        api = api or tool
        catalog = self._catalog
        for name in (f"{tool}%%{api}", api, tool):
            spec = catalog.get(name)
            if spec is not None and (name != api or self._same_tool(spec, tool, api)):
                return spec
        found = self._exact.get((tool, api))
        if not found:
            found = self._standard_matches(tool, api)
        if found and len(found) > 1 and category:
            wanted = standardize_category(category)
            found = [s for s in found if standardize_category(s.category) == wanted] or found
        if found and len(found) == 1:
            return found[0]
        if found:
            names = ", ".join(repr(s.name) for s in found[:5])
            return (f"tool {tool!r}, API {api!r} is ambiguous: it names {names}; send the "
                    "names exactly as GET /apis lists them")
        close = difflib.get_close_matches(f"{tool}%%{api}", list(catalog), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return (f"API not found: tool {tool!r}, API {api!r} (GET /apis lists the "
                f"{len(catalog)} APIs){hint}")

    def _same_tool(self, spec: ApiSpec, tool: str, api: str) -> bool:
        # a bare API name given as api_name counts only with its own tool (or none)
        return tool in (api, spec.tool) or standardize(tool) == standardize(spec.tool)

    def _standard_matches(self, tool: str, api: str) -> list[ApiSpec]:
        tools = [standardize(tool)]
        if "_for_" in tool:  # a function-style name: "<tool>_for_<category>"
            tools.append(standardize(tool.rsplit("_for_", 1)[0]))
        for std_tool in tools:
            apis = [standardize_api(api)]
            if f"_for_{std_tool}" in apis[0]:  # "<api>_for_<tool>"
                apis.append(apis[0].split(f"_for_{std_tool}")[0])
            for std_api in apis:
                found = self._standard.get((std_tool, std_api))
                if found:
                    return found
        return []
