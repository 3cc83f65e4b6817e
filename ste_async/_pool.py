"""A fixed pool of worker tasks over a sequence of jobs: bounded admission for the batch
commands (distill, infer, the LLM judge), where every job is known up front.

No task per job is ever created: ``concurrency`` workers pull the next job from one shared
iterator (pulling never awaits, so it cannot race) until none is left. The first job that
fails stops the others, and its error is raised as itself, not wrapped in a group, so the
command's error boundary sees the error it knows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio

__all__ = ("run_pool",)

T = TypeVar("T")
R = TypeVar("R")


async def run_pool(jobs: Sequence[T], work: Callable[[T], Awaitable[R]], concurrency: int,
                   progress: Callable[[int], None] | None = None) -> list[R]:
    """``work`` over ``jobs`` by at most ``concurrency`` workers; results in job order.
    ``progress`` is told the number of finished jobs after each one."""
    results: list[R | None] = [None] * len(jobs)
    pending = iter(enumerate(jobs))
    failed: list[Exception] = []
    done = 0

    async def worker(scope: anyio.CancelScope) -> None:
        nonlocal done
        for index, job in pending:
            try:
                results[index] = await work(job)
            except Exception as exc:
                failed.append(exc)
                scope.cancel()
                return
            done += 1
            if progress is not None:
                progress(done)

    async with anyio.create_task_group() as tg:
        for _ in range(min(concurrency, len(jobs))):
            tg.start_soon(worker, tg.cancel_scope)
    if failed:
        raise failed[0]
    return results  # type: ignore[return-value]  # every slot was filled
