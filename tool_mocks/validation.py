"""Generic argument checks shared by every simulated API.

Query-string APIs receive every value as text, so numbers and booleans given as strings are
accepted and coerced, as a real HTTP API would; anything that cannot be read as the declared
type is a 400 that names the parameter, the expected type and the value received.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from ste_async.catalog import ApiSpec, Param, json_kind

from .simulators._base import Reply, bad_request

__all__ = ("parse_date", "validate")

_DATE_FORMATS = {
    "YYYY-MM-DD": "%Y-%m-%d",
    "yyyy-mm-dd": "%Y-%m-%d",
    "DD/MM/YYYY": "%d/%m/%Y",
    "dd/MM/yyyy": "%d/%m/%Y",
}


def parse_date(value: str, fmt: str = "YYYY-MM-DD") -> dt.date | None:
    """The date in ``value`` written as ``fmt``, or None when it is not such a date."""
    try:
        return dt.datetime.strptime(value.strip(), _DATE_FORMATS.get(fmt, fmt)).date()
    except ValueError:
        return None


def _coerce(p: Param, value: Any) -> tuple[Any, str | None]:
    """(coerced value, None) or (None, complaint)."""
    t = p.type
    if t in ("string", "enum", "date"):
        if isinstance(value, bool) or isinstance(value, (dict, list)) or value is None:
            return None, f"must be a string, got {json_kind(value)}"
        text = str(value) if not isinstance(value, str) else value
        if t == "enum" and p.choices and text not in p.choices:
            return None, f"must be one of {', '.join(p.choices)}; got {text!r}"
        if t == "date" and parse_date(text, p.format or "YYYY-MM-DD") is None:
            return None, f"must be a date written {p.format or 'YYYY-MM-DD'}; got {text!r}"
        return text, None
    if t == "integer":
        if isinstance(value, bool):
            return None, "must be an integer, got a boolean"
        if isinstance(value, int):
            return value, None
        if isinstance(value, float) and value.is_integer():
            return int(value), None
        if isinstance(value, str):
            try:
                return int(value.strip()), None
            except ValueError:
                pass
        return None, f"must be an integer, got {value!r}"
    if t == "number":
        if isinstance(value, bool):
            return None, "must be a number, got a boolean"
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                return None, f"must be a number, got {value!r}"
        else:
            return None, f"must be a number, got {json_kind(value)}"
        if not math.isfinite(number):
            return None, f"must be a finite number, got {value!r}"
        return number, None
    if t == "boolean":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1"), None
        return None, f"must be true or false, got {value!r}"
    if t == "array":
        if isinstance(value, list):
            return value, None
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()], None
        return None, f"must be an array, got {json_kind(value)}"
    if t == "object":
        if isinstance(value, dict):
            return value, None
        return None, f"must be an object, got {json_kind(value)}"
    return value, None


def validate(spec: ApiSpec, args: Any) -> dict[str, Any] | Reply:
    """Coerced arguments, or a 400 :class:`Reply` naming the first problem found."""
    if not isinstance(args, dict):
        return bad_request(
            f"arguments must be a JSON object, got {json_kind(args)}",
            api=spec.name,
        )
    accepted = [p.name for p in spec.params]
    unknown = [k for k in args if spec.param(k) is None]
    if unknown:
        return bad_request(
            f"unknown parameter {unknown[0]!r}",
            accepted_parameters=accepted,
        )
    missing = [p.name for p in spec.required if p.name not in args]
    if missing:
        return bad_request(
            f"missing required parameter {missing[0]!r}",
            required_parameters=[p.name for p in spec.required],
        )
    clean: dict[str, Any] = {}
    for name, value in args.items():
        p = spec.param(name)
        assert p is not None
        coerced, complaint = _coerce(p, value)
        if complaint is not None:
            return bad_request(f"parameter {name!r} {complaint}", parameter=name)
        clean[name] = coerced
    return clean
