"""Shared fixtures: in-process servers on port 0 and paths to the study's reference data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ste"


@pytest.fixture
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"the study's reference data is not at {REFERENCE}")
    return REFERENCE


@pytest.fixture
async def tools_url() -> AsyncIterator[str]:
    from tool_mocks.config import ToolServerConfig
    from tool_mocks.server import serve_tools

    async with serve_tools(ToolServerConfig(port=0)) as url:
        yield url


@pytest.fixture
async def llm_url() -> AsyncIterator[str]:
    from tool_mocks.llm import MockLlmConfig, serve_mock_llm

    async with serve_mock_llm(MockLlmConfig(port=0)) as url:
        yield url
