"""Where a command's LLM requests go: given servers, the scripted LLM, or the embedded model."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..errors import ConfigError

__all__ = ("llm_endpoints",)


@contextlib.asynccontextmanager
async def llm_endpoints(urls: Sequence[str], mock: Any | None = None, *,
                        embedded: bool = False) -> AsyncIterator[list[str]]:
    """The base URLs to use, with whatever server they need running for the block.

    ``mock`` (a MockLlmConfig) serves the scripted LLM in-process; otherwise ``urls`` are used
    as given; with neither, ``embedded=True`` starts the embedded model and anything else is
    one clear line saying how to name a server.
    """
    if mock is not None:
        from tool_mocks.llm import serve_mock_llm

        async with serve_mock_llm(mock) as url:
            yield [url]
    elif urls:
        yield list(urls)
    elif embedded:
        from .embedded import EmbeddedServer

        async with EmbeddedServer(progress=lambda line: print(line, file=sys.stderr)) as server:
            yield [server.url]
    else:
        raise ConfigError("no LLM given: pass --llm-url URL for an OpenAI-compatible server "
                          "(e.g. vLLM), or --llm mock for the scripted test LLM")
