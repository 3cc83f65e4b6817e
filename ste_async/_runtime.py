"""How a command runs: its event loop, its exit codes and its error boundary, shared by the
CLI and the worker processes it starts (which are commands of their own)."""

from __future__ import annotations

import errno
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio

from .errors import ConfigError, SteError, StoreError

__all__ = (
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PIPE_CLOSED",
    "EXIT_USAGE",
    "explain",
    "run_async",
    "tune_gc",
)

T = TypeVar("T")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader left


def tune_gc() -> None:
    """Set the garbage collector for a run: everything imported so far lives for the whole
    run, so it is moved out of the collector's sight, and the young generation is collected
    less often: a run allocates many short-lived objects and few cycles (``bench/scaling.py``
    measures the effect)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def run_async(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Run ``fn(*args)`` in a fresh event loop (uvloop where installed), with the collector
    set by :func:`tune_gc`, and return its result."""
    tune_gc()
    options: dict[str, Any] = {}
    try:
        import uvloop  # noqa: F401

        options["use_uvloop"] = True
    except ImportError:
        pass
    return anyio.run(fn, *args, backend="asyncio", backend_options=options)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _oserror_text(exc: OSError) -> str:
    what = exc.strerror or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        what = "no space left on the device"
    where = exc.filename if exc.filename is not None else ""
    return f"{where}: {what}" if where else what


def explain(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and the one line for an expected failure; None for a bug.

    Input the user can fix exits 2; the environment (a full disk, a missing permission, a
    server that gave out) exits 1. A task group's error is judged by the first expected
    failure inside it, so an error in one episode reads as that error.
    """
    for leaf in _leaves(exc):
        if isinstance(leaf, ConfigError | StoreError):
            return EXIT_USAGE, " ".join(str(leaf).split())
        if isinstance(leaf, SteError):
            return EXIT_ERROR, " ".join(str(leaf).split())
        if isinstance(leaf, OSError):
            return EXIT_ERROR, _oserror_text(leaf)
        if isinstance(leaf, RecursionError):
            return EXIT_USAGE, "the input is nested too deeply to read"
        if isinstance(leaf, MemoryError):
            return EXIT_ERROR, "out of memory"
    return None
