"""Admission of episodes: the only place where exploration tasks are started.

Episodes are admitted one at a time, when the global limit on episodes in flight and the API's
lane limit both allow, choosing APIs round robin so that none starves. With ``lanes=1`` the
episodes of an API run strictly in order, each seeing the complete long-term memory of the ones
before it, as in the study; different APIs run in parallel.

Stopping (Ctrl-C, SIGTERM) ends admission at once; episodes in flight get ``drain_seconds`` to
finish and be written, then the rest are cancelled. They left no line in the store, so a
resumed run does them again.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Collection, Iterator, Mapping, Sequence

import anyio
from anyio.abc import TaskGroup

from ..catalog import ApiSpec
from ..config import ExploreConfig
from ..errors import RetryBudgetExceeded, SteError
from ..store import RunStore
from .episode import Llm, Tools, run_episode
from .memory import MemoryShard
from .metrics import Metrics

__all__ = ("EpisodeQueue", "Explorer")

log = logging.getLogger("ste_async.explore")


class EpisodeQueue:
    """The episodes of one API still to run, in order, produced as they are admitted: a run of
    a million episodes per API never lists them."""

    def __init__(self, count: int, done: Collection[int] = (),
                 only: Collection[int] | None = None):
        finished = {e for e in done if 0 <= e < count}
        if only is None:
            self._left = count - len(finished)
            self._next: Iterator[int] = (e for e in range(count) if e not in finished)
        else:
            chosen = sorted(e for e in set(only) if 0 <= e < count and e not in finished)
            self._left = len(chosen)
            self._next = iter(chosen)

    def __len__(self) -> int:
        return self._left

    def popleft(self) -> int:
        """The next episode to run."""
        if not self._left:
            raise IndexError("no episode left")
        self._left -= 1
        return next(self._next)


class Explorer:
    """Runs every pending episode of a set of APIs under the configured limits."""

    def __init__(
        self,
        config: ExploreConfig,
        specs: Sequence[ApiSpec],
        pending: Mapping[str, EpisodeQueue],
        memory: Mapping[str, MemoryShard],
        llm: Llm,
        tools: Tools,
        store: RunStore,
        metrics: Metrics,
    ):
        self.config = config
        self.specs = {s.name: s for s in specs}
        self.pending = {api: queue for api, queue in pending.items() if queue}
        self.memory = memory
        self.llm = llm
        self.tools = tools
        self.store = store
        self.metrics = metrics
        self.running: dict[str, int] = dict.fromkeys(self.specs, 0)
        self._order: deque[str] = deque(api for api in self.specs if api in self.pending)
        self._slots = anyio.Semaphore(config.max_episodes, fast_acquire=True)
        self._changed = anyio.Event()
        self._in_flight = 0
        self._admit_scope: anyio.CancelScope | None = None
        self._run_scope: anyio.CancelScope | None = None
        self.stopping = False
        self.fatal: SteError | None = None  # an error that ends the whole run

    def stop(self) -> None:
        """Stop admitting; in-flight episodes drain (see ``drain_seconds``)."""
        if not self.stopping:
            self.stopping = True
            if self._admit_scope is not None:
                self._admit_scope.cancel()
            self._notify()

    async def run(self) -> None:
        """Admit and run every pending episode; raises the error that ended the run, if any."""
        async with anyio.create_task_group() as tg:
            self._run_scope = tg.cancel_scope
            with anyio.CancelScope() as self._admit_scope:
                await self._admit(tg)
            while self._in_flight and not self.stopping:
                await self._changed.wait()
            if self._in_flight:
                log.info("draining %d episode(s) for up to %.0fs", self._in_flight,
                         self.config.drain_seconds)
                with anyio.move_on_after(self.config.drain_seconds):
                    while self._in_flight:
                        await self._changed.wait()
                tg.cancel_scope.cancel()
        if self.fatal is not None:
            raise self.fatal

    def _notify(self) -> None:
        # swap before setting, so every waiter of the old event wakes and none can miss one
        event, self._changed = self._changed, anyio.Event()
        event.set()

    def _next_api(self) -> str | None:
        for _ in range(len(self._order)):
            api = self._order[0]
            self._order.rotate(-1)
            if self.running[api] < self.config.lanes:
                return api
        return None

    async def _admit(self, tg: TaskGroup) -> None:
        while self._order:
            await self._slots.acquire()
            api = self._next_api()
            if api is None:  # every API with work left is at its lane limit
                self._slots.release()
                await self._changed.wait()
                continue
            queue = self.pending[api]
            episode = queue.popleft()
            if not queue:
                self._order.remove(api)
            self.running[api] += 1
            self._in_flight += 1
            tg.start_soon(self._run_one, self.specs[api], episode, name=f"{api}#{episode}")

    async def _run_one(self, spec: ApiSpec, episode: int) -> None:
        self.metrics.episode_started(spec.name)
        try:
            record = await run_episode(
                self.config, spec, episode, self.llm, self.tools, self.memory[spec.name]
            )
            await self.store.append(record)
            self.metrics.episode_finished(record)
        except RetryBudgetExceeded as exc:
            # the LLM stayed unreachable past the retry budget: the episode is not written,
            # so a resumed run does it again; its queries leave the memory with it
            self.memory[spec.name].discard_episode(episode)
            self.metrics.episode_failed(spec.name, str(exc))
            log.error("episode %s#%d abandoned: %s", spec.name, episode, exc)
        except SteError as exc:
            # not a fault of this episode (a replay miss, a closed store): end the run cleanly
            self.memory[spec.name].discard_episode(episode)
            self.metrics.episode_failed(spec.name, str(exc))
            if self.fatal is None:
                self.fatal = exc
                self.stopping = True
                if self._run_scope is not None:
                    self._run_scope.cancel()
        finally:
            self.running[spec.name] -= 1
            self._in_flight -= 1
            self._slots.release()
            self._notify()
