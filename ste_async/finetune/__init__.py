"""Fine-tuning on distilled data (``ste-async finetune``) and serving the result.

The light parts (training rows, settings, run card, what serves an output directory) import
without torch; :func:`finetune` loads torch, transformers, PEFT and TRL when called (the
``[train]`` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .card import DEFAULTS, STUDY, FinetuneSettings, ServeTarget, read_card, serve_target
from .data import TOOL_SYSTEM, LoadedData, from_toolken, load_rows, study_messages, toolken

if TYPE_CHECKING:
    from .train import FinetuneResult

__all__ = (
    "DEFAULTS",
    "STUDY",
    "TOOL_SYSTEM",
    "FinetuneSettings",
    "LoadedData",
    "ServeTarget",
    "finetune",
    "from_toolken",
    "load_rows",
    "read_card",
    "serve_target",
    "study_messages",
    "toolken",
)


def finetune(data: LoadedData, out: str | Path, settings: FinetuneSettings,
             **options: Any) -> FinetuneResult:
    """Fine-tune with LoRA (see :mod:`ste_async.finetune.train`); needs the ``[train]`` extra."""
    from .train import finetune as run

    return run(data, out, settings, **options)
