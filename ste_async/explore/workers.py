"""One exploration across several processes (``explore --workers N``).

Where one Python process saturates a core (thousands of LLM calls per second), the APIs are
partitioned across worker processes. Each API's episodes stay in one worker, so its memory
shard, its store shard and its lanes behave exactly as in one process; the run directory is
the same one a single process writes, readable by every other command.

The parent holds the run's lock and writes run.json; it is given the servers' URLs (the
edge started whatever the run needs, once), checks them, and hands each worker the same
URLs and the resolved model. A worker (``python -m
ste_async.explore.workers SPEC``) runs :func:`~ste_async.explore.runner.explore` on its APIs
under a lock of its own, records into cassettes of its own, and reports its progress as one
JSON line per second on stdout. Ctrl-C reaches the parent alone (workers have their own
session) and is passed on, once per press, so the drain works as in one process; workers also
die with the parent, even when it is killed.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence, Sized
from pathlib import Path

import anyio
import msgspec
from anyio.abc import Process

from .._runtime import EXIT_INTERRUPTED, run_async
from ..cassette import CassetteMode
from ..config import ExploreConfig
from ..errors import ConfigError, SteError
from ..llm.local import dies_with_parent, read_lines, stop_group
from ..progress import ProgressSettings, Sample, show_progress
from ..session import Endpoints
from .metrics import Live, Metrics, Tally, progress_sample
from .runner import (
    Reporter,
    RunOutcome,
    WorkerRole,
    explore,
    open_run,
    plan_run,
    preflight,
)

__all__ = ("WorkerSpec", "explore_in_workers", "partition")

_REPORT_EVERY = 1.0  # seconds between a worker's progress lines


class WorkerSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a worker process is told: its index, its APIs, and the settings of the run."""

    role: WorkerRole
    run_dir: str
    config: ExploreConfig
    endpoints: Endpoints
    cassette: CassetteMode


class _Report(msgspec.Struct, kw_only=True):
    done: int = 0  # episodes finished by this worker in this run
    running: int = 0
    failed: int = 0
    errors: dict[str, int] = {}  # by kind, so far
    live: Live = msgspec.field(default_factory=Live)
    tally: Tally | None = None  # in the last report: what the worker counted


def partition(pending: Mapping[str, Sized], workers: int) -> list[list[str]]:
    """APIs in groups of nearly equal pending episodes (largest first, each to the lightest
    group); groups left empty are dropped. The order within a group follows ``pending``."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    order = {api: i for i, api in enumerate(pending)}
    loads = [0] * workers
    groups: list[list[str]] = [[] for _ in range(workers)]
    for api in sorted(pending, key=lambda a: (-len(pending[a]), order[a])):
        if not pending[api]:
            continue
        lightest = min(range(workers), key=lambda i: (loads[i], i))
        groups[lightest].append(api)
        loads[lightest] += len(pending[api])
    return [sorted(g, key=order.__getitem__) for g in groups if g]


async def explore_in_workers(
    config: ExploreConfig,
    run_dir: str | Path,
    workers: int,
    endpoints: Endpoints,
    *,
    resume: bool = False,
    cassette: CassetteMode = "record",
    progress: ProgressSettings | None = None,
    handle_signals: bool = True,
) -> RunOutcome:
    """:func:`~ste_async.explore.runner.explore`, with the APIs spread over ``workers``
    processes. The LLM concurrency is the whole run's: each worker gets its share."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    run_dir = Path(run_dir)
    started = time.monotonic()
    # the run's lock is held while the workers run; the config is resolved here, since the
    # workers are only given URLs
    async with open_run(config, run_dir, endpoints, resume=resume, cassette=cassette) as run:
        config, specs, cassette = run.config, run.specs, run.cassette
        pending, _, already = plan_run(config, specs, run.scan)
        groups = partition(pending, workers)
        total = config.episodes * len(specs)
        model = await preflight(endpoints, specs, config)
        run.write_card(model, workers=len(groups))
        share = config.llm.concurrency
        if isinstance(share, int):
            share = max(1, math.ceil(share / max(1, len(groups))))
        child = msgspec.structs.replace(
            config, llm=msgspec.structs.replace(config.llm, concurrency=share),
            tool_concurrency=max(1, math.ceil(config.tool_concurrency / max(1, len(groups)))))
        reports = [_Report() for _ in groups]
        codes: list[int | None] = [None] * len(groups)
        metrics = Metrics(total_episodes=total, already_done=already)
        processes: list[Process] = []
        signals = _Interrupts(len(groups))

        def sample() -> Sample:
            return progress_sample(metrics, _sum_live(reports), errors=_sum_errors(reports))

        try:
            for index, apis in enumerate(groups):
                spec = WorkerSpec(role=WorkerRole(index=index, model=model),
                                  run_dir=str(run_dir), cassette=cassette, endpoints=endpoints,
                                  config=msgspec.structs.replace(child, apis=tuple(apis)))
                processes.append(await _start(spec))
            async with show_progress(sample, progress), anyio.create_task_group() as tg:
                if handle_signals:
                    tg.start_soon(_forward_signals, processes, signals)
                async with anyio.create_task_group() as watchers:
                    for index, process in enumerate(processes):
                        watchers.start_soon(_watch, process, reports, codes, index, metrics,
                                            signals)
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                for process in processes:  # only those left by an error or a cancellation
                    await stop_group(process, config.drain_seconds)
    return _outcome(run_dir, total, already, reports, codes, started)


async def _start(spec: WorkerSpec) -> Process:
    command = [sys.executable, "-m", "ste_async.explore.workers",
               msgspec.json.encode(spec).decode()]
    return await anyio.open_process(
        dies_with_parent(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=None, start_new_session=sys.platform != "win32")


class _Interrupts:
    """Ctrl-C for the workers, held back from a worker until it can take it.

    A worker handles SIGINT (finish the episodes in flight) only once its run has started;
    one that is still starting would die of it. Its first report says it has started, so an
    interrupt that arrives before then is delivered with that report.
    """

    def __init__(self, workers: int):
        self.listening = [False] * workers
        self.owed = [0] * workers

    def send(self, process: Process, index: int) -> None:
        if process.returncode is not None:
            return
        if self.listening[index]:
            process.send_signal(signal.SIGINT)
        else:
            self.owed[index] += 1

    def started(self, process: Process, index: int) -> None:
        if not self.listening[index]:
            self.listening[index] = True
            for _ in range(self.owed[index]):
                self.send(process, index)
            self.owed[index] = 0


async def _watch(process: Process, reports: list[_Report], codes: list[int | None], index: int,
                 metrics: Metrics, signals: _Interrupts) -> None:
    """Read a worker's progress lines until it ends, then note its exit status."""
    assert process.stdout is not None
    decoder = msgspec.json.Decoder(_Report)
    async for line in read_lines(process.stdout):
        try:
            report = decoder.decode(line)
        except msgspec.DecodeError:
            continue  # not a report: a stray print
        if report.tally is not None:
            # the last report comes after the worker's clients closed: their counts stand
            report.live = msgspec.structs.replace(reports[index].live, llm_in_flight=0,
                                                  tool_in_flight=0, llm_waiting_s=None)
        reports[index] = report
        signals.started(process, index)
        metrics.done = metrics.resumed + sum(r.done for r in reports)
        metrics.running = sum(r.running for r in reports)
        metrics.failed = sum(r.failed for r in reports)
    codes[index] = await process.wait()


async def _forward_signals(processes: Sequence[Process], interrupts: _Interrupts) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            print("\ninterrupted: the workers finish the episodes in flight (interrupt again "
                  "to stop now)", file=sys.stderr)
            for index, process in enumerate(processes):
                interrupts.send(process, index)


def _sum_live(reports: Sequence[_Report]) -> Live:
    waits = [r.live.llm_waiting_s for r in reports if r.live.llm_waiting_s is not None]
    return Live(
        llm_calls=sum(r.live.llm_calls for r in reports),
        completion_tokens=sum(r.live.completion_tokens for r in reports),
        tool_calls=sum(r.live.tool_calls for r in reports),
        llm_in_flight=sum(r.live.llm_in_flight for r in reports),
        tool_in_flight=sum(r.live.tool_in_flight for r in reports),
        retries=sum(r.live.retries for r in reports),
        llm_waiting_s=max(waits) if waits else None,
    )


def _sum_errors(reports: Sequence[_Report]) -> dict[str, int]:
    total: dict[str, int] = {}
    for report in reports:
        for kind, n in report.errors.items():
            total[kind] = total.get(kind, 0) + n
    return total


def _outcome(run_dir: Path, total: int, already: int, reports: Sequence[_Report],
             codes: Sequence[int | None], started: float) -> RunOutcome:
    """The run's summary: the workers' own tallies, summed (their APIs are disjoint)."""
    bad = [(i, c) for i, c in enumerate(codes) if c not in (0, 1, 130)]
    if bad:
        index, code = bad[0]
        raise SteError(f"worker {index} exited with status {code} (its error is above); "
                       "finished episodes are kept: continue with --resume")
    metrics = Metrics(total_episodes=total, already_done=already)
    metrics.started = started
    for report in reports:
        if report.tally is None:
            raise SteError("a worker ended without its final report; finished episodes are "
                           "kept: continue with --resume")
        metrics.add(report.tally)
    return RunOutcome(metrics=metrics, interrupted=any(c == 130 for c in codes),
                      run_dir=str(run_dir))


def _reporter(out: Callable[[bytes], object]) -> Reporter:
    async def report(metrics: Metrics, live: Callable[[], Live]) -> None:
        # the first report goes out at once: it tells the parent the run (and its Ctrl-C
        # handler, started before this task) is up
        encoder = msgspec.json.Encoder()

        def send() -> None:
            out(encoder.encode(_Report(done=metrics.done - metrics.resumed,
                                       running=metrics.running, failed=metrics.failed,
                                       errors=metrics.error_counts(), live=live())) + b"\n")

        try:
            while True:
                send()
                await anyio.sleep(_REPORT_EVERY)
        finally:
            send()  # the clients' last counts, before they close

    return report


def _worker_main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m ste_async.explore.workers SPEC_JSON (started by explore "
              "--workers)", file=sys.stderr)
        return 2
    spec = msgspec.json.decode(argv[0], type=WorkerSpec)
    stdout = sys.stdout.buffer

    def out(line: bytes) -> None:
        stdout.write(line)
        stdout.flush()

    async def run() -> RunOutcome:
        return await explore(spec.config, spec.run_dir, spec.endpoints, resume=True,
                             cassette=spec.cassette, worker=spec.role,
                             reporter=_reporter(out))

    try:
        outcome = run_async(run)
    except SteError as exc:
        print(f"error (worker {spec.role.index}): {exc}", file=sys.stderr)
        return 2
    metrics = outcome.metrics
    out(msgspec.json.encode(_Report(done=metrics.done - metrics.resumed, running=0,
                                    failed=metrics.failed, errors=metrics.error_counts(),
                                    tally=metrics.tally())) + b"\n")
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    return 0 if metrics.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
