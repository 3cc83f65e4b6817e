"""Simulated credential generators: the Password Generator API and the Token API.

Values are drawn from ``ctx.rng`` so a call replays identically for the same seed; the
character mix mirrors what "strong password" services return (all four character classes).
"""

from __future__ import annotations

import random
import string
from typing import Any

from ._base import Reply, SimContext, bad_request, ok, simulator

__all__ = (
    "make_password",
    "password_base",
    "password_of_length",
    "token_generate",
)

_SYMBOLS = "!@#$%^&*()-_=+[]{};:,.?/~"
_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, _SYMBOLS)
_ALL = "".join(_CLASSES)
MIN_LENGTH, MAX_LENGTH = 8, 256
BASE_LENGTH = 16  # what the Base endpoint returns when nothing can be chosen
TOKEN_TTL_SECONDS = 300


def make_password(rng: random.Random, length: int) -> str:
    """A password of ``length`` characters with at least one of each character class."""
    chars = [rng.choice(c) for c in _CLASSES]
    chars += [rng.choice(_ALL) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


@simulator("Password Generator API%%Password of length 50")
def password_of_length(args: dict[str, Any], ctx: SimContext) -> Reply:
    raw = args.get("length", 50)
    # the study's description file types this parameter STRING, so "64" arrives as text
    try:
        length = int(raw)
    except (TypeError, ValueError):
        return bad_request(f"parameter 'length' must be a whole number; got {raw!r}",
                           parameter="length")
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        return bad_request(
            f"parameter 'length' must be between {MIN_LENGTH} and {MAX_LENGTH}; got {length}",
            parameter="length",
        )
    return ok({"password": make_password(ctx.rng("password"), length), "length": length})


@simulator("Password Generator API%%Base")
def password_base(args: dict[str, Any], ctx: SimContext) -> Reply:
    return ok({"password": make_password(ctx.rng("password"), BASE_LENGTH)})


@simulator("Token API%%generate")
def token_generate(args: dict[str, Any], ctx: SimContext) -> Reply:
    rng = ctx.rng("token")
    alphabet = string.ascii_letters + string.digits
    token = "".join(rng.choice(alphabet) for _ in range(48))
    return ok({"token": token, "expires_in": TOKEN_TTL_SECONDS, "token_type": "Bearer"})
