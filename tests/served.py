"""The engine's commands run as the command line runs them: the edge (``ste_async.services``)
starts the servers, the engine is given their URLs. Tests call these instead of wiring
servers by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ste_async.config import ExploreConfig
from ste_async.distill.runner import DistillConfig, DistillReport, distill
from ste_async.evaluate.infer import InferConfig, InferMeta, infer
from ste_async.explore.runner import RunOutcome, explore
from ste_async.services import LlmChoice, llm_servers, open_services
from tool_mocks.config import ToolServerConfig
from tool_mocks.llm import MockLlmConfig

__all__ = ("distill_with", "explore_with", "infer_with")


def _choice(urls: tuple[str, ...], mock: MockLlmConfig | None) -> LlmChoice:
    # the scripted LLM unless the config names servers (or the test passes its own mock)
    return LlmChoice(urls=() if mock is not None else urls,
                     mock=mock if mock is not None or urls else MockLlmConfig())


async def explore_with(config: ExploreConfig, run_dir: str | Path, *,
                       mock: MockLlmConfig | None = None, tools: ToolServerConfig | None = None,
                       **options: Any) -> RunOutcome:
    """:func:`explore` against the scripted LLM (or the config's servers) and the in-process
    tool server (or the config's ``tools_url``)."""
    async with open_services(_choice(config.llm.urls, mock), tools_url=config.tools_url,
                             tools=tools, catalog=config.catalog, seed=config.seed) as endpoints:
        return await explore(config, run_dir, endpoints, **options)


async def distill_with(run_dir: str | Path, config: DistillConfig, *,
                       mock: MockLlmConfig | None = None, **options: Any) -> DistillReport:
    """:func:`distill` against the scripted LLM (or the config's servers)."""
    async with llm_servers(_choice(config.llm.urls, mock)) as (urls, _):
        return await distill(run_dir, config, urls, **options)


async def infer_with(config: InferConfig, out: str | Path, *,
                     mock: MockLlmConfig | None = None, **options: Any) -> InferMeta:
    """:func:`infer` against the scripted LLM (or the config's servers)."""
    async with llm_servers(_choice(config.llm.urls, mock)) as (urls, _):
        return await infer(config, out, urls, **options)
