"""Talking to OpenAI-compatible LLM servers."""

from .client import Completion, LlmClient, Message

__all__ = ("Completion", "LlmClient", "Message")
