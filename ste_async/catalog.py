"""API specifications and the loaders that build them.

An :class:`ApiSpec` is what the engine shows the model and what the tool server validates
calls against. Specs come from the built-in catalog (the 50 APIs of the STE study, described
in this project's own words, ``ste_async/data/apis.json``) or from a ToolBench-style
description file such as the study's ``API_descriptions.json``, whose values are either a JSON
string (RapidAPI tools) or free text that embeds an argument schema (BMTools tools).
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
    "load_catalog",
    "load_toolbench",
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

    @property
    def params(self) -> tuple[Param, ...]:
        return self.required + self.optional

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def prompt_description(self) -> str:
        """The description text the model sees, in the shape the study used."""
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


def _parse_toolbench_entry(name: str, raw: object, categories: Mapping[str, str]) -> ApiSpec:
    if not isinstance(raw, str):
        raise CatalogError(f"{name!r}: description must be a string, got {type(raw).__name__}")
    tool, _, api = name.partition("%%")
    text = raw.strip()
    if text.startswith("{"):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise CatalogError(f"{name!r}: description looks like JSON but is not: {exc}") from None
        if not isinstance(data, dict):
            raise CatalogError(f"{name!r}: JSON description must be an object")
        tool_name = str(data.get("parent_tool_name") or tool)
        return ApiSpec(
            name=name,
            tool=tool_name,
            api=api or name,
            description=str(data.get("description") or ""),
            category=categories.get(tool_name, ""),
            tool_description=str(data.get("parent_tool_description") or ""),
            required=tuple(_toolbench_param(name, p) for p in data.get("required_parameters") or ()),
            optional=tuple(_toolbench_param(name, p) for p in data.get("optional_parameters") or ()),
            style="rapidapi",
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
    )


def _toolbench_param(api_name: str, raw: object) -> Param:
    if not isinstance(raw, dict) or "name" not in raw:
        raise CatalogError(f"{api_name!r}: every parameter needs at least a 'name'")
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


def load_toolbench(path: str | Path, *, categories: Mapping[str, str] | None = None) -> Catalog:
    """Read a ToolBench/STE description file (``{full_name: description}``) into a Catalog."""
    path = Path(path)
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise CatalogError(f"catalog {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"catalog {path} must be a JSON object of name -> description")
    cats = dict(categories or {})
    return Catalog(_parse_toolbench_entry(str(k), v, cats) for k, v in data.items())


_BUILTIN_DECODER = msgspec.json.Decoder(list[ApiSpec])


@functools.cache
def builtin_catalog() -> Catalog:
    """The 50 APIs of the STE study, in the order of the study's API list."""
    raw = resources.files("ste_async").joinpath("data/apis.json").read_bytes()
    return Catalog(_BUILTIN_DECODER.decode(raw))


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The built-in catalog, or a file in either ste_async (list of specs) or ToolBench form."""
    if path is None:
        return builtin_catalog()
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc.strerror}") from None
    if raw.lstrip().startswith(b"["):
        try:
            return Catalog(_BUILTIN_DECODER.decode(raw))
        except msgspec.DecodeError as exc:
            raise CatalogError(f"catalog {path}: {exc}") from None
    return load_toolbench(path)
