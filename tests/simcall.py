"""Calling one simulator directly, the way the tool server does: validate, then simulate."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

import tool_mocks.simulators  # noqa: F401  (registers every simulator)
from ste_async.catalog import builtin_catalog
from tool_mocks.simulators._base import REGISTRY, Reply, SimContext
from tool_mocks.validation import validate

TODAY = dt.date(2024, 5, 17)


def call(name: str, args: Any, *, today: dt.date = TODAY, seed: int = 0) -> Reply:
    """Validate ``args`` against the API's spec, then run its simulator."""
    checked = validate(builtin_catalog()[name], args)
    if isinstance(checked, Reply):
        return checked
    ctx = SimContext(
        seed=seed,
        today=today,
        api=name,
        canonical_args=orjson.dumps(args, option=orjson.OPT_SORT_KEYS).decode(),
    )
    return REGISTRY[name](checked, ctx)


def body_of(name: str, args: Any, **kw: Any) -> Any:
    reply = call(name, args, **kw)
    assert reply.status == 200, reply
    return reply.body
