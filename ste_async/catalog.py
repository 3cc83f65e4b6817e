"""API specifications and the loaders that build them.

An :class:`ApiSpec` is what the engine shows the model and what the tool server validates
calls against. Specs come from the built-in catalog (the 50 APIs of the STE study, described
in this project's own words, ``ste_async/data/apis.json``), from a description file such as
the study's ``API_descriptions.json``, whose values are either a JSON string (RapidAPI tools)
or free text that embeds an argument schema (BMTools tools), or from ToolBench's own tool
environment: one JSON file per tool, in one folder per category. :func:`load_catalog` tells
them apart by their shape.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Literal

import msgspec
import orjson

from .errors import CatalogError, UnknownApiError

__all__ = (
    "ApiSpec",
    "Catalog",
    "Param",
    "ParamType",
    "builtin_catalog",
    "json_kind",
    "load_catalog",
    "load_toolbench",
    "load_toolbench_tools",
)

ParamType = Literal["string", "integer", "number", "boolean", "enum", "date", "array", "object"]

_TOOLBENCH_TYPES: dict[str, ParamType] = {
    "string": "string",
    "str": "string",
    "number": "number",
    "float": "number",
    "integer": "integer",
    "int": "integer",
    "enum": "enum",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "object": "object",
    "dict": "object",
}


class Param(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One argument of an API."""

    name: str
    type: ParamType = "string"
    description: str = ""
    default: str | None = None
    choices: tuple[str, ...] = ()
    format: str = ""  # for dates: "YYYY-MM-DD", "DD/MM/YYYY"


class ApiSpec(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Everything known about one API: identity, description and parameters."""

    name: str  # full name as the study writes it: "Tool%%API", or a bare BMTools name
    tool: str
    api: str
    description: str
    category: str = ""
    tool_description: str = ""
    required: tuple[Param, ...] = ()
    optional: tuple[Param, ...] = ()
    style: Literal["rapidapi", "bmtools"] = "rapidapi"
    # the description exactly as a description file gave it ("" when read from any other
    # form): what the study's prompts showed, byte for byte
    verbatim: str = ""

    @property
    def params(self) -> tuple[Param, ...]:
        return self.required + self.optional

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def prompt_description(self, *, verbatim: bool = False) -> str:
        """The description text the model sees, in the shape the study used; ``verbatim``:
        the description file's own text where there is one (the study's ``descriptions``
        rule), else the same rendering."""
        if verbatim and self.verbatim:
            return self.verbatim
        return _prompt_description(self)


@functools.cache
def _prompt_description(spec: ApiSpec) -> str:
    if spec.style == "bmtools":
        schema = "".join(f'"{p.name}" : {_bmtools_type(p)}, ' for p in spec.params)
        text = spec.description.rstrip()
        if spec.params:
            # the study's files keep the doubled braces, and its prompts show them as they are
            text += f" Your input should be a json (args json schema): {{{{{schema}}}}}"
        return (
            f"{text} The Action to trigger this API should be {spec.name} and the input "
            "parameters should be a json dict string. Pay attention to the type of parameters."
        )

    def encode(p: Param) -> dict[str, object]:
        entry: dict[str, object] = {
            "name": p.name,
            "type": p.type.upper() if p.type != "date" else f"DATE ({p.format or 'YYYY-MM-DD'})",
            "description": p.description,
            "default": p.default if p.default is not None else "",
        }
        if p.choices:
            entry["choices"] = list(p.choices)
        return entry

    return orjson.dumps(
        {
            "description": spec.description,
            "required_parameters": [encode(p) for p in spec.required],
            "optional_parameters": [encode(p) for p in spec.optional],
            "parent_tool_name": spec.tool,
            "parent_tool_description": spec.tool_description,
        }
    ).decode()


def _bmtools_type(p: Param) -> str:
    return {"integer": "integer", "number": "number", "boolean": "boolean"}.get(p.type, "string")


class Catalog(Mapping[str, ApiSpec]):
    """An ordered, read-only mapping from full API name to :class:`ApiSpec`."""

    def __init__(self, specs: Iterable[ApiSpec]):
        self._specs: dict[str, ApiSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise CatalogError(f"API {spec.name!r} appears twice in the catalog")
            self._specs[spec.name] = spec

    def __getitem__(self, name: str) -> ApiSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownApiError(self._unknown_message(name)) from None

    def get(self, name: str, default: ApiSpec | None = None) -> ApiSpec | None:  # type: ignore[override]
        return self._specs.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def select(self, names: Iterable[str]) -> list[ApiSpec]:
        """Specs for ``names`` in the given order; an unknown name raises with suggestions."""
        return [self[n] for n in names]

    def _unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._specs), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown API {name!r} (the catalog holds {len(self._specs)} APIs){hint}"


_SCHEMA_RE = re.compile(r"\{\{(.*?)\}\}", re.S)
_ARG_RE = re.compile(r'"([^"]+)"\s*:\s*([A-Za-z]+)')


def json_kind(value: object) -> str:
    """A JSON value's type, as an error message names it ("a number", "an array")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _parse_toolbench_entry(name: str, raw: object, categories: Mapping[str, str],
                           where: str) -> ApiSpec:
    at = f"{where}: entry {name!r}"
    if not isinstance(raw, str):
        raise CatalogError(f"{at}: description must be a string, got {json_kind(raw)}")
    tool, _, api = name.partition("%%")
    text = raw.strip()
    if text.startswith("{"):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise CatalogError(f"{at}: description looks like JSON but is not: {exc}") from None
        if not isinstance(data, dict):
            raise CatalogError(f"{at}: JSON description must be an object, got {json_kind(data)}")
        tool_name = str(data.get("parent_tool_name") or tool)
        return ApiSpec(
            name=name,
            tool=tool_name,
            api=api or name,
            description=str(data.get("description") or ""),
            category=categories.get(tool_name, ""),
            tool_description=str(data.get("parent_tool_description") or ""),
            required=_toolbench_params(at, data, "required_parameters"),
            optional=_toolbench_params(at, data, "optional_parameters"),
            style="rapidapi",
            verbatim=raw,
        )
    # BMTools free text: "<description>. Your input should be a json (args json schema):
    # {{"key" : type, }} The Action to trigger this API should be ..."
    description = text.split(" Your input should be a json", 1)[0]
    description = description.split(" The Action to trigger this API", 1)[0].strip()
    params: list[Param] = []
    if m := _SCHEMA_RE.search(text):
        for arg, typ in _ARG_RE.findall(m.group(1)):
            params.append(Param(name=arg, type=_TOOLBENCH_TYPES.get(typ.lower(), "string")))
    return ApiSpec(
        name=name,
        tool=tool if api else name,
        api=api or name,
        description=description,
        category=categories.get(tool, ""),
        required=tuple(params),
        style="bmtools",
        verbatim=raw,
    )


def _toolbench_params(at: str, data: Mapping[str, object], field: str) -> tuple[Param, ...]:
    raw = data.get(field)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CatalogError(f"{at}: '{field}' must be an array, got {json_kind(raw)}")
    return tuple(_toolbench_param(f"{at}: {field}[{i}]", p) for i, p in enumerate(raw))


def _toolbench_param(at: str, raw: object) -> Param:
    if not isinstance(raw, dict) or "name" not in raw:
        raise CatalogError(f"{at}: every parameter needs at least a 'name'")
    typ = str(raw.get("type") or "string").strip()
    fmt = ""
    lowered = typ.lower()
    if lowered.startswith("date"):
        ptype: ParamType = "date"
        if m := re.search(r"\(([^)]+)\)", typ):
            fmt = m.group(1).strip()
    else:
        ptype = _TOOLBENCH_TYPES.get(lowered, "string")
    default = raw.get("default")
    return Param(
        name=str(raw["name"]),
        type=ptype,
        description=str(raw.get("description") or ""),
        default=None if default is None else str(default),
        format=fmt,
    )


def _text(at: str, data: Mapping[str, object], field: str, *, required: bool = False) -> str:
    value = data.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise CatalogError(f"{at}: '{field}' must be a string, got {json_kind(value)}")
    if required and not value.strip():
        raise CatalogError(f"{at}: '{field}' must not be empty")
    return value


def _toolbench_tool(data: dict[str, object], category: str, where: str) -> list[ApiSpec]:
    """The APIs of one tool in ToolBench's per-tool layout (``data/toolenv/tools/<Category>/
    <tool>.json``): ``tool_name``, ``tool_description`` and an ``api_list`` of ``{name,
    description, method, required_parameters, optional_parameters, ...}``."""
    tool = _text(where, data, "tool_name", required=True).strip()
    at = f"{where}: tool {tool!r}"
    tool_description = _text(at, data, "tool_description")
    for field in ("category_name", "category"):
        if isinstance(data.get(field), str) and data[field]:
            category = str(data[field])
    api_list = data.get("api_list")
    if not isinstance(api_list, list):
        raise CatalogError(f"{at}: 'api_list' must be an array, got {json_kind(api_list)}")
    specs: list[ApiSpec] = []
    for i, entry in enumerate(api_list):
        if not isinstance(entry, dict):
            raise CatalogError(f"{at}: api_list[{i}] must be an object, got {json_kind(entry)}")
        api = _text(f"{at}: api_list[{i}]", entry, "name", required=True).strip()
        api_at = f"{at}: API {api!r} (api_list[{i}])"
        specs.append(ApiSpec(
            name=f"{tool}%%{api}",
            tool=tool,
            api=api,
            description=_text(api_at, entry, "description"),
            category=category,
            tool_description=tool_description,
            required=_toolbench_params(api_at, entry, "required_parameters"),
            optional=_toolbench_params(api_at, entry, "optional_parameters"),
            style="rapidapi",
        ))
    return specs


def _read_json(path: Path) -> object:
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise CatalogError(f"catalog {path} is not valid JSON: {exc}") from None


def load_toolbench(path: str | Path, *, categories: Mapping[str, str] | None = None) -> Catalog:
    """Read a ToolBench/STE description file (``{full_name: description}``) into a Catalog."""
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict):
        raise CatalogError(f"catalog {path} must be a JSON object of name -> description, "
                           f"got {json_kind(data)}")
    cats = dict(categories or {})
    where = f"catalog {path}"
    return Catalog(_parse_toolbench_entry(str(k), v, cats, where) for k, v in data.items())


def _is_tool(data: object) -> bool:
    return isinstance(data, dict) and ("api_list" in data or "tool_name" in data)


def _specs_of_file(path: Path, data: object) -> list[ApiSpec]:
    """The APIs of one ToolBench tool file (one tool, or a list of tools)."""
    where = f"catalog {path}"
    category = path.parent.name  # ToolBench keeps each tool under its category's folder
    if isinstance(data, list):
        if data and all(isinstance(t, dict) and "query" in t for t in data):
            raise CatalogError(f"catalog {path} is a ToolBench query file (items with 'query'); "
                               "pass the tool files it refers to (data/toolenv/tools) instead")
        specs: list[ApiSpec] = []
        for i, tool in enumerate(data):
            if not isinstance(tool, dict):
                raise CatalogError(f"{where}: item {i} must be a tool object, got {json_kind(tool)}")
            specs += _toolbench_tool(tool, category, f"{where}: item {i}")
        return specs
    if not _is_tool(data):
        raise CatalogError(f"{where}: not a ToolBench tool file (expected an object with "
                           "'tool_name' and 'api_list')")
    assert isinstance(data, dict)
    return _toolbench_tool(data, category, where)


def _catalog(specs: Iterable[tuple[ApiSpec, Path]]) -> Catalog:
    """A Catalog of specs read from several files; a name given twice names both files."""
    seen: dict[str, Path] = {}
    ordered: list[ApiSpec] = []
    for spec, source in specs:
        if spec.name in seen:
            where = (f"in {source}" if seen[spec.name] == source
                     else f"in {seen[spec.name]} and {source}")
            raise CatalogError(f"API {spec.name!r} appears twice in the catalog ({where})")
        seen[spec.name] = source
        ordered.append(spec)
    return Catalog(ordered)


def load_toolbench_tools(path: str | Path) -> Catalog:
    """ToolBench's own tool environment: a per-tool JSON file, or a directory tree of them
    (``data/toolenv/tools``: one folder per category, which names the tools' category)."""
    path = Path(path)
    if not path.is_dir():
        return _catalog((s, path) for s in _specs_of_file(path, _read_json(path)))
    files = sorted(p for p in path.rglob("*.json")
                   if p.is_file() and not any(part.startswith(".")
                                              for part in p.relative_to(path).parts))
    if not files:
        raise CatalogError(f"catalog directory {path} holds no .json tool files")
    return _catalog((s, f) for f in files for s in _specs_of_file(f, _read_json(f)))


_BUILTIN_DECODER = msgspec.json.Decoder(list[ApiSpec])


@functools.cache
def builtin_catalog() -> Catalog:
    """The 50 APIs of the STE study, in the order of the study's API list."""
    raw = resources.files("ste_async").joinpath("data/apis.json").read_bytes()
    return Catalog(_BUILTIN_DECODER.decode(raw))


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The built-in catalog, or the catalog at ``path``, its form told by its shape:

    - a directory: ToolBench's tool environment, a tree of per-tool files;
    - a JSON object with ``tool_name`` and ``api_list`` (or a list of such): a ToolBench
      per-tool file;
    - any other JSON object: the study's ``{full_name: description}`` (``API_descriptions.json``);
    - a JSON list of API specs: this project's own form (``ste_async/data/apis.json``).

    An error names the file, the entry and the field at fault.
    """
    if path is None:
        return builtin_catalog()
    path = Path(path)
    if path.is_dir():
        return load_toolbench_tools(path)
    data = _read_json(path)
    if _is_tool(data) or (isinstance(data, list) and data and all(
            isinstance(t, dict) and "api_list" in t for t in data)):
        return load_toolbench_tools(path)
    if isinstance(data, list):
        try:
            return Catalog(msgspec.convert(data, list[ApiSpec]))
        except msgspec.ValidationError as exc:
            raise CatalogError(f"catalog {path} (a list of API specs): {exc}") from None
    return load_toolbench(path)
