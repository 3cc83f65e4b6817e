"""Stable identities: episode ids, per-request seeds, and file names derived from API names."""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = ("episode_id", "request_seed", "shard_filename")


def _digest(*parts: object, size: int = 8) -> bytes:
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size).digest()


def episode_id(api: str, episode: int) -> str:
    """The id of episode ``episode`` of ``api``: readable, unique, stable across runs."""
    return f"{api}#{episode}"


def request_seed(run_seed: int, api: str, episode: int, trial: int, step: int) -> int:
    """The sampling seed of one model call, fixed by its place in the protocol."""
    return int.from_bytes(_digest(run_seed, api, episode, trial, step, size=4), "big") >> 1


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def shard_filename(api: str) -> str:
    """A file name for ``api`` that cannot leave its folder, whatever the name holds.

    ``/``, ``..``, ``%%``, spaces and non-ASCII are folded away; a short hash of the exact
    name keeps names that fold alike apart.
    """
    folded = unicodedata.normalize("NFKD", api).encode("ascii", "ignore").decode()
    slug = _UNSAFE.sub("_", folded).strip("._-")[:60] or "api"
    return f"{slug}-{_digest(api, size=4).hex()}.jsonl"
