"""What every simulator is: a pure function from validated arguments to a reply.

A simulator receives arguments that already passed the generic checks of
:func:`tool_mocks.validation.validate` (no unknown parameter, every required one present,
types coerced the way an HTTP API coerces query strings) and does the API-specific checks
and work. It must be deterministic: the same (api, arguments, seed) always gives the same
reply, so randomness comes only from :meth:`SimContext.rng`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

__all__ = (
    "REGISTRY",
    "Reply",
    "SimContext",
    "Simulator",
    "bad_request",
    "not_found",
    "ok",
    "simulator",
    "stable_int",
)


class Reply(NamedTuple):
    """An HTTP-like answer: status code and a JSON-serialisable body."""

    status: int
    body: Any


def ok(body: Any) -> Reply:
    return Reply(200, body)


def bad_request(message: str, **details: Any) -> Reply:
    """A 400 whose body names the problem, the way real APIs answer a bad call."""
    return Reply(400, {"error": message, **details})


def not_found(message: str, **details: Any) -> Reply:
    return Reply(404, {"error": message, **details})


def stable_int(*parts: object) -> int:
    """A 64-bit integer derived from ``parts`` alone (never Python's salted ``hash``)."""
    digest = hashlib.blake2b(orjson.dumps(parts, default=str), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class SimContext(NamedTuple):
    """Per-call context: the server's seed, its fixed 'today', and the call identity."""

    seed: int
    today: dt.date
    api: str
    canonical_args: str

    def rng(self, *salt: object) -> random.Random:
        """A generator seeded by (seed, api, canonical args, salt): same call, same draws."""
        return random.Random(stable_int(self.seed, self.api, self.canonical_args, *salt))

    def entity_rng(self, *entity: object) -> random.Random:
        """A generator seeded by an entity alone, so that entity reads the same everywhere."""
        return random.Random(stable_int(self.seed, *entity))


Simulator = Callable[[dict[str, Any], SimContext], Reply]

REGISTRY: dict[str, Simulator] = {}


def simulator(name: str) -> Callable[[Simulator], Simulator]:
    """Register ``fn`` as the simulator of the API whose full name is ``name``."""

    def register(fn: Simulator) -> Simulator:
        if name in REGISTRY:
            raise RuntimeError(f"two simulators registered for {name!r}")
        REGISTRY[name] = fn
        return fn

    return register
