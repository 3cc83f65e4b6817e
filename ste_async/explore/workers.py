"""One exploration across several processes (``explore --workers N``) or Ray actors
(``explore --ray``).

Where one Python process saturates a core (thousands of LLM calls per second), the APIs are
partitioned across workers. Each API's episodes stay in one worker, so its memory shard, its
store shard and its lanes behave exactly as in one process; the run directory is the same one
a single process writes, readable by every other command.

The parent holds the run's lock and writes run.json; it is given the servers' URLs (the
edge started whatever the run needs, once), checks them, and hands each worker the same
URLs, the resolved model and its share of the run's limits. A worker runs
:func:`~ste_async.explore.runner.explore` on its APIs under a lock of its own, records into
cassettes of its own, and reports its progress once a second as a :class:`WorkerReport`; the
parent sums the reports into one progress display and, at the end, the workers' tallies into
one summary. How a worker is started, reached and stopped is its :class:`Transport`'s business:
processes here (``python -m ste_async.explore.workers SPEC``, one JSON report a line on
stdout), Ray actors in :mod:`ste_async.explore.ray_actors`.

Process workers: Ctrl-C reaches the parent alone (workers have their own session) and is
passed on, once per press, so the drain works as in one process; workers also die with the
parent, even when it is killed.
"""

from __future__ import annotations

import contextlib
import math
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence, Sized
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

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
from ..store import ScanResult
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

__all__ = (
    "REPORT_EVERY",
    "Transport",
    "Worker",
    "WorkerReport",
    "WorkerSpec",
    "explore_in_workers",
    "final_report",
    "partition",
    "remaining",
    "reporter",
    "share",
)

REPORT_EVERY = 1.0  # seconds between a worker's progress reports


class WorkerSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a worker is told: its index, its APIs, and the settings of the run."""

    role: WorkerRole
    run_dir: str
    config: ExploreConfig
    endpoints: Endpoints
    cassette: CassetteMode
    # the episodes left to it, as the parent's scan found them ("api#index"); None: the
    # worker finds them in its own scan
    only: list[str] | None = None


class WorkerReport(msgspec.Struct, kw_only=True):
    """A worker's progress, as its parent reads it (once a second, and once at the end)."""

    done: int = 0  # episodes finished by this worker in this run
    running: int = 0
    failed: int = 0
    errors: dict[str, int] = {}  # by kind, so far
    live: Live = msgspec.field(default_factory=Live)
    tally: Tally | None = None  # in the last report: what the worker counted


class Worker(Protocol):
    """One started worker, as the parent drives it."""

    async def watch(self, report: Callable[[WorkerReport], None]) -> int:
        """Run to the end, passing on each report; returns the exit status (0: done, 1: some
        episodes abandoned, 130: interrupted, anything else: failed)."""
        ...

    def interrupt(self) -> None:
        """Pass on one Ctrl-C: the first drains the episodes in flight, the second abandons
        them."""
        ...

    async def stop(self, grace: float) -> None:
        """End the worker if it still runs (after an error or a cancellation), and free
        what it held."""
        ...


class Transport(Protocol):
    """How workers are started: processes on this machine, or actors on a cluster."""

    noun: str  # what a worker is called in messages
    hands_episodes: bool  # the spec carries the episodes left to each worker

    def prepare(self, run_dir: Path, count: int) -> AbstractAsyncContextManager[None]:
        """What the workers need around them while they run (none for processes)."""
        ...

    async def start(self, spec: WorkerSpec) -> Worker:
        """Start one worker; once every worker is started, they may begin."""
        ...


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


def share(config: ExploreConfig, workers: int) -> ExploreConfig:
    """``config`` with one worker's share of the run's limits: the LLM requests in flight
    and the tool requests in flight, each divided by the workers, rounded up (an adaptive
    LLM limit is each worker's own)."""
    workers = max(1, workers)
    llm = config.llm.concurrency
    if isinstance(llm, int):
        llm = max(1, math.ceil(llm / workers))
    return msgspec.structs.replace(
        config, llm=msgspec.structs.replace(config.llm, concurrency=llm),
        tool_concurrency=max(1, math.ceil(config.tool_concurrency / workers)))


def remaining(config: ExploreConfig, apis: Sequence[str], scan: ScanResult) -> list[str]:
    """The ids of the episodes of ``apis`` that ``scan`` did not find finished."""
    done: dict[str, set[int]] = {api: set() for api in apis}
    for head in scan.heads.values():
        if head.api in done:
            done[head.api].add(head.episode)
    return [f"{api}#{e}" for api in apis for e in range(config.episodes) if e not in done[api]]


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
    transport: Transport | None = None,
) -> RunOutcome:
    """:func:`~ste_async.explore.runner.explore`, with the APIs spread over ``workers``
    processes (or the workers of ``transport``). The limits are the whole run's: each worker
    gets its share."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    transport = transport or _Processes()
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
        child = share(config, len(groups))
        reports = [WorkerReport() for _ in groups]
        codes: list[int | None] = [None] * len(groups)
        metrics = Metrics(total_episodes=total, already_done=already)
        assigned = [WorkerSpec(role=WorkerRole(index=index, model=model), run_dir=str(run_dir),
                               cassette=cassette, endpoints=endpoints,
                               only=remaining(config, apis, run.scan)
                               if transport.hands_episodes else None,
                               config=msgspec.structs.replace(child, apis=tuple(apis)))
                    for index, apis in enumerate(groups)]
        slots: list[Worker | None] = [None] * len(groups)

        def sample() -> Sample:
            return progress_sample(metrics, _sum_live(reports), errors=_sum_errors(reports))

        async with transport.prepare(run_dir, len(groups)):
            try:
                await _start_all(transport, assigned, slots)
                handles = [h for h in slots if h is not None]
                async with show_progress(sample, progress), anyio.create_task_group() as tg:
                    if handle_signals:
                        tg.start_soon(_forward_signals, handles, transport.noun)
                    async with anyio.create_task_group() as watchers:
                        for index, handle in enumerate(handles):
                            watchers.start_soon(_watch, handle, reports, codes, index, metrics)
                    tg.cancel_scope.cancel()
            finally:
                with anyio.CancelScope(shield=True):
                    for slot in slots:  # a process that ended has nothing left to stop
                        if slot is not None:
                            await slot.stop(config.drain_seconds)
    return _outcome(run_dir, total, already, reports, codes, started, transport.noun)


async def _start_all(transport: Transport, specs: Sequence[WorkerSpec],
                     started: list[Worker | None]) -> None:
    """Start every worker at once (an actor may take seconds to come up); the first error
    stops the rest and is raised as it is."""
    failed: list[SteError] = []

    async def start(index: int, spec: WorkerSpec, scope: anyio.CancelScope) -> None:
        try:
            started[index] = await transport.start(spec)
        except SteError as exc:
            failed.append(exc)
            scope.cancel()

    async with anyio.create_task_group() as tg:
        for index, spec in enumerate(specs):
            tg.start_soon(start, index, spec, tg.cancel_scope)
    if failed:
        raise failed[0]


async def _watch(worker: Worker, reports: list[WorkerReport], codes: list[int | None],
                 index: int, metrics: Metrics) -> None:
    """Take a worker's reports until it ends, then note its exit status."""

    def update(report: WorkerReport) -> None:
        if report.tally is not None:
            # the last report comes after the worker's clients closed: their counts stand
            report.live = msgspec.structs.replace(reports[index].live, llm_in_flight=0,
                                                  tool_in_flight=0, llm_waiting_s=None)
        reports[index] = report
        metrics.done = metrics.resumed + sum(r.done for r in reports)
        metrics.running = sum(r.running for r in reports)
        metrics.failed = sum(r.failed for r in reports)

    codes[index] = await worker.watch(update)


async def _forward_signals(workers: Sequence[Worker], noun: str) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            print(f"\ninterrupted: the {noun}s finish the episodes in flight (interrupt again "
                  "to stop now)", file=sys.stderr)
            for worker in workers:
                worker.interrupt()


def _sum_live(reports: Sequence[WorkerReport]) -> Live:
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


def _sum_errors(reports: Sequence[WorkerReport]) -> dict[str, int]:
    total: dict[str, int] = {}
    for report in reports:
        for kind, n in report.errors.items():
            total[kind] = total.get(kind, 0) + n
    return total


def _outcome(run_dir: Path, total: int, already: int, reports: Sequence[WorkerReport],
             codes: Sequence[int | None], started: float, noun: str) -> RunOutcome:
    """The run's summary: the workers' own tallies, summed (their APIs are disjoint)."""
    bad = [(i, c) for i, c in enumerate(codes) if c not in (0, 1, 130)]
    if bad:
        index, code = bad[0]
        raise SteError(f"{noun} {index} exited with status {code} (its error is above); "
                       "finished episodes are kept: continue with --resume")
    metrics = Metrics(total_episodes=total, already_done=already)
    metrics.started = started
    for report in reports:
        if report.tally is None:
            raise SteError(f"a {noun} ended without its final report; finished episodes are "
                           "kept: continue with --resume")
        metrics.add(report.tally)
    return RunOutcome(metrics=metrics, interrupted=any(c == 130 for c in codes),
                      run_dir=str(run_dir))


def reporter(out: Callable[[WorkerReport], object], prior: int = 0) -> Reporter:
    """A worker's :data:`~ste_async.explore.runner.Reporter`: a report to ``out`` at once
    (it tells the parent the run, and its interrupt handler, is up), then once a second.
    ``prior``: episodes of this run the worker finished before it was restarted."""

    async def report(metrics: Metrics, live: Callable[[], Live]) -> None:
        def send() -> None:
            out(WorkerReport(done=prior + metrics.done - metrics.resumed,
                             running=metrics.running, failed=metrics.failed,
                             errors=metrics.error_counts(), live=live()))

        try:
            while True:
                send()
                await anyio.sleep(REPORT_EVERY)
        finally:
            send()  # the clients' last counts, before they close

    return report


def final_report(outcome: RunOutcome) -> tuple[WorkerReport, int]:
    """A worker's last report, with its tally, and its exit status."""
    metrics = outcome.metrics
    report = WorkerReport(done=metrics.done - metrics.resumed, running=0,
                          failed=metrics.failed, errors=metrics.error_counts(),
                          tally=metrics.tally())
    if outcome.interrupted:
        return report, EXIT_INTERRUPTED
    return report, 0 if metrics.failed == 0 else 1


class _Processes:
    """Workers as child processes of this one, each in a session of its own."""

    noun = "worker"
    hands_episodes = False  # a process is told its APIs and scans for what is left

    def prepare(self, run_dir: Path, count: int) -> AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    async def start(self, spec: WorkerSpec) -> Worker:
        command = [sys.executable, "-m", "ste_async.explore.workers",
                   msgspec.json.encode(spec).decode()]
        process = await anyio.open_process(
            dies_with_parent(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=None, start_new_session=sys.platform != "win32")
        return _ProcessWorker(process)


class _ProcessWorker:
    """A worker process, read line by line.

    It handles SIGINT (finish the episodes in flight) only once its run has started; one
    that is still starting would die of it. Its first report says it has started, so an
    interrupt that arrives before then is delivered with that report.
    """

    def __init__(self, process: Process):
        self.process = process
        self.listening = False
        self.owed = 0

    def interrupt(self) -> None:
        if self.process.returncode is not None:
            return
        if self.listening:
            self.process.send_signal(signal.SIGINT)
        else:
            self.owed += 1

    def started(self) -> None:
        if not self.listening:
            self.listening = True
            for _ in range(self.owed):
                self.interrupt()
            self.owed = 0

    async def watch(self, report: Callable[[WorkerReport], None]) -> int:
        assert self.process.stdout is not None
        decoder = msgspec.json.Decoder(WorkerReport)
        async for line in read_lines(self.process.stdout):
            try:
                decoded = decoder.decode(line)
            except msgspec.DecodeError:
                continue  # not a report: a stray print
            self.started()
            report(decoded)
        return await self.process.wait()

    async def stop(self, grace: float) -> None:
        await stop_group(self.process, grace)


def _worker_main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m ste_async.explore.workers SPEC_JSON (started by explore "
              "--workers)", file=sys.stderr)
        return 2
    spec = msgspec.json.decode(argv[0], type=WorkerSpec)
    stdout = sys.stdout.buffer
    encoder = msgspec.json.Encoder()

    def out(report: WorkerReport) -> None:
        stdout.write(encoder.encode(report) + b"\n")
        stdout.flush()

    async def run() -> RunOutcome:
        return await explore(spec.config, spec.run_dir, spec.endpoints, resume=True,
                             cassette=spec.cassette, worker=spec.role,
                             only=spec.only, reporter=reporter(out))

    try:
        outcome = run_async(run)
    except SteError as exc:
        print(f"error (worker {spec.role.index}): {exc}", file=sys.stderr)
        return 2
    last, code = final_report(outcome)
    out(last)
    return code


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
