"""One exploration on a Ray cluster (``explore --ray [ADDRESS]``): the workers of
:mod:`ste_async.explore.workers` as Ray actors.

Everything but the transport is the ``--workers`` machinery: the driver (this process) holds
the run's lock, scans the run directory once, partitions the APIs, checks the servers, writes
run.json, shares out the limits, and sums the actors' reports into one status line and their
tallies into one summary. Each partition is one async actor (:class:`PartitionActor`) that
runs the ordinary engine on its APIs, with the episodes the driver found left to do, and
writes its own shards and cassettes into the run directory.

- Placement: one bundle of 1 CPU per actor, in a placement group with the SPREAD strategy,
  so the actors go to as many nodes as there are.
- Shared storage: before any episode, every actor reads a token the driver wrote into the
  run directory; an actor on a node that does not see the directory fails the run clearly.
- Faults: an actor whose process dies is restarted by Ray (``max_restarts``) and its run is
  sent again; the new incarnation resumes its partition from the store and its cassettes
  (the episodes it had finished count as this run's, so the summary stays exact). The actors
  are the driver's: they end with it.
- Cluster: no address starts a one-machine cluster for the run (``ray start --head
  --block`` under a keeper that takes the whole cluster down when the driver dies, even by
  SIGKILL); ``auto`` or ``ray://...`` joins an existing one; a program that has already
  called ``ray.init()`` runs on that cluster.

Ray is imported only here, and only when a run asks for it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import msgspec

from .._runtime import tune_gc
from ..cassette import CassetteMode
from ..config import ExploreConfig
from ..errors import ConfigError, SteError
from ..progress import ProgressSettings
from ..session import Endpoints
from ..store import iter_records
from .metrics import Metrics, Tally
from .runner import RunOutcome, explore
from .workers import REPORT_EVERY, Worker, WorkerReport, WorkerSpec, explore_in_workers
from .workers import final_report as _final_report
from .workers import reporter as _reporter

__all__ = ("MAX_RESTARTS", "PartitionActor", "explore_on_ray", "import_ray", "local_cluster")

MAX_RESTARTS = 3  # times Ray restarts an actor whose process died
_TOKEN = ".ray-check"  # the file every actor must read before the run begins
_PLACE_S = 120.0  # seconds to wait for the cluster to place every actor
_START_S = 90.0  # seconds for a local cluster to come up


def import_ray() -> ModuleType:
    """The ``ray`` module, or an error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise SteError("--ray needs Ray: pip install 'ste_async[ray]'") from None
    return ray


class PartitionActor:
    """One partition of a run in an async Ray actor: the ordinary engine on its APIs."""

    def __init__(self, spec: bytes):
        import ray

        self.spec = msgspec.json.decode(spec, type=WorkerSpec)
        self.last: WorkerReport | None = None
        self.send, self.interrupts = anyio.create_memory_object_stream[object](16)
        with warnings.catch_warnings():  # Ray's own property calls one of its deprecated APIs
            warnings.simplefilter("ignore", DeprecationWarning)
            self.restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)

    async def where(self, token: str) -> tuple[str, str, int, str | None]:
        """Node id, node address and process id of this actor; and the problem, if any,
        with the run directory as seen from its node."""
        import ray

        context = ray.get_runtime_context()
        path = Path(self.spec.run_dir) / _TOKEN
        problem = None
        try:
            found = path.read_text(encoding="utf-8")
        except OSError as exc:
            problem = f"cannot read {path} ({exc.strerror or type(exc).__name__})"
        else:
            if found != token:
                problem = f"{path} holds another run's token"
        util: Any = ray.util  # untyped
        return (context.get_node_id(), util.get_node_ip_address(), os.getpid(), problem)

    async def pid(self) -> int:
        """The process id of this incarnation."""
        return os.getpid()

    async def report(self) -> bytes | None:
        """The latest progress report, as JSON; None before the run started."""
        return None if self.last is None else msgspec.json.encode(self.last)

    async def interrupt(self) -> None:
        """One Ctrl-C for the run (kept until the run takes it)."""
        with contextlib.suppress(anyio.WouldBlock):
            self.send.send_nowait(None)

    async def run(self) -> tuple[bytes | None, int, str | None]:
        """Explore the partition: the last report (with its tally) as JSON, the exit
        status, and the error that ended it, if one did."""
        spec = self.spec
        prior = await anyio.to_thread.run_sync(self._prior) if self.restarted else None
        tune_gc()  # as in a worker process (the actor's loop is Ray's: uvloop where installed)

        def keep(report: WorkerReport) -> None:
            self.last = report

        try:
            outcome = await explore(
                spec.config, spec.run_dir, spec.endpoints, resume=True,
                handle_signals=False, cassette=spec.cassette, worker=spec.role,
                only=spec.only, interrupts=self.interrupts,
                reporter=_reporter(keep, 0 if prior is None else prior.new))
        except SteError as exc:
            return None, 2, str(exc)
        last, code = _final_report(outcome)
        if prior is not None and last.tally is not None:
            last.tally = _merged(prior, last.tally)
            last.done = last.tally.new
        return msgspec.json.encode(last), code, None

    def _prior(self) -> Tally:
        """What earlier incarnations of this actor finished of its episodes."""
        metrics = Metrics(total_episodes=0)
        mine: Collection[str] = set(self.spec.only or ())
        for record in iter_records(self.spec.run_dir):
            if record.id in mine:
                metrics.episode_started(record.api)
                metrics.episode_finished(record)
        return metrics.tally()


def _merged(a: Tally, b: Tally) -> Tally:
    """Two tallies of the same APIs, added."""
    metrics = Metrics(total_episodes=0)
    metrics.add(a)
    metrics.add(b)
    return metrics.tally()


class _ActorWorker:
    """The driver's side of one actor."""

    def __init__(self, ray: ModuleType, handle: Any, index: int):
        self.ray = ray
        self.handle = handle
        self.index = index
        self.finished = False
        self.killed = False

    async def watch(self, report: Callable[[WorkerReport], None]) -> int:
        decoder = msgspec.json.Decoder(WorkerReport)
        errors = self.ray.exceptions

        async def poll() -> None:
            while True:
                await anyio.sleep(REPORT_EVERY)
                with contextlib.suppress(errors.RayActorError):
                    raw = await self.handle.report.remote()
                    if raw is not None:
                        report(decoder.decode(raw))

        async with anyio.create_task_group() as tg:
            tg.start_soon(poll)
            try:
                last, code, problem = await self.handle.run.remote()
            except errors.RayActorError as exc:
                last, code, problem = None, 3, f"lost after {MAX_RESTARTS} restarts: {exc}"
            except errors.RayError as exc:  # an error the engine did not expect
                last, code, problem = None, 3, str(exc)
            tg.cancel_scope.cancel()
        self.finished = True
        if problem is not None:
            print(f"error (actor {self.index}): {problem}", file=sys.stderr)
        if last is not None:
            report(decoder.decode(last))
        return int(code)

    def interrupt(self) -> None:
        if not self.finished:
            self.handle.interrupt.remote()

    async def stop(self, grace: float) -> None:
        # a finished actor too: its process is not kept waiting for the handle to go
        if not self.killed:
            self.ray.kill(self.handle, no_restart=True)
            self.finished = self.killed = True


class _Actors:
    """Workers as Ray actors, spread over the cluster's nodes."""

    noun = "actor"
    hands_episodes = True

    def __init__(self, ray: ModuleType):
        self.ray = ray
        self.group: Any = None
        self.token = secrets.token_hex(16)
        self.placed: list[tuple[int, str, str]] = []  # (index, node id, node address)

    @contextlib.asynccontextmanager
    async def prepare(self, run_dir: Path, count: int) -> AsyncIterator[None]:
        from ray.util.placement_group import placement_group, remove_placement_group

        token = run_dir / _TOKEN
        token.write_text(self.token, encoding="utf-8")
        self.group = placement_group([{"CPU": 1}] * count, strategy="SPREAD")
        try:
            with anyio.move_on_after(_PLACE_S):
                await self.group.ready()
            if not self.ray.util.placement_group_table(self.group).get("state") == "CREATED":
                raise SteError(f"the Ray cluster could not place {count} actors of 1 CPU each "
                               f"in {_PLACE_S:.0f}s (it has {_cpus(self.ray)} CPUs)")
            yield
            if self.placed:
                nodes = {node for _, node, _ in self.placed}
                print(f"ray: {len(self.placed)} actors on {len(nodes)} node(s): " + ", ".join(
                    f"actor {i} on {address} (node {node[:12]})"
                    for i, node, address in sorted(self.placed)), file=sys.stderr)
        finally:
            remove_placement_group(self.group)
            token.unlink(missing_ok=True)

    async def start(self, spec: WorkerSpec) -> Worker:
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        index = spec.role.index
        actor = self.ray.remote(PartitionActor).options(
            num_cpus=1, max_restarts=MAX_RESTARTS, max_task_retries=-1,
            name=f"ste-explore-{self.token[:8]}-{index}",
            scheduling_strategy=PlacementGroupSchedulingStrategy(
                placement_group=self.group, placement_group_bundle_index=index),
        ).remote(msgspec.json.encode(spec))
        worker = _ActorWorker(self.ray, actor, index)
        try:
            node, address, _, problem = await actor.where.remote(self.token)
        except self.ray.exceptions.RayError as exc:
            await worker.stop(0)
            raise SteError(f"actor {index} did not start: {exc}") from None
        if problem is not None:
            await worker.stop(0)
            raise SteError(
                f"actor {index} on node {address} cannot see the run directory: {problem}. "
                "On a cluster, --out must be on a file system every node mounts at the same "
                "path")
        self.placed.append((index, node, address))
        return worker


def _absolute(path: str | Path) -> Path:
    return Path(path).absolute()


def _cpus(ray: ModuleType) -> int:
    return int(ray.cluster_resources().get("CPU", 0))


# The local cluster's keeper: the leader of a process group that holds `ray start --head
# --block` and everything it starts. The parent's death (even by SIGKILL) sends it SIGTERM
# (Linux's parent-death signal), and any end of the keeper kills its whole group; the
# actors' processes, in groups of their own, end with their node's raylet.
_KEEPER = """
import ctypes, os, signal, subprocess, sys, time
ending = []
signal.signal(signal.SIGTERM, lambda *_: ending.append(1))
signal.signal(signal.SIGINT, signal.SIG_IGN)
if sys.platform == "linux":
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
if os.getppid() != int(sys.argv[1]):
    os.killpg(0, signal.SIGKILL)
child = subprocess.Popen(sys.argv[2:])
try:
    while child.poll() is None and not ending:
        time.sleep(0.2)
    if ending:
        child.terminate()
        child.wait(10)
finally:
    os.killpg(0, signal.SIGKILL)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def local_cluster(cpus: int) -> AsyncIterator[str]:
    """A one-machine Ray cluster on loopback for the block, with ``cpus`` CPUs, that admits
    only this process (a token of its own, set in this process's environment for the block);
    yields its address. It is stopped after the block, and dies with this process if it is
    killed."""
    if sys.platform == "win32":
        raise ConfigError("--ray without an address starts a local cluster, which needs "
                          "Linux or macOS here; pass the address of a running cluster")
    port = _free_port()
    command = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
               f"--port={port}", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
               "--include-dashboard=false", "--disable-usage-stats",
               f"--dashboard-agent-listen-port={_free_port()}"]
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    with tempfile.TemporaryFile() as log, _environment(auth):
        keeper = await anyio.open_process(
            [sys.executable, "-c", _KEEPER, str(os.getpid()), *command],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        try:
            with anyio.move_on_after(_START_S):
                while keeper.returncode is None:
                    if await _listening(port):
                        break
                    await anyio.sleep(0.1)
            if keeper.returncode is not None or not await _listening(port):
                log.seek(0)
                raise SteError("the local Ray cluster did not start: "
                               + log.read().decode(errors="replace")[-2000:])
            yield f"127.0.0.1:{port}"
        finally:
            with anyio.CancelScope(shield=True):
                if keeper.returncode is None:
                    keeper.terminate()
                    with anyio.move_on_after(20):
                        await keeper.wait()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(keeper.pid, 9)
                await keeper.wait()


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def _listening(port: int) -> bool:
    try:
        stream = await anyio.connect_tcp("127.0.0.1", port)
    except OSError:
        return False
    await stream.aclose()
    return True


@contextlib.asynccontextmanager
async def _connected(ray: ModuleType, address: str | None, cpus: int) -> AsyncIterator[None]:
    """Connected to the cluster for the block: the one this program already joined, the
    one at ``address``, or a local one started for the block."""
    if ray.is_initialized():
        yield
        return
    async with contextlib.AsyncExitStack() as stack:
        if address is None:
            address = await stack.enter_async_context(local_cluster(cpus))
            # Ray reads its settings when imported: read again, with the cluster's token
            import ray._raylet

            raylet: Any = ray._raylet  # compiled, untyped
            raylet.Config.initialize("")

        # on loopback, the local cluster's node is this machine's under that address
        node = {"_node_ip_address": "127.0.0.1"} if address.startswith("127.0.0.1:") else {}

        def connect() -> None:
            ray.init(address=address, logging_level="ERROR", **node)

        try:
            await anyio.to_thread.run_sync(connect)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SteError(f"cannot join the Ray cluster at {address} ({exc}); start one with "
                           "`ray start --head`, or pass --ray alone for a cluster of this "
                           "machine started for the run") from None
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(ray.shutdown)


async def explore_on_ray(
    config: ExploreConfig,
    run_dir: str | Path,
    endpoints: Endpoints,
    *,
    address: str | None = None,
    actors: int | None = None,
    resume: bool = False,
    cassette: CassetteMode = "record",
    progress: ProgressSettings | None = None,
    handle_signals: bool = True,
) -> RunOutcome:
    """:func:`~ste_async.explore.workers.explore_in_workers` with Ray actors for workers:
    ``actors`` of them (default: one per CPU of the cluster), on the cluster at ``address``
    (None: a local one for the run)."""
    ray = import_ray()
    run_dir = _absolute(run_dir)  # the actors' working directory is not this one
    if actors is not None and actors < 1:
        raise ConfigError(f"--workers must be at least 1, got {actors}")
    local = max(actors or 0, os.cpu_count() or 1)
    async with _connected(ray, address, local):
        cpus = _cpus(ray)
        count = actors or cpus
        if count > cpus:
            raise ConfigError(f"--workers {count}: the Ray cluster has {cpus} CPUs, and each "
                              "actor takes one")
        return await explore_in_workers(
            config, run_dir, count, endpoints, resume=resume, cassette=cassette,
            progress=progress, handle_signals=handle_signals, transport=_Actors(ray))
