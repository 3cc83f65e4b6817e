"""Local LLM server processes: started, checked for health, and never left behind.

:class:`LocalServer` is the life cycle that the embedded llama.cpp server and the vLLM
launcher share. A subclass says which command to run (:meth:`LocalServer.prepare`); the base
starts it in its own process group with its output kept in a bounded log, polls ``/health``
until the server answers, and on leaving, however it is left (normally, by an error, by
cancellation), terminates and then kills the whole group. On Linux the server also gets
SIGKILL when this process dies, even by SIGKILL, which no cleanup code can catch.

:func:`serve_all` runs several servers (replicas) for one block: all start at once, and the
block begins when every one is healthy.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from types import TracebackType
from typing import Self

import anyio
from anyio.abc import ByteReceiveStream, Process

from .._http import one_off_session, request
from ..errors import ConfigError, TransientError

__all__ = ("LocalServer", "dies_with_parent", "free_port", "read_lines", "serve_all", "stop_group")

_KILL = getattr(signal, "SIGKILL", signal.SIGTERM)  # Windows has no SIGKILL


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    """One OpenAI-compatible server process, for the length of an ``async with`` block.

    ``progress`` receives short status lines; the last ``log_lines`` lines of the server's
    output are kept in :attr:`log` and quoted in the error raised when it exits or does not
    answer ``/health`` within ``startup_timeout`` seconds.
    """

    kind = "server"  # how messages name it
    default_startup_timeout = 180.0

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0,
                 startup_timeout: float | None = None, stop_timeout: float = 5.0,
                 progress: Callable[[str], object] | None = None, log_lines: int = 200):
        self.host = host
        self.port = port  # 0: a free port, chosen when the server starts
        self.startup_timeout = startup_timeout or self.default_startup_timeout
        self.stop_timeout = stop_timeout
        self.progress = progress or (lambda _line: None)
        self.log: deque[str] = deque(maxlen=log_lines)
        self.url = ""
        self.pid: int | None = None
        self.command: list[str] = []
        self.env: dict[str, str] = {}  # set for the server on top of this process's environment
        self._stack: AsyncExitStack | None = None
        self._process: Process | None = None

    async def prepare(self) -> None:
        """Set :attr:`command` (and :attr:`env`) for :attr:`port`; may raise ConfigError."""
        raise NotImplementedError

    def describe(self) -> str:
        """The command as a shell line, its environment first: what the user would type."""
        env = " ".join(f"{k}={v}" for k, v in self.env.items())
        return f"{env} {' '.join(self.command)}".strip()

    def tail(self, n: int = 15) -> str:
        return "\n".join(list(self.log)[-n:])

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self.running())
            await self.wait_ready()
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> bool | None:
        stack, self._stack = self._stack, None
        assert stack is not None, "the server was not entered"
        return await stack.__aexit__(et, ev, tb)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """The process started, its output read, and stopped on leaving; health not awaited."""
        self.port = self.port or free_port()
        self.url = f"http://{_url_host(self.host)}:{self.port}"
        await self.prepare()
        self.progress(f"$ {self.describe()}")
        process = await anyio.open_process(
            dies_with_parent(self.command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=sys.platform != "win32",
            env={**os.environ, **self.env} if self.env else None,
        )
        self.pid = process.pid
        self._process = process
        error: Exception | None = None
        try:
            async with anyio.create_task_group() as tg:
                assert process.stdout is not None
                tg.start_soon(self._pump, process.stdout)
                try:
                    yield self
                except Exception as exc:  # re-raised below as itself, not as an ExceptionGroup
                    error = exc
                finally:
                    with anyio.CancelScope(shield=True):
                        await stop_group(process, self.stop_timeout)
        finally:
            with anyio.CancelScope(shield=True):
                await stop_group(process, self.stop_timeout)  # a no-op unless the group itself failed
                await process.aclose()
        if error is not None:
            raise error

    async def wait_ready(self) -> None:
        """Poll ``/health`` until it answers 200; a ConfigError quoting the log if the
        process exits first or the time runs out."""
        process = self._process
        assert process is not None, "wait_ready() runs inside running()"
        started = time.monotonic()
        deadline = started + self.startup_timeout
        async with one_off_session(2) as session:
            while True:
                if process.returncode is not None:
                    await anyio.sleep(0.2)  # let the pump read the last words
                    raise ConfigError(f"{self.kind} exited with status {process.returncode} "
                                      f"while starting; its last output:\n{self.tail()}")
                try:
                    if (await request(session, "GET", f"{self.url}/health")).status == 200:
                        break
                except TransientError:
                    pass  # not listening yet, or too busy loading to answer
                if time.monotonic() > deadline:
                    raise ConfigError(f"{self.kind} did not become ready within "
                                      f"{self.startup_timeout:.0f} s; its last output:\n{self.tail()}")
                await anyio.sleep(0.25)
        self.progress(f"{self.kind} ready at {self.url} in {time.monotonic() - started:.1f} s")

    async def _pump(self, stream: ByteReceiveStream) -> None:
        async for line in read_lines(stream):
            self.log.append(line.decode("utf-8", "replace").rstrip())


async def read_lines(stream: ByteReceiveStream, longest: int = 65536) -> AsyncIterator[bytes]:
    """The lines of a child's output as they come (without the newline); a line longer than
    ``longest`` bytes is cut into pieces, and a last line without newline is given too."""
    pending = b""
    try:
        async for chunk in stream:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if len(pending) > longest:
                lines, pending = [*lines, pending], b""
            for line in lines:
                yield line
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass
    if pending:
        yield pending


@asynccontextmanager
async def serve_all(servers: Sequence[LocalServer]) -> AsyncIterator[list[str]]:
    """Start every server at once, wait until all are healthy, yield their URLs; all are
    stopped on leaving. One that fails to start stops the others and raises its error."""
    async with AsyncExitStack() as stack:
        for server in servers:
            await stack.enter_async_context(server.running())
        failures: list[ConfigError] = []

        async def ready(server: LocalServer) -> None:
            try:
                await server.wait_ready()
            except ConfigError as exc:
                failures.append(exc)
                tg.cancel_scope.cancel()  # the others need not be waited for

        async with anyio.create_task_group() as tg:
            for server in servers:
                tg.start_soon(ready, server)
        if failures:
            raise failures[0]
        yield [server.url for server in servers]


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


async def stop_group(process: Process, grace: float) -> None:
    """Terminate, then kill, the server's whole process group; returns once it is reaped."""

    def signal_group(sig: signal.Signals) -> None:
        try:
            if sys.platform != "win32":
                os.killpg(process.pid, sig)
            elif sig == signal.SIGTERM:
                process.terminate()
            else:
                process.kill()
        except (ProcessLookupError, PermissionError):
            pass

    if process.returncode is None:
        signal_group(signal.SIGTERM)
        with anyio.move_on_after(grace):
            await process.wait()
    if process.returncode is None:
        signal_group(_KILL)
        await process.wait()
    if sys.platform != "win32":
        signal_group(_KILL)  # anything the server itself left in its group


# Linux: a tiny interpreter sets the parent-death signal, then becomes the server. The parent
# may die before the signal is set (the interpreter takes tens of milliseconds to start): the
# wrapper then finds itself adopted by another process and exits instead.
_PDEATHSIG = (
    "import ctypes, os, sys; ctypes.CDLL(None, use_errno=True).prctl(1, 9); "
    "os.getppid() == int(sys.argv[1]) or os._exit(1); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


def dies_with_parent(command: list[str]) -> list[str]:
    if sys.platform != "linux":
        return command
    return [sys.executable, "-c", _PDEATHSIG, str(os.getpid()), *command]
