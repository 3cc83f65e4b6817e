"""Launching vLLM's OpenAI-compatible server, one process per replica.

``pip install 'ste_async[vllm]'`` brings vLLM (a CUDA GPU is needed to run it). The
executable is ``$STE_VLLM`` when set, else the ``vllm`` beside this interpreter or on
``PATH``. Each replica is ``vllm serve MODEL`` on its own port; with several GPUs the
replicas are spread over them round-robin (``CUDA_VISIBLE_DEVICES``), and replicas that share
a GPU share its memory (``--gpu-memory-utilization`` divided among them).

Prefix caching is asked for explicitly: an episode's turns resend the whole conversation, so
the engine routes them to one replica (episode affinity) where the cached prefix is reused.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import ConfigError
from .local import LocalServer

__all__ = ("INSTALL_HINT", "VLLM_ENV", "VllmServer", "find_vllm", "replicas", "visible_gpus")

INSTALL_HINT = "pip install 'ste_async[vllm]' (vLLM needs a CUDA GPU)"
VLLM_ENV = "STE_VLLM"


def find_vllm(path: str | os.PathLike[str] | None = None) -> Path:
    """The ``vllm`` executable: ``path``, ``$STE_VLLM``, beside this interpreter, or ``PATH``."""
    explicit = path or os.environ.get(VLLM_ENV)
    if explicit:
        found = Path(explicit).expanduser()
        if not found.is_file() or not os.access(found, os.X_OK):
            raise ConfigError(f"vLLM executable {found} (from {VLLM_ENV} or the argument) "
                              "is not an executable file")
        return found.absolute()
    beside = Path(sys.executable).parent / "vllm"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    on_path = shutil.which("vllm")
    if on_path:
        return Path(on_path).absolute()
    raise ConfigError(f"vLLM is not installed; install it with: {INSTALL_HINT}, or set "
                      f"{VLLM_ENV} to its executable")


class VllmServer(LocalServer):
    """``async with VllmServer("Qwen/Qwen2.5-0.5B-Instruct") as server:`` serves at ``server.url``.

    ``model`` is what ``vllm serve`` takes (a hub id or a local directory); ``served_name``
    the name ``/v1/models`` lists (default: ``model``). ``gpu`` pins the replica to one
    device; ``gpu_memory`` is the fraction of that device's memory it may take.
    ``extra_args`` go to ``vllm serve`` unchanged. Loading and compiling take minutes, hence
    the long default ``startup_timeout``.
    """

    kind = "vLLM"
    default_startup_timeout = 900.0

    def __init__(self, model: str, *, served_name: str | None = None, host: str = "127.0.0.1",
                 port: int = 0, gpu: str | None = None, gpu_memory: float = 0.9,
                 max_num_seqs: int | None = None, extra_args: Sequence[str] = (),
                 executable: str | os.PathLike[str] | None = None,
                 startup_timeout: float | None = None, stop_timeout: float = 30.0,
                 progress: Callable[[str], object] | None = None, log_lines: int = 200):
        if not model:
            raise ConfigError("vLLM needs a model: --model NAME (a hub id or a local directory)")
        if not 0.0 < gpu_memory <= 1.0:
            raise ConfigError(f"GPU memory fraction must be in (0, 1], got {gpu_memory}")
        super().__init__(host=host, port=port, startup_timeout=startup_timeout,
                         stop_timeout=stop_timeout, progress=progress, log_lines=log_lines)
        self.model = model
        self.served_name = served_name or model
        self.gpu = gpu
        self.gpu_memory = gpu_memory
        self.max_num_seqs = max_num_seqs
        self.extra_args = tuple(extra_args)
        self.executable = executable

    def build_command(self, executable: Path) -> list[str]:
        return [
            str(executable), "serve", self.model,
            "--host", self.host, "--port", str(self.port),
            "--served-model-name", self.served_name,
            "--gpu-memory-utilization", f"{self.gpu_memory:.3g}",
            "--enable-prefix-caching",
            *(("--max-num-seqs", str(self.max_num_seqs)) if self.max_num_seqs else ()),
            *self.extra_args,
        ]  # fmt: skip

    async def prepare(self) -> None:
        self.command = self.build_command(find_vllm(self.executable))
        if self.gpu is not None:
            self.env["CUDA_VISIBLE_DEVICES"] = self.gpu
        self.progress(f"starting vLLM on port {self.port}: {self.model}"
                      + (f" (GPU {self.gpu})" if self.gpu is not None else ""))


def visible_gpus() -> list[str]:
    """The GPUs replicas may use: ``$CUDA_VISIBLE_DEVICES`` when set, else none named (each
    replica then sees vLLM's default device)."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    return [g.strip() for g in value.split(",") if g.strip()] if value else []


def replicas(model: str, count: int, *, port: int = 8000, gpus: Sequence[str] | None = None,
             gpu_memory: float = 0.9, **kwargs: object) -> list[VllmServer]:
    """``count`` servers of ``model`` on ports ``port``, ``port + 1``, ... (``port=0``: free
    ports). Replicas go round-robin over ``gpus`` (default :func:`visible_gpus`); those on
    one device split ``gpu_memory`` evenly."""
    if count < 1:
        raise ConfigError(f"--replicas must be at least 1, got {count}")
    devices = list(gpus) if gpus is not None else visible_gpus()
    placed = [devices[i % len(devices)] if devices else None for i in range(count)]
    sharing = {gpu: placed.count(gpu) for gpu in placed}
    return [
        VllmServer(model, port=port + i if port else 0, gpu=gpu,
                   gpu_memory=gpu_memory / sharing[gpu], **kwargs)  # type: ignore[arg-type]
        for i, gpu in enumerate(placed)
    ]
