"""The outputs of a finished fine-tuning: PEFT adapter, merged model, and the GGUF that serves.

Which GGUF: a LoRA adapter over the base when the vocabulary is the base's (small, and the
base stays quantised); the merged model when toolkens grew the vocabulary, which an adapter
cannot carry, or when ``merge`` asks for it. A base that is no GGUF file gets no GGUF output;
its ``merged/`` directory serves on vLLM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .card import FinetuneSettings

__all__ = ("write_outputs",)


def _lora_factors(model: Any) -> Iterator[tuple[str, Any, Any]]:
    """(HF module name, A, B) of every LoRA layer, as float32 numpy arrays."""
    from peft.tuners.lora import LoraLayer

    for name, module in model.named_modules():
        if isinstance(module, LoraLayer) and "default" in module.lora_A:
            hf_name = name.removeprefix("base_model.model.")
            a = module.lora_A["default"].weight.detach().float().cpu().numpy()
            b = module.lora_B["default"].weight.detach().float().cpu().numpy()
            yield hf_name, a, b


def write_outputs(model: Any, tokenizer: Any, out: Path, base: Path,
                  settings: FinetuneSettings, *, grew_vocab: bool,
                  progress: Callable[[str], None]) -> dict[str, Any]:
    """Write ``adapter/``, ``merged/`` and ``adapter.gguf`` or ``model.gguf`` into ``out``;
    returns the card's ``outputs`` entry."""
    import torch

    from .gguf_out import BaseGguf, write_lora_adapter, write_merged_model

    outputs: dict[str, Any] = {"adapter": "adapter", "hf": "merged", "gguf": None}
    model.save_pretrained(out / "adapter")
    tokenizer.save_pretrained(out / "adapter")
    gguf_base = BaseGguf(base) if base.is_file() else None
    if gguf_base is not None and not grew_vocab and not settings.merge:
        count = write_lora_adapter(out / "adapter.gguf", gguf_base, _lora_factors(model),
                                   settings.alpha)
        outputs["gguf"] = {"kind": "lora", "adapter": "adapter.gguf",
                           "base": str(base.resolve()), "matrices": count}
        progress(f"wrote {out / 'adapter.gguf'}: LoRA on {count} matrices over {base.name}")
    merged = model.merge_and_unload()
    if gguf_base is not None and outputs["gguf"] is None:
        tied = bool(getattr(merged.config, "tie_word_embeddings", False))
        tensors = {name: t.detach().float().cpu().numpy()
                   for name, t in merged.state_dict().items()
                   if not (tied and name == "lm_head.weight")}
        added = tokenizer.convert_ids_to_tokens(list(range(gguf_base.vocab_size,
                                                           len(tokenizer))))
        vocab = write_merged_model(out / "model.gguf", gguf_base, tensors, list(added))
        outputs["gguf"] = {"kind": "model", "model": "model.gguf", "vocab": vocab}
        progress(f"wrote {out / 'model.gguf'}: the merged model, {vocab:,} tokens "
                 f"({len(added)} added)")
    merged.to(torch.bfloat16).save_pretrained(out / "merged")
    tokenizer.save_pretrained(out / "merged")
    return outputs
