"""Talking to OpenAI-compatible LLM servers."""

from .client import Completion, LlmClient, Message, encode_chat_request

__all__ = ("Completion", "LlmClient", "Message", "encode_chat_request")
