"""Checking LLM servers before a run: reachable, OpenAI-compatible, serving the model."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from ..errors import ConfigError

__all__ = ("resolve_model",)


async def resolve_model(urls: Sequence[str], model: str, connect_s: float) -> str:
    """The model name to ask for, checked against every server's ``GET /v1/models``.

    ``model="default"`` takes the first model the servers list. A server that cannot be
    reached, or a model it does not serve, is one clear line (a ConfigError).
    """
    offered: list[str] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=connect_s)) as session:
        for url in urls:
            try:
                async with session.get(url.rstrip("/") + "/v1/models") as resp:
                    resp.raise_for_status()
                    data = await resp.json(content_type=None)
            except aiohttp.ClientResponseError as exc:
                raise ConfigError(
                    f"LLM server {url} answered HTTP {exc.status} to GET /v1/models; is it an "
                    "OpenAI-compatible server?"
                ) from None
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                raise ConfigError(
                    f"LLM server {url} is unreachable ({type(exc).__name__}); start one "
                    "(for example `vllm serve MODEL --enable-prefix-caching`, or "
                    "`ste-async serve-llm`) or run with --llm mock"
                ) from None
            if isinstance(data, dict):
                offered += [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]
    if model == "default":
        return offered[0] if offered else model
    if offered and model not in offered:
        raise ConfigError(
            f"model {model!r} is not served at {', '.join(urls)}; it offers: {', '.join(offered)}"
        )
    return model
