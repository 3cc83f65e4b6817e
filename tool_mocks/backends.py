"""Where answers come from: a simulator, a real upstream, or an LLM that writes them.

Every backend answers ``(spec, args, ctx) -> Reply`` and says whether the answer is
deterministic. Deterministic answers are cached lazily; the others are stored durably and read
back, so the first answer recorded for a call is the one served forever after.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import aiohttp
import orjson

from ste_async.catalog import ApiSpec

from .config import LlmBackendConfig, UpstreamConfig
from .simulators import REGISTRY
from .simulators._base import Reply, SimContext
from .validation import validate

__all__ = (
    "API_WRITER_MARKER",
    "REDACTED",
    "Backend",
    "LlmBackend",
    "ProxyBackend",
    "SimulatorBackend",
    "UpstreamFault",
    "redact",
)


class UpstreamFault(Exception):
    """The upstream could not be reached or answered garbage: a 502, never cached."""


class Backend(Protocol):
    deterministic: bool
    kind: str  # what answers: "simulator", "upstream" or "llm" (GET /apis shows it)

    def handles(self, spec: ApiSpec) -> bool: ...

    async def answer(self, spec: ApiSpec, args: Any, ctx: SimContext) -> Reply: ...

    async def aclose(self) -> None: ...


class SimulatorBackend:
    """The built-in simulators: validation first, then the API's own function."""

    deterministic = True
    kind = "simulator"

    def handles(self, spec: ApiSpec) -> bool:
        return spec.name in REGISTRY

    async def answer(self, spec: ApiSpec, args: Any, ctx: SimContext) -> Reply:
        clean = validate(spec, args)
        if isinstance(clean, Reply):
            return clean
        return REGISTRY[spec.name](clean, ctx)

    async def aclose(self) -> None:
        return None


class _RemoteBackend:
    """A backend that answers any API through HTTP, after the generic validation."""

    deterministic = False

    def __init__(self, timeout_s: float):
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    def handles(self, spec: ApiSpec) -> bool:
        return True

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self._timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def answer(self, spec: ApiSpec, args: Any, ctx: SimContext) -> Reply:
        clean = validate(spec, args)
        if isinstance(clean, Reply):
            return clean
        return await self.forward(spec, clean, ctx)

    async def forward(self, spec: ApiSpec, clean: dict[str, Any], ctx: SimContext) -> Reply:
        raise NotImplementedError

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


REDACTED = b"[redacted]"


def redact(raw: bytes, secret: str) -> bytes:
    """``raw`` with every copy of ``secret`` (as sent, and as a JSON string escapes it)
    replaced: an upstream that echoes the request (an error page listing its headers, a debug
    field) must not carry the key into the cache, the episodes or the cassettes."""
    if not secret:
        return raw
    for form in {secret.encode(), orjson.dumps(secret)[1:-1]}:
        raw = raw.replace(form, REDACTED)
    return raw


class ProxyBackend(_RemoteBackend):
    """Forwards to a ToolBench-style upstream (``POST {category, tool_name, api_name, ...}``).

    The key comes only from the environment variable named in the config; it is sent in a
    header and in the payload field the ToolBench server expects, and never logged or stored.
    """

    kind = "upstream"

    def __init__(self, config: UpstreamConfig):
        super().__init__(config.timeout_s)
        self._config = config

    async def forward(self, spec: ApiSpec, clean: dict[str, Any], ctx: SimContext) -> Reply:
        key = os.environ.get(self._config.key_env, "")
        payload = {
            "category": spec.category,
            "tool_name": spec.tool,
            "api_name": spec.api,
            "tool_input": orjson.dumps(clean).decode(),
            "strip": "filter",
            "toolbench_key": key,
        }
        try:
            async with self.session().post(
                self._config.url, json=payload, headers={"toolbench_key": key}
            ) as resp:
                raw = redact(await resp.read(), key)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamFault(f"upstream unreachable: {type(exc).__name__}") from None
        if status == 429 or status >= 500:
            raise UpstreamFault(f"upstream answered HTTP {status}")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return Reply(status, {"response": raw[:4096].decode("utf-8", "replace")})
        if isinstance(data, dict) and "response" in data:
            error = data.get("error") or ""
            body = data["response"]
            if isinstance(body, str):
                try:
                    body = orjson.loads(body)
                except orjson.JSONDecodeError:
                    pass
            return Reply(400 if error else 200, {"error": error, "response": body} if error else body)
        return Reply(status, data)


API_WRITER_MARKER = "You stand in for a web API"
_LLM_INSTRUCTIONS = (
    f"{API_WRITER_MARKER} that cannot be reached. Given its documentation and one call, "
    "reply with the JSON body the real API would most plausibly return for that call: realistic "
    "field names and values, consistent with the arguments. Reply with JSON only, no prose."
)


class LlmBackend(_RemoteBackend):
    """Asks an OpenAI-compatible model to write the answer of an API with no simulator.

    ``model = "default"`` asks for the first model the server lists (an OpenAI-compatible
    server answers 404 for a model it does not serve, as vLLM does for "default").
    """

    kind = "llm"

    def __init__(self, config: LlmBackendConfig):
        super().__init__(config.timeout_s)
        self._config = config
        self._model = None if config.model == "default" else config.model

    async def _served_model(self, base: str) -> str:
        if self._model is None:
            try:
                async with self.session().get(base + "/v1/models") as resp:
                    data = orjson.loads(await resp.read()) if resp.status == 200 else None
            except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
                raise UpstreamFault(f"LLM backend {base} failed: {type(exc).__name__}") from None
            models = data.get("data") if isinstance(data, dict) else None
            first = models[0] if isinstance(models, list) and models else None
            if not isinstance(first, dict) or not isinstance(first.get("id"), str):
                raise UpstreamFault(f"LLM backend {base} lists no model at GET /v1/models")
            self._model = first["id"]
        return self._model

    async def forward(self, spec: ApiSpec, clean: dict[str, Any], ctx: SimContext) -> Reply:
        prompt = (
            f"API: {spec.name}\nDocumentation: {spec.prompt_description()}\n"
            f"Call arguments: {ctx.canonical_args}\nJSON body:"
        )
        base = self._config.url.rstrip("/")
        payload = {
            "model": await self._served_model(base),
            "messages": [
                {"role": "system", "content": _LLM_INSTRUCTIONS},
                {"role": "user", "content": prompt},
            ],
            "temperature": self._config.temperature,
            "max_tokens": self._config.max_tokens,
            "seed": ctx.seed,
        }
        url = base + "/v1/chat/completions"
        try:
            async with self.session().post(url, json=payload) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise UpstreamFault(
                        f"LLM backend {base} answered HTTP {resp.status}: {_error_text(raw)}")
                data = orjson.loads(raw)
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            raise UpstreamFault(f"LLM backend {base} failed: {type(exc).__name__}") from None
        try:
            text = str(data["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError):
            raise UpstreamFault("LLM backend reply has no message content") from None
        return Reply(200, _json_from_text(text))


def _error_text(raw: bytes) -> str:
    """The message of an OpenAI-style error body, or the body's start."""
    try:
        data = orjson.loads(raw)
        message = data["error"]["message"]
        if isinstance(message, str):
            return message[:300]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        pass
    return raw[:300].decode("utf-8", "replace")


def _json_from_text(text: str) -> Any:
    """The JSON value in a model's reply (fenced or bare), or the text itself."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start >= 0:
        end = max(text.rfind("}"), text.rfind("]"))
        if end > start:
            try:
                return orjson.loads(text[start : end + 1])
            except orjson.JSONDecodeError:
                pass
    return {"result": text}
