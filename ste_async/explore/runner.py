"""Wiring of one exploration run: services, clients, store, resume, scheduler, display."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from pathlib import Path
from typing import Any

import anyio
import msgspec

from ..cassette import Cassette, CassetteMode, RecordedLlm, RecordedTools
from ..catalog import ApiSpec, load_catalog
from ..config import ExploreConfig
from ..errors import ConfigError, RequestRejectedError, SteError, StoreError, TransientError
from ..ids import episode_id
from ..llm import LlmClient
from ..llm.endpoints import llm_endpoints
from ..llm.preflight import checked_model, context_window, estimate_longest_prompt
from ..store import RunStore, ScanResult, scan_run
from ..tools import ToolClient
from .memory import MemoryShard
from .metrics import Live, Metrics, progress_loop
from .scheduler import Explorer

__all__ = ("RunOutcome", "explore", "plan_run")

# settings that decide what an episode is; a resumed run must agree on all of them
_PROTOCOL = ("constrain_actions", "trials", "max_turn", "temperature", "max_tokens", "ltm", "stm",
             "reflection", "lanes", "seed", "model", "observation_max_chars", "catalog")


# receives the run's progress while it runs (a worker's report to its parent)
Reporter = Callable[[Metrics, Callable[[], Live]], Awaitable[None]]


class RunOutcome(msgspec.Struct, kw_only=True):
    metrics: Metrics
    interrupted: bool
    run_dir: str


def _live(llm: LlmClient, tools: ToolClient) -> Callable[[], Live]:
    """A snapshot function for the status line, reading the clients' own counters."""

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
    catalog = load_catalog(config.catalog)
    specs = catalog.select(config.apis) if config.apis else list(catalog.values())
    if not specs:
        raise ConfigError("no API selected")
    return specs


def check_may_continue(meta: dict[str, Any] | None, config: ExploreConfig, run_dir: Path,
                       resume: bool) -> None:
    """A run directory that holds a run is continued only with --resume, and only with the
    same protocol settings."""
    if meta is None:
        return
    if not resume:
        raise StoreError(f"{run_dir} already holds a run; pass --resume to continue it, "
                         "or choose another --out")
    old = meta.get("config", {})
    for key in _PROTOCOL:
        new_value = msgspec.to_builtins(getattr(config, key))
        if key in old and old[key] != new_value:
            raise StoreError(
                f"{run_dir} was run with {key}={old[key]!r}; this run has {key}={new_value!r}. "
                "Resume with the same settings, or write to another --out."
            )


@contextlib.asynccontextmanager
async def _services(config: ExploreConfig, mock_llm: Any | None, tool_server: Any | None
                    ) -> AsyncIterator[tuple[list[str], str]]:
    """Start the in-process servers the run needs; yields (LLM URLs, tools URL)."""
    async with contextlib.AsyncExitStack() as stack:
        tools_url = config.tools_url
        if tools_url is None:
            from tool_mocks.config import ToolServerConfig
            from tool_mocks.server import serve_tools

            tool_server = tool_server or ToolServerConfig(
                port=0, catalog=config.catalog, seed=config.seed)
            tools_url = await stack.enter_async_context(serve_tools(tool_server))
        llm_urls = await stack.enter_async_context(
            llm_endpoints(config.llm_urls, mock_llm, embedded=True))
        yield llm_urls, tools_url


async def _preflight(llm_urls: list[str], tools: ToolClient, specs: list[ApiSpec],
                     config: ExploreConfig, model: str, connect_s: float) -> str:
    """Check both servers before any episode starts; returns the model name to use."""
    try:
        with anyio.fail_after(connect_s):
            offered = {a["name"] for a in await tools.list_apis()}
    except (TransientError, RequestRejectedError, TimeoutError, OSError) as exc:
        raise ConfigError(
            f"tool server {tools.url} is unreachable ({type(exc).__name__}); start it with "
            "`ste-async serve-tools` or leave out --tools-url to run it in-process"
        ) from None
    missing = [s.name for s in specs if s.name not in offered]
    if missing:
        raise ConfigError(
            f"tool server {tools.url} does not offer {len(missing)} API(s) of this run, "
            f"e.g. {missing[0]!r}"
        )
    model = await checked_model(llm_urls, model, connect_s)
    window = await context_window(llm_urls, model, connect_s)
    if window is not None:
        longest = max(estimate_longest_prompt(
            description_chars=len(s.prompt_description()), episodes=config.episodes,
            trials=config.trials, max_turn=config.max_turn, max_tokens=config.max_tokens,
            observation_chars=config.observation_max_chars, ltm=config.ltm) for s in specs)
        if longest > window:
            print(f"warning: the server's context holds {window:,} tokens; an episode of this "
                  f"protocol can build prompts of about {longest:,} (a trial that overflows "
                  "is recorded with the server's refusal and ends its episode)",
                  file=sys.stderr)
    return model



def plan_run(
    config: ExploreConfig, specs: list[ApiSpec], scan: ScanResult,
    only: Collection[str] | None = None,
) -> tuple[dict[str, list[int]], dict[str, MemoryShard], int]:
    """What is left to do: pending episodes per API (restricted to the ids in ``only`` when
    given), memory rebuilt from finished ones, and how many are already finished."""
    memory = {s.name: MemoryShard(s.name) for s in specs}
    done_by_api: dict[str, list[Any]] = {}
    for head in scan.heads.values():
        done_by_api.setdefault(head.api, []).append(head)
    for api, shard in memory.items():
        shard.restore(done_by_api.get(api, ()))
    pending = {
        s.name: [
            e for e in range(config.episodes)
            if episode_id(s.name, e) not in scan.heads
            and (only is None or episode_id(s.name, e) in only)
        ]
        for s in specs
    }
    already = sum(config.episodes - len(p) for p in pending.values())
    return pending, memory, already


async def explore(
    config: ExploreConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    mock_llm: Any | None = None,
    tool_server: Any | None = None,
    cassette: CassetteMode = "record",
    replay_from: str | Path | None = None,
    only: Collection[str] | None = None,
    display: bool = True,
    handle_signals: bool = True,
    worker: int | None = None,
    reporter: Reporter | None = None,
) -> RunOutcome:
    """Run (or resume) an exploration into ``run_dir``.

    ``mock_llm`` (a MockLlmConfig) runs the scripted LLM in-process; without ``tools_url`` in
    the config the tool server runs in-process too, configured by ``tool_server``.

    ``cassette`` records every exchange into the run directory (a resume replays what the
    interrupted run recorded and goes on live). ``replay_from`` runs offline from another
    run's cassettes, contacting no server at all.

    ``worker`` runs this as one of several processes sharing ``run_dir`` (see
    :mod:`ste_async.explore.workers`): the parent holds the run's lock and writes run.json;
    the worker takes a lock of its own, records into cassettes of its own, and ``reporter``
    (instead of the status line) receives its progress.
    """
    run_dir = Path(run_dir)
    if config.constrain_actions is None:
        embedded = replay_from is None and mock_llm is None and not config.llm_urls
        config = msgspec.structs.replace(config, constrain_actions=embedded)
    specs = selected_apis(config)
    lock = ".lock" if worker is None else f".lock-w{worker}"
    part = None if worker is None else f"w{worker}"
    async with RunStore(run_dir, lock=lock) as store:
        meta = store.read_meta()
        if worker is not None:
            if meta is None:
                raise StoreError(f"{run_dir} has no run.json: a worker joins a started run")
        else:
            check_may_continue(meta, config, run_dir, resume)
        if resume and cassette == "record":
            cassette = "replay-then-live"
        scan = await anyio.to_thread.run_sync(scan_run, run_dir)
        pending, memory, already = plan_run(config, specs, scan, only)
        total = config.episodes * len(specs) if only is None else len(only)
        metrics = Metrics(total_episodes=total, already_done=already)
        run_meta = {"config": config.to_builtins(), "apis": [s.name for s in specs],
                    "corrupt_lines_skipped": scan.corrupt}
        if worker is None:
            store.write_meta(run_meta)

        if replay_from is not None:
            source = Path(replay_from)
            model = str(msgspec.json.decode((source / "run.json").read_bytes())
                         .get("model") or config.model)
            llm = RecordedLlm(None, await Cassette.open(source, "llm", "replay"), model)
            tools = RecordedTools(None, await Cassette.open(source, "tools", "replay"))
            explorer = Explorer(config, specs, pending, memory, llm, tools, store, metrics)
            await _drive(explorer, None, metrics, display, handle_signals, reporter)
            return RunOutcome(metrics=metrics, interrupted=explorer.stopping,
                              run_dir=str(run_dir))

        async with _services(config, mock_llm, tool_server) as (llm_urls, tools_url):
            async with (
                ToolClient(tools_url, concurrency=config.tool_concurrency,
                           timeouts=config.tool_timeouts, retry=config.tool_retry,
                           seed=config.seed) as tool_client,
            ):
                model = config.model  # a worker's parent checked the servers already
                if worker is None:
                    model = await _preflight(llm_urls, tool_client, specs, config, model,
                                             config.llm_timeouts.connect)
                if worker is None:
                    store.write_meta({**run_meta, "model": model, "cassette": cassette})
                async with LlmClient(llm_urls, model, concurrency=config.llm_concurrency,
                                     timeouts=config.llm_timeouts, retry=config.llm_retry,
                                     api_key_env=config.api_key_env, seed=config.seed) as client:
                    llm_side: Any = client
                    tool_side: Any = tool_client
                    if cassette != "off":
                        llm_side = RecordedLlm(client, await Cassette.open(
                            run_dir, "llm", cassette, store.append_line, part), model)
                        tool_side = RecordedTools(tool_client, await Cassette.open(
                            run_dir, "tools", cassette, store.append_line, part))
                    explorer = Explorer(config, specs, pending, memory, llm_side, tool_side,
                                        store, metrics)
                    await _drive(explorer, _live(client, tool_client), metrics, display,
                                 handle_signals, reporter)
    return RunOutcome(metrics=metrics, interrupted=explorer.stopping, run_dir=str(run_dir))


async def _drive(explorer: Explorer, status: Callable[[], Live] | None, metrics: Metrics,
                 display: bool, handle_signals: bool, reporter: Reporter | None = None) -> None:
    error: SteError | None = None
    async with anyio.create_task_group() as tg:
        if handle_signals:
            tg.start_soon(_on_signals, explorer, tg.cancel_scope)
        if reporter is not None:
            tg.start_soon(reporter, metrics, status or Live)
        elif display:
            tg.start_soon(progress_loop, metrics, status or Live)
        try:
            await explorer.run()
        except SteError as exc:
            error = exc  # raised below, outside the task group, so it is not wrapped
        tg.cancel_scope.cancel()
    if error is not None:
        raise error


async def _on_signals(explorer: Explorer, scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            if explorer.stopping:
                print("\nsecond interrupt: abandoning the episodes in flight", file=sys.stderr)
                scope.cancel()
                return
            print(f"\ninterrupted: finishing the episodes in flight (up to "
                  f"{explorer.config.drain_seconds:.0f}s; interrupt again to stop now)",
                  file=sys.stderr)
            explorer.stop()
