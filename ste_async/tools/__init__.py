"""Talking to tool servers."""

from .client import UNAVAILABLE_OBSERVATION, ToolClient, ToolOutcome, render_observation

__all__ = ("UNAVAILABLE_OBSERVATION", "ToolClient", "ToolOutcome", "render_observation")
