"""The edge: start the servers a command needs, and hand the engine their URLs.

Every server a command may run for itself lives here: the embedded llama.cpp model, vLLM
replicas, the scripted LLM and the tool server (the last two from :mod:`tool_mocks`). A
command opens :func:`open_services` (or :func:`llm_servers` when it needs no tools), gets an
:class:`Endpoints` of resolved URLs, and passes that to the engine; the engine (explore,
distill, infer, the workers) never starts a server and never imports :mod:`tool_mocks`. This
module and ``cli.py`` are the only ones that do, which an import-graph test enforces.

Every server started here stops when its block ends, however it ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING

from .errors import ConfigError
from .session import Endpoints

if TYPE_CHECKING:
    from tool_mocks.config import ToolServerConfig
    from tool_mocks.llm import MockLlmConfig

    from .llm.local import LocalServer

__all__ = (
    "NO_LLM_HINT",
    "LlmChoice",
    "base_url",
    "llm_servers",
    "local_servers",
    "mock_llm_config",
    "open_services",
    "tool_server",
)

NO_LLM_HINT = ("no LLM given: pass --llm-url URL for an OpenAI-compatible server (e.g. vLLM), "
               "or --llm mock for the scripted test LLM")


@dataclasses.dataclass(frozen=True, kw_only=True)
class LlmChoice:
    """Which LLM a command talks to: given servers, the scripted one, or the embedded model.

    ``embedded_default`` says whether the embedded model may be started when neither URLs nor
    the mock are given; commands that do not start it by default refuse with one line.
    """

    urls: tuple[str, ...] = ()
    mock: MockLlmConfig | None = None
    embedded_default: bool = False


def mock_llm_config(**settings: float | int | str) -> MockLlmConfig:
    """The scripted LLM's settings, with a bad value as one clear line."""
    from tool_mocks.llm import MockLlmConfig

    try:
        return MockLlmConfig(**settings)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"mock LLM: {exc}") from None


def base_url(url: str) -> str:
    """A server's base URL as the engine uses it: without a trailing slash or ``/v1`` (the
    form the openai SDK and ``serve-llm`` print), since the engine adds ``/v1/...`` itself."""
    url = url.rstrip("/")
    return url.removesuffix("/v1").rstrip("/") if url.endswith("/v1") else url


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def llm_servers(choice: LlmChoice) -> AsyncIterator[tuple[tuple[str, ...], bool]]:
    """The LLM base URLs of ``choice``, with whatever server they need running for the block;
    yields (urls, whether the embedded model was started)."""
    if choice.mock is not None:
        from tool_mocks.llm import serve_mock_llm

        async with serve_mock_llm(choice.mock) as url:
            yield (url,), False
    elif choice.urls:
        yield tuple(base_url(u) for u in choice.urls), False
    elif choice.embedded_default:
        from .llm.embedded import EmbeddedServer

        async with EmbeddedServer(progress=_say) as server:
            yield (server.url,), True
    else:
        raise ConfigError(NO_LLM_HINT)


@contextlib.asynccontextmanager
async def tool_server(url: str | None, config: ToolServerConfig | None = None, *,
                      catalog: str | None = None, seed: int = 0) -> AsyncIterator[str]:
    """``url`` when given; otherwise the mock tool server, in this event loop on a free port
    (``config``, or one serving ``catalog`` with ``seed``)."""
    if url is not None:
        yield url
        return
    from tool_mocks.config import ToolServerConfig
    from tool_mocks.server import serve_tools

    async with serve_tools(config or ToolServerConfig(port=0, catalog=catalog, seed=seed)
                           ) as started:
        yield started


@contextlib.asynccontextmanager
async def open_services(llm: LlmChoice, *, tools_url: str | None = None,
                        tools: ToolServerConfig | None = None, catalog: str | None = None,
                        seed: int = 0) -> AsyncIterator[Endpoints]:
    """Both sides of an exploration: the tool server first (it is quick), then the LLM."""
    async with (
        tool_server(tools_url, tools, catalog=catalog, seed=seed) as tools_at,
        llm_servers(llm) as (urls, embedded),
    ):
        yield Endpoints(llm_urls=urls, tools_url=tools_at, embedded=embedded)


def local_servers(
    backend: str, *, model: str | None, replicas: int, port: int, host: str, slots: int,
    gpus: str | None, gpu_memory: float, startup_timeout: float, extra_args: Sequence[str],
    progress: Callable[[str], None] = _say, lora: str | os.PathLike[str] | None = None,
) -> list[LocalServer]:
    """The servers ``serve-llm`` starts together: vLLM replicas or embedded llama.cpp ones.

    ``lora`` is a ``finetune`` output directory, served as it is: on llama.cpp its LoRA
    adapter over the base GGUF (``--lora``), or its merged GGUF model; on vLLM its merged
    model directory.
    """
    if replicas < 1:
        raise ConfigError(f"--replicas must be at least 1, got {replicas}")
    alias = None
    if lora is not None:
        model, extra_args = _fine_tuned(backend, lora, model, extra_args)
        alias = os.path.basename(os.path.abspath(lora))  # runs record the fine-tuned name
    if backend == "vllm":
        from .llm.vllm import replicas as vllm_replicas

        devices = [g.strip() for g in gpus.split(",") if g.strip()] if gpus else None
        return list(vllm_replicas(
            model or "", replicas, port=port, gpus=devices, gpu_memory=gpu_memory, host=host,
            max_num_seqs=slots or None, extra_args=list(extra_args), progress=progress,
            startup_timeout=startup_timeout or None))
    from .llm.embedded import EmbeddedServer

    threads = max(1, (os.cpu_count() or 1) // replicas)
    return [
        EmbeddedServer(model, slots=slots or None, host=host, alias=alias,
                       port=port + i if port else 0, threads=threads,
                       extra_args=list(extra_args), progress=progress,
                       startup_timeout=startup_timeout or None)
        for i in range(replicas)
    ]


def _fine_tuned(backend: str, out: str | os.PathLike[str], model: str | None,
                extra_args: Sequence[str]) -> tuple[str, list[str]]:
    """The model and server arguments that serve the fine-tuning output ``out``."""
    from .finetune.card import serve_target

    if model:
        raise ConfigError("--lora DIR names its own model (its base or merged model); "
                          "leave out --model")
    target = serve_target(os.fspath(out))
    if backend == "vllm":
        return str(target.hf), list(extra_args)
    if target.model is None:
        raise ConfigError(f"{out} has no GGUF (its base was not a GGUF file); serve its "
                          f"merged model with --backend vllm")
    lora = ["--lora", str(target.lora)] if target.lora is not None else []
    return str(target.model), [*lora, *extra_args]
