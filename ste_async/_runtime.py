"""How a command runs: its event loop and its exit codes, shared by the CLI and the worker
processes it starts (which are commands of their own)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio

__all__ = ("EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "run_async")

T = TypeVar("T")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def run_async(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Run ``fn(*args)`` in a fresh event loop (uvloop where installed) and return its result.

    Everything imported so far lives for the whole run, so it is moved out of the garbage
    collector's sight, and the young generation is collected less often: a run allocates many
    short-lived objects and few cycles (``bench/scaling.py`` measures the effect).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    options: dict[str, Any] = {}
    try:
        import uvloop  # noqa: F401

        options["use_uvloop"] = True
    except ImportError:
        pass
    return anyio.run(fn, *args, backend="asyncio", backend_options=options)
