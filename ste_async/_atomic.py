"""Whole-file writes that a reader, or a crash, never sees half done."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec

__all__ = ("write_atomic", "write_json_atomic")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it and a rename; the
    temporary file is removed when the write fails (a full disk, say)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, value: Any, *, pretty: bool = False) -> None:
    """:func:`write_atomic` of ``value`` as JSON (indented when ``pretty``)."""
    data = msgspec.json.encode(value)
    write_atomic(path, msgspec.json.format(data) if pretty else data)
