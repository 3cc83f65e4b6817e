"""Exploration: episodes, per-API memory, the scheduler and the run wiring."""

from .episode import run_episode
from .memory import MemoryEntry, MemoryShard
from .metrics import Metrics
from .runner import RunOutcome, explore
from .scheduler import Explorer

__all__ = ("Explorer", "MemoryEntry", "MemoryShard", "Metrics", "RunOutcome", "explore",
           "run_episode")
