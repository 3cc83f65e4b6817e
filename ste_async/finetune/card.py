"""The settings of a fine-tuning run, its run card (``DIR/finetune.json``), and how its output
directory is served. Nothing here needs torch, so ``serve-llm --lora DIR`` works without the
``[train]`` extra.

Defaults are for a small model trained with LoRA on a few CPU cores; :data:`STUDY` holds the
study's values (2 epochs, learning rate 2e-5, warmup 0.03, 16 sequences a step, seed 42),
which it used for full fine-tuning of a 7B model. LoRA trains a few million parameters from
a zero update and needs a far higher learning rate to move as far in the same steps: the
packaged 135M model answered 30 unseen test queries with a well-formed call every time after
30 steps at 1e-3 (72 examples of 6 APIs), and 12 in chat prose after 12 steps at 2e-4 (24
examples of 4 APIs). A 135M model on 2 cores fits a batch of 8 short conversations per step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import msgspec

from ..errors import ConfigError

__all__ = (
    "CARD",
    "DEFAULTS",
    "STUDY",
    "FinetuneSettings",
    "ServeTarget",
    "read_card",
    "serve_target",
)

CARD = "finetune.json"


class FinetuneSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything that decides what a fine-tuning run learns (and so must match on resume)."""

    layout: Literal["study", "prompted"] = "study"
    api_names: Literal["text", "toolkens"] = "toolkens"
    epochs: float = 2.0
    max_steps: int = -1  # > 0: stop after this many optimiser steps
    learning_rate: float = 1e-3
    warmup_ratio: float = 0.03
    batch_size: int = 8  # sequences per optimiser step (per device x accumulation)
    grad_accum: int = 1
    max_length: int = 512  # tokens per sequence, prompt and response
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    seed: int = 42
    save_steps: int = 50
    merge: bool = False  # write a merged GGUF even when an adapter would do

    def __post_init__(self) -> None:
        checks = [
            (self.epochs > 0, "--epochs must be > 0"),
            (self.max_steps == -1 or self.max_steps > 0, "--max-steps must be > 0"),
            (self.learning_rate > 0, "--lr must be > 0"),
            (0 <= self.warmup_ratio < 1, "--warmup must be in [0, 1)"),
            (self.batch_size > 0 and self.grad_accum > 0, "--batch-size must be > 0"),
            (self.batch_size % self.grad_accum == 0,
             "--batch-size must be a multiple of --grad-accum"),
            (self.max_length >= 32, "--max-length must be at least 32 tokens"),
            (self.rank > 0 and self.alpha > 0, "--rank and --alpha must be > 0"),
            (0 <= self.dropout < 1, "--dropout must be in [0, 1)"),
            (self.save_steps > 0, "--save-steps must be > 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


DEFAULTS = FinetuneSettings()
STUDY = FinetuneSettings(epochs=2.0, learning_rate=2e-5, warmup_ratio=0.03, batch_size=16,
                         seed=42)


def read_card(out: str | Path) -> dict[str, Any]:
    """The run card of a fine-tuning output directory."""
    path = Path(out) / CARD
    try:
        card = msgspec.json.decode(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{out} is not a fine-tuning output directory (no {CARD}); make one "
                          f"with `ste-async finetune DATA --out {out}`") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path} is not a run card: {exc}") from None
    if not isinstance(card, dict):
        raise ConfigError(f"{path} is not a run card")
    return card


class ServeTarget(msgspec.Struct, frozen=True, kw_only=True):
    """What serves a fine-tuned directory: a GGUF model, maybe with a LoRA adapter over it,
    and the HF directory for vLLM."""

    model: Path | None  # None: the base was no GGUF, so only the HF directory serves
    lora: Path | None
    hf: Path


def serve_target(out: str | Path) -> ServeTarget:
    """How ``serve-llm --lora OUT`` serves ``OUT``: the adapter over its base GGUF, or the
    merged GGUF model; an unfinished run is an error."""
    out = Path(out)
    card = read_card(out)
    gguf = card.get("outputs", {}).get("gguf")
    hf = out / str(card.get("outputs", {}).get("hf", "merged"))
    if card.get("status") != "done":
        raise ConfigError(f"the fine-tuning in {out} has not finished (status "
                          f"{card.get('status')!r}); continue it with `ste-async finetune "
                          f"... --out {out} --resume`")
    if not isinstance(gguf, dict):
        return ServeTarget(model=None, lora=None, hf=hf)
    if gguf.get("kind") == "lora":
        base, lora = Path(gguf["base"]), out / gguf["adapter"]
        if not base.is_file():
            raise ConfigError(f"the adapter in {out} goes over {base}, which no longer exists")
        return ServeTarget(model=base, lora=lora, hf=hf)
    return ServeTarget(model=out / gguf["model"], lora=None, hf=hf)
