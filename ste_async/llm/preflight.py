"""Checking LLM servers before a run: reachable, OpenAI-compatible, serving the model."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from ..errors import ConfigError

__all__ = ("context_window", "estimate_longest_prompt", "resolve_model")


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


async def context_window(urls: Sequence[str], model: str, connect_s: float) -> int | None:
    """The smallest context, in tokens, that the servers report for ``model``; None if none
    reports one (vLLM lists ``max_model_len`` in /v1/models; llama.cpp's server gives each
    slot's ``n_ctx`` in /props)."""
    found: list[int] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=connect_s)) as session:
        for url in urls:
            base = url.rstrip("/")
            try:
                async with session.get(base + "/v1/models") as resp:
                    data = await resp.json(content_type=None) if resp.status == 200 else {}
                for m in data.get("data", []) if isinstance(data, dict) else []:
                    if isinstance(m, dict) and m.get("id") == model and m.get("max_model_len"):
                        found.append(int(m["max_model_len"]))
                async with session.get(base + "/props") as resp:
                    props = await resp.json(content_type=None) if resp.status == 200 else {}
                n_ctx = (props.get("default_generation_settings") or {}).get("n_ctx")
                if n_ctx:
                    found.append(int(n_ctx))
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError, AttributeError):
                continue
    return min(found) if found else None


def estimate_longest_prompt(*, description_chars: int, episodes: int, trials: int,
                            max_turn: int, max_tokens: int, observation_chars: int,
                            ltm: bool = True) -> int:
    """A generous estimate, in tokens (4 characters each), of the longest prompt an episode
    can send: the last reflection of the last trial, with the whole conversation before it."""
    instructions = 2_500  # the imagination and act prompts' own text, in characters
    memory = 120 * episodes * trials if ltm else 0  # a line per earlier query
    per_trial = (instructions + max_tokens * 4  # imagine
                 + (max_turn + 1) * (max_tokens * 4 + observation_chars + 40)  # act rounds
                 + 200 + max_tokens * 4)  # reflection
    return (description_chars + memory + trials * per_trial) // 4
