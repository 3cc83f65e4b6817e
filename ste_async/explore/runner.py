"""Wiring of one exploration run: store, resume, preflight, clients, scheduler, progress.

The servers are the edge's business (``ste_async.services``): :func:`explore` is given their
URLs as :class:`~ste_async.session.Endpoints` and starts none itself.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Collection, Coroutine
from pathlib import Path
from typing import Any

import anyio
import msgspec

from ..cassette import Cassette, CassetteMode, RecordedLlm, RecordedTools
from ..catalog import ApiSpec, load_catalog
from ..config import ExploreConfig
from ..errors import ConfigError, RequestRejectedError, SteError, StoreError, TransientError
from ..llm import LlmClient
from ..llm.preflight import checked_model, context_window, estimate_longest_prompt
from ..progress import ProgressSettings, Sample, show_progress
from ..session import (
    Endpoints,
    RunMeta,
    cassette_mode,
    check_resume,
    load_run_meta,
    open_llm,
    read_run_meta,
    recording_policy,
    write_run_meta,
)
from ..store import RunStore, ScanResult, scan_run
from ..tools import ToolClient
from .memory import MemoryShard
from .metrics import Live, Metrics, progress_sample
from .scheduler import EpisodeQueue, Explorer

__all__ = (
    "Reporter",
    "RunOutcome",
    "RunStart",
    "WorkerRole",
    "explore",
    "open_run",
    "plan_run",
    "preflight",
    "resolve",
    "selected_apis",
)

# receives the run's progress while it runs (a worker's report to its parent)
Reporter = Callable[[Metrics, Callable[[], Live]], Coroutine[Any, Any, None]]


class RunOutcome(msgspec.Struct, kw_only=True):
    """How a run ended: its counters, whether it was interrupted, where it is."""

    metrics: Metrics
    interrupted: bool
    run_dir: str


class WorkerRole(msgspec.Struct, frozen=True, kw_only=True):
    """A worker process's part in a run its parent started (see ``workers.py``)."""

    index: int
    model: str  # the model the parent's preflight resolved


def _live(llm: LlmClient, tools: ToolClient) -> Callable[[], Live]:
    """A snapshot function for the progress display, reading the clients' own counters."""

    def snapshot() -> Live:
        since = llm.waiting_since
        return Live(
            llm_calls=llm.calls,
            completion_tokens=llm.completion_tokens,
            tool_calls=tools.calls,
            llm_in_flight=llm.in_flight,
            tool_in_flight=tools.in_flight,
            retries=sum(llm.retries.values()) + sum(tools.retries.values()),
            llm_waiting_s=None if since is None else time.monotonic() - since,
        )

    return snapshot


def selected_apis(config: ExploreConfig) -> list[ApiSpec]:
    """The catalog entries of the run's APIs, in the order asked for (all when none are)."""
    catalog = load_catalog(config.catalog)
    specs = catalog.select(config.apis) if config.apis else list(catalog.values())
    if not specs:
        raise ConfigError("no API selected")
    return specs


def resolve(config: ExploreConfig, endpoints: Endpoints | None) -> ExploreConfig:
    """``config`` with what depends on the servers decided: the grammar is on by default for
    the embedded model only (the study ran unconstrained)."""
    if config.constrain_actions is not None:
        return config
    embedded = endpoints is not None and endpoints.embedded
    return msgspec.structs.replace(config, constrain_actions=embedded)


async def preflight(endpoints: Endpoints, specs: list[ApiSpec], config: ExploreConfig) -> str:
    """Check both servers before any episode starts; returns the model name to use."""
    connect_s = config.llm.timeouts.connect
    if endpoints.tools_url is None:
        raise ConfigError("an exploration needs a tool server")
    async with ToolClient(endpoints.tools_url, concurrency=4, timeouts=config.tool_timeouts,
                          retry=config.tool_retry, seed=config.seed) as tools:
        try:
            with anyio.fail_after(connect_s):
                offered = {a["name"]: a for a in await tools.list_apis()}
        except (TransientError, RequestRejectedError, TimeoutError, OSError) as exc:
            raise ConfigError(
                f"tool server {tools.url} is unreachable ({type(exc).__name__}); start it with "
                "`ste-async serve-tools` or leave out --tools-url to run it in-process"
            ) from None
    missing = [s.name for s in specs if s.name not in offered]
    if missing:
        raise ConfigError(
            f"tool server {endpoints.tools_url} does not offer {len(missing)} API(s) of this "
            f"run, e.g. {missing[0]!r}"
        )
    _check_backends(endpoints.tools_url, specs, offered)
    urls = list(endpoints.llm_urls)
    model = await checked_model(urls, config.llm.model, connect_s)
    window = await context_window(urls, model, connect_s)
    if window is not None:
        longest = max(estimate_longest_prompt(
            description_chars=len(s.prompt_description(
                verbatim=config.protocol.descriptions == "study")), episodes=config.episodes,
            trials=config.trials, max_turn=config.max_turn, max_tokens=config.max_tokens,
            observation_chars=config.observation_max_chars, ltm=config.ltm) for s in specs)
        if longest > window:
            print(f"warning: the server's context holds {window:,} tokens; an episode of this "
                  f"protocol can build prompts of about {longest:,} (a trial that overflows "
                  "is recorded with the server's refusal and ends its episode)",
                  file=sys.stderr)
    return model


def _check_backends(url: str, specs: list[ApiSpec], offered: dict[str, Any]) -> None:
    """Every API of the run has something at the tool server to answer it (its ``GET /apis``
    entry names a backend; a server that does not say is taken at its word)."""
    without = [s.name for s in specs
               if isinstance(offered[s.name], dict) and "backend" in offered[s.name]
               and not offered[s.name]["backend"]]
    if without:
        raise ConfigError(
            f"tool server {url} cannot answer {len(without)} API(s) of this run, e.g. "
            f"{without[0]!r}: they have no simulator and the server has no LLM or upstream "
            "to stand in; serve them with `ste-async serve-tools --catalog ... --llm-url URL` "
            "(or an [llm] or [upstream] section in its --config) and pass --tools-url"
        )


def plan_run(
    config: ExploreConfig, specs: list[ApiSpec], scan: ScanResult,
    only: Collection[str] | None = None,
) -> tuple[dict[str, EpisodeQueue], dict[str, MemoryShard], int]:
    """What is left to do: pending episodes per API (restricted to the ids in ``only`` when
    given), memory rebuilt from finished ones, and how many are already finished."""
    memory = {s.name: MemoryShard(s.name) for s in specs}
    done_by_api: dict[str, list[Any]] = {}
    for head in scan.heads.values():
        done_by_api.setdefault(head.api, []).append(head)
    for api, shard in memory.items():
        shard.restore(done_by_api.get(api, ()),
                      study_reading=config.protocol.reflection_reading == "study")
    chosen: dict[str, set[int]] | None = None
    if only is not None:
        chosen = {s.name: set() for s in specs}
        for episode in only:
            api, _, index = episode.rpartition("#")
            if api in chosen and index.isdigit():
                chosen[api].add(int(index))
    pending = {
        s.name: EpisodeQueue(config.episodes,
                             [h.episode for h in done_by_api.get(s.name, ())],
                             None if chosen is None else chosen[s.name])
        for s in specs
    }
    already = sum(config.episodes - len(p) for p in pending.values())
    return pending, memory, already


class RunStart:
    """A run directory opened for writing: its lock held, its resume checked, its finished
    episodes scanned, and the run card ready to write once the servers passed their checks."""

    def __init__(self, store: RunStore, config: ExploreConfig, specs: list[ApiSpec],
                 scan: ScanResult, requested: CassetteMode, resume: bool):
        self.store = store
        self.config = config
        self.specs = specs
        self.scan = scan
        self.policy = recording_policy(requested)  # what the card says, resumed or not
        self.cassette = cassette_mode(requested, resume)  # what this start records with

    def write_card(self, model: str, *, cassette: CassetteMode | None = None,
                   workers: int | None = None) -> None:
        """Write run.json: once per start, after every check passed."""
        write_run_meta(self.store.dir, RunMeta(
            config=self.config, apis=[s.name for s in self.specs], model=model,
            cassette=self.policy if cassette is None else cassette,
            corrupt_lines_skipped=self.scan.corrupt, workers=workers))


@contextlib.asynccontextmanager
async def open_run(config: ExploreConfig, run_dir: Path, endpoints: Endpoints | None, *,
                   resume: bool, cassette: CassetteMode, worker: int | None = None
                   ) -> AsyncIterator[RunStart]:
    """The one way into a run directory, for one process and for a run split over workers:
    decide what depends on the servers, take the lock (a worker takes one of its own and
    joins a run its parent started), check the resume against run.json, choose the cassette
    mode, and scan what is already done."""
    config = resolve(config, endpoints)
    specs = selected_apis(config)
    lock = ".lock" if worker is None else f".lock-w{worker}"
    async with RunStore(run_dir, lock=lock) as store:
        old = read_run_meta(run_dir)
        if worker is None:
            check_resume(old, config, run_dir, resume, cassette)
        elif old is None:
            raise StoreError(f"{run_dir} has no run.json: a worker joins a started run")
        scan = await anyio.to_thread.run_sync(scan_run, run_dir)
        yield RunStart(store, config, specs, scan, cassette, resume)


async def explore(
    config: ExploreConfig,
    run_dir: str | Path,
    endpoints: Endpoints | None,
    *,
    resume: bool = False,
    cassette: CassetteMode = "record",
    replay_from: str | Path | None = None,
    only: Collection[str] | None = None,
    progress: ProgressSettings | None = None,
    handle_signals: bool = True,
    worker: WorkerRole | None = None,
    reporter: Reporter | None = None,
    interrupts: AsyncIterable[object] | None = None,
) -> RunOutcome:
    """Run (or resume) an exploration into ``run_dir`` against the servers of ``endpoints``.

    ``cassette`` records every exchange into the run directory (a resume replays what the
    interrupted run recorded and goes on live). ``replay_from`` runs offline from another
    run's cassettes, contacting no server at all (``endpoints`` is then None).

    ``worker`` runs this as one of several processes sharing ``run_dir`` (see
    :mod:`ste_async.explore.workers`): the parent holds the run's lock, checked the servers
    and wrote run.json; the worker takes a lock of its own, records into cassettes of its
    own, and ``reporter`` (instead of a display) receives its progress.
    ``interrupts`` stand for Ctrl-C where the signals are not this run's to handle (a Ray
    actor's): the first drains the episodes in flight, the second abandons them.

    ``progress`` shows the run's progress (None: quiet).
    """
    run_dir = Path(run_dir)
    if endpoints is None and replay_from is None:
        raise ConfigError("an exploration needs servers or a recording to replay")
    part = None if worker is None else f"w{worker.index}"
    async with open_run(config, run_dir, endpoints, resume=resume, cassette=cassette,
                        worker=None if worker is None else worker.index) as run:
        config, specs, store, cassette = run.config, run.specs, run.store, run.cassette
        pending, memory, already = plan_run(config, specs, run.scan, only)
        total = config.episodes * len(specs) if only is None else len(only)
        metrics = Metrics(total_episodes=total, already_done=already)

        if replay_from is not None:
            source = load_run_meta(replay_from)
            run.write_card(source.model, cassette="off")
            llm = RecordedLlm(None, await Cassette.open(replay_from, "llm", "replay"), source.model)
            tools = RecordedTools(None, await Cassette.open(replay_from, "tools", "replay"))
            explorer = Explorer(config, specs, pending, memory, llm, tools, store, metrics)
            await _drive(explorer, None, metrics, progress, handle_signals, reporter,
                         interrupts, stage="replay")
            return RunOutcome(metrics=metrics, interrupted=explorer.stopping,
                              run_dir=str(run_dir))

        assert endpoints is not None and endpoints.tools_url is not None
        if worker is None:
            model = await preflight(endpoints, specs, config)
            run.write_card(model)
        else:
            model = worker.model
        recorder = None if cassette == "off" else await Cassette.open(
            run_dir, "llm", cassette, store.append_line, part)
        async with (
            ToolClient(endpoints.tools_url, concurrency=config.tool_concurrency,
                       timeouts=config.tool_timeouts, retry=config.tool_retry,
                       seed=config.seed) as tool_client,
            open_llm(config.llm, endpoints.llm_urls, seed=config.seed, cassette=recorder,
                     model=model) as side,
        ):
            tool_side: ToolClient | RecordedTools = tool_client
            if cassette != "off":
                tool_side = RecordedTools(tool_client, await Cassette.open(
                    run_dir, "tools", cassette, store.append_line, part))
            explorer = Explorer(config, specs, pending, memory, side.llm, tool_side, store,
                                metrics)
            await _drive(explorer, _live(side.client, tool_client), metrics, progress,
                         handle_signals, reporter, interrupts)
    return RunOutcome(metrics=metrics, interrupted=explorer.stopping, run_dir=str(run_dir))


async def _drive(explorer: Explorer, status: Callable[[], Live] | None, metrics: Metrics,
                 progress: ProgressSettings | None, handle_signals: bool,
                 reporter: Reporter | None = None,
                 interrupts: AsyncIterable[object] | None = None, *,
                 stage: str = "explore") -> None:
    error: SteError | None = None

    def sample() -> Sample:
        return progress_sample(metrics, None if status is None else status(), stage=stage)

    async with (show_progress(sample, None if reporter is not None else progress),
                anyio.create_task_group() as tg):
        if interrupts is not None:
            tg.start_soon(_on_interrupts, explorer, tg.cancel_scope, interrupts)
        elif handle_signals:
            tg.start_soon(_on_signals, explorer, tg.cancel_scope)
        if reporter is not None:
            tg.start_soon(reporter, metrics, status or Live)
        try:
            await explorer.run()
        except SteError as exc:
            error = exc  # raised below, outside the task group, so it is not wrapped
        tg.cancel_scope.cancel()
    if error is not None:
        raise error


async def _on_signals(explorer: Explorer, scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        await _on_interrupts(explorer, scope, signals)


async def _on_interrupts(explorer: Explorer, scope: anyio.CancelScope,
                         interrupts: AsyncIterable[object]) -> None:
    async for _ in interrupts:
        if explorer.stopping:
            print("\nsecond interrupt: abandoning the episodes in flight", file=sys.stderr)
            scope.cancel()
            return
        print(f"\ninterrupted: finishing the episodes in flight (up to "
              f"{explorer.config.drain_seconds:.0f}s; interrupt again to stop now)",
              file=sys.stderr)
        explorer.stop()
