"""Offline stand-ins for the real world: the 50 STE APIs and a scripted OpenAI-compatible LLM."""

from .config import ToolServerConfig
from .llm import MockLlmConfig, serve_mock_llm
from .server import make_app, serve_tools

__all__ = ("MockLlmConfig", "ToolServerConfig", "make_app", "serve_mock_llm", "serve_tools")
