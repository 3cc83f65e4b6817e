"""The LLM client: typed replies, retries honouring Retry-After, routing and affinity."""

from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from ste_async.config import RetryConfig, Timeouts
from ste_async.errors import (
    ConnectError,
    RateLimitedError,
    RequestRejectedError,
    RetryBudgetExceeded,
    ServerError,
)
from ste_async.llm import LlmClient
from ste_async.retry import backoff_delay, parse_retry_after, should_retry
from tool_mocks._serve import serve_app
from tool_mocks.llm import MockLlmConfig, serve_mock_llm

FAST = RetryConfig(attempts=6, base=0.001, cap=0.01, max_elapsed=10)
TIMEOUTS = Timeouts(connect=1, read=2, total=3)
MESSAGES = [{"role": "user", "content": "Answer.\n\nUser Query:"}]


def client(urls: list[str], **kw: Any) -> LlmClient:
    return LlmClient(urls, "ste-mock", concurrency=kw.pop("concurrency", 8), timeouts=TIMEOUTS,
                     retry=kw.pop("retry", FAST), **kw)


@pytest.mark.parametrize(
    ("attempt", "elapsed", "error", "expected"),
    [
        (1, 0.0, ServerError("x", status=503), True),
        (1, 0.0, RateLimitedError("x"), True),
        (1, 0.0, ConnectError("x"), True),
        (5, 0.0, ServerError("x", status=500), True),
        (6, 0.0, ServerError("x", status=500), False),  # attempts spent
        (1, 11.0, ConnectError("x"), False),  # out of time
        (1, 0.0, RequestRejectedError("x", status=400), False),  # retrying cannot help
        (1, 0.0, ValueError("x"), False),
    ],
)
def test_should_retry_table(attempt: int, elapsed: float, error: BaseException,
                            expected: bool) -> None:
    assert should_retry(FAST, attempt, elapsed, error) is expected


def test_backoff_is_jittered_exponential_and_honours_retry_after() -> None:
    policy = RetryConfig(base=1.0, cap=8.0)
    rng = random.Random(0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [backoff_delay(policy, attempt, None, rng) for _ in range(200)]
        assert 0 <= min(delays) and max(delays) <= ceiling
        assert max(delays) > ceiling / 2  # full jitter spreads over the range
    assert backoff_delay(policy, 1, 5.0, rng) >= 5.0
    assert backoff_delay(policy, 1, 100.0, rng) == 8.0  # never beyond the cap
    assert parse_retry_after("1.5") == 1.5 and parse_retry_after("soon") is None


class Flaky:
    """A chat server that fails in scripted ways before it answers."""

    def __init__(self, script: list[int]):
        self.script = list(script)
        self.seen = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.seen += 1
        await request.read()
        if self.script:
            status = self.script.pop(0)
            headers = {"Retry-After": "0.01"} if status == 429 else None
            return web.Response(status=status, text="nope", headers=headers)
        return web.json_response({
            "choices": [{"message": {"content": "  ok  "}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        })


async def flaky_server(script: list[int]) -> tuple[Flaky, Any]:
    flaky = Flaky(script)
    app = web.Application()
    app.router.add_post("/v1/chat/completions", flaky.handle)
    return flaky, serve_app(app, "127.0.0.1", 0)


async def test_transient_faults_are_retried_and_counted() -> None:
    flaky, serving = await flaky_server([429, 503, 500])
    async with serving as url, client([url]) as llm:
        c = await llm.complete(MESSAGES, stop="x", seed=1, temperature=1.0, max_tokens=5)
    assert c.text == "ok" and c.attempts == 4 and flaky.seen == 4
    assert llm.retries == {"RateLimitedError": 1, "ServerError": 2}
    assert c.prompt_tokens == 3 and llm.completion_tokens == 1


async def test_a_4xx_is_not_retried() -> None:
    flaky, serving = await flaky_server([400])
    async with serving as url, client([url]) as llm:
        with pytest.raises(RequestRejectedError, match="400"):
            await llm.complete(MESSAGES, stop=None, seed=1, temperature=1.0, max_tokens=5)
    assert flaky.seen == 1


async def test_retry_budget_is_finite() -> None:
    _flaky, serving = await flaky_server([503] * 20)
    async with serving as url, client([url]) as llm:
        with pytest.raises(RetryBudgetExceeded, match="6 attempts"):
            await llm.complete(MESSAGES, stop=None, seed=1, temperature=1.0, max_tokens=5)


@pytest.fixture
async def two_llms() -> AsyncIterator[list[str]]:
    async with serve_mock_llm(MockLlmConfig(latency_ms=5)) as a, \
            serve_mock_llm(MockLlmConfig(latency_ms=5)) as b:
        yield [a, b]


async def test_load_spreads_and_affinity_sticks(two_llms: list[str]) -> None:
    import anyio

    async with client(two_llms, concurrency=64) as llm:
        chosen: dict[str, set[str]] = {}

        async def episode(k: int) -> None:
            for _ in range(4):
                c = await llm.complete(MESSAGES, stop=None, seed=k, temperature=1.0,
                                       max_tokens=5, affinity=f"ep{k}")
                chosen.setdefault(f"ep{k}", set()).add(c.endpoint)

        async with anyio.create_task_group() as tg:
            for k in range(32):
                tg.start_soon(episode, k)
    assert all(len(eps) == 1 for eps in chosen.values())  # one episode, one server
    per = llm.calls_per_endpoint()
    assert sum(per.values()) == 128 and min(per.values()) >= 32  # both servers used


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_a_dead_endpoint_is_taken_out(two_llms: list[str]) -> None:
    dead = _dead_url()
    async with client([dead, two_llms[0]]) as llm:
        for k in range(10):
            c = await llm.complete(MESSAGES, stop=None, seed=k, temperature=1.0, max_tokens=5,
                                   affinity=f"ep{k}")
            assert c.endpoint.startswith(two_llms[0])
    per = llm.calls_per_endpoint()
    assert per[f"{dead}/v1/chat/completions"] == 0
    assert llm.retries["ConnectError"] <= LlmClient.FAILURES_TO_DOWN


async def test_preflight_warns_when_the_protocol_outgrows_the_context(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from served import explore_with

    from ste_async.config import ExploreConfig
    from ste_async.llm.preflight import estimate_longest_prompt

    small = estimate_longest_prompt(description_chars=500, episodes=1, trials=1, max_turn=1,
                                    max_tokens=50, observation_chars=100)
    large = estimate_longest_prompt(description_chars=500, episodes=15, trials=4, max_turn=4,
                                    max_tokens=360, observation_chars=2048)
    assert 0 < small < large
    config = ExploreConfig(apis=("add_date",), episodes=1, trials=1)
    await explore_with(config, tmp_path / "a", mock=MockLlmConfig(context_window=2_000),
                       handle_signals=False)
    assert "warning: the server's context holds 2,000 tokens" in capsys.readouterr().err
    await explore_with(config, tmp_path / "b", mock=MockLlmConfig(), handle_signals=False)
    assert "warning" not in capsys.readouterr().err
