"""Fine-tuned weights as GGUF files that llama.cpp's server loads.

Two outputs, both written with the ``gguf`` library's :class:`gguf.GGUFWriter` and named by
its tensor-name map for the base model's architecture:

* a LoRA adapter (``llama-server --model BASE --lora FILE``): the metadata llama.cpp checks
  (``general.type = adapter``, ``general.architecture`` equal to the base's, ``adapter.type
  = lora``, ``adapter.lora.alpha``) and, for every adapted matrix ``W`` (GGUF name ``N``),
  ``N.lora_a`` holding PEFT's ``lora_A`` (rank x in) and ``N.lora_b`` its ``lora_B`` (out x
  rank), so that llama.cpp adds ``alpha / rank * B @ A`` to ``W`` as PEFT does;
* a merged model: every tensor of the fine-tuned model (F16 matrices, F32 vectors) under the
  base GGUF's metadata, copied key by key, with the tokenizer's added tokens appended to the
  vocabulary (the only way new tokens reach llama.cpp: an adapter cannot grow the vocabulary).

llama.cpp keeps the query and key projections of llama-style models with the rows of each
head in the interleaved order of its rotary embedding, while transformers keeps them in
halves (its GGUF loader undoes the interleaving); :func:`rotary_rows` redoes it, for the
merged matrices and for the ``lora_b`` factors alike (``P @ B @ A`` adapts ``P @ W``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import gguf
import numpy as np

from ..errors import ConfigError

__all__ = (
    "BaseGguf",
    "dequantized",
    "rotary_rows",
    "write_lora_adapter",
    "write_merged_model",
)

# architectures whose HF -> GGUF layout is known here (the tensor map plus the rotary rows)
_SUPPORTED = ("llama",)
_ROTARY = {"q_proj": "head_count", "k_proj": "head_count_kv"}


class BaseGguf:
    """What the writers need from the base model's GGUF file."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        try:
            self.reader = gguf.GGUFReader(self.path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the base GGUF {self.path}: {exc}") from None
        self.arch = str(self._value("general.architecture"))
        if self.arch not in _SUPPORTED:
            raise ConfigError(f"writing GGUF for architecture {self.arch!r} is not supported "
                              f"(supported: {', '.join(_SUPPORTED)}); the HF outputs are kept")
        self.blocks = int(self._value(f"{self.arch}.block_count"))
        self.heads = {key: int(self._value(f"{self.arch}.attention.{key}"))
                      for key in ("head_count", "head_count_kv")}
        self.vocab_size = len(self.reader.fields["tokenizer.ggml.tokens"].data)
        model_arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == self.arch)
        self.names = gguf.get_tensor_name_map(model_arch, self.blocks)

    def _value(self, key: str) -> Any:
        field = self.reader.fields.get(key)
        if field is None:
            raise ConfigError(f"the base GGUF {self.path} has no {key!r}")
        return field.contents()

    def gguf_name(self, hf_name: str) -> str:
        """The GGUF tensor name of a transformers parameter (``model.layers.0...weight``)."""
        name = self.names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ConfigError(f"no GGUF name for tensor {hf_name!r} of a {self.arch} model")
        return str(name)

    def to_gguf_rows(self, hf_name: str, rows: np.ndarray) -> np.ndarray:
        """``rows`` (a matrix whose rows are the output features of ``hf_name``) in llama.cpp's
        row order: the rotary interleaving for the query and key projections."""
        for proj, key in _ROTARY.items():
            if f".{proj}." in hf_name or hf_name.endswith(f".{proj}"):
                return rotary_rows(rows, self.heads[key])
        return rows


def rotary_rows(w: np.ndarray, heads: int) -> np.ndarray:
    """Rows of each head reordered from halves (``[x0..x31, y0..y31]``) to pairs (``x0 y0
    x1 y1 ...``), the layout llama.cpp's rotary embedding reads."""
    out = w.shape[0]
    if out % (2 * heads):
        raise ConfigError(f"{out} rows do not split into {heads} heads of rotary pairs")
    return w.reshape(heads, 2, out // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def dequantized(reader: gguf.GGUFReader, name: str) -> np.ndarray:
    """A tensor of a GGUF file as float32, in numpy's row-major shape (out x in)."""
    for t in reader.tensors:
        if t.name == name:
            data = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32)
            shape = tuple(int(n) for n in reversed(t.shape.tolist()))
            tensor: np.ndarray = data.reshape(shape)
            return tensor
    raise KeyError(name)


def _write(writer: gguf.GGUFWriter, path: Path) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _temp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.part")


def write_lora_adapter(path: str | os.PathLike[str], base: BaseGguf,
                       factors: Iterable[tuple[str, np.ndarray, np.ndarray]],
                       alpha: float) -> int:
    """Write a llama.cpp LoRA adapter; ``factors`` are (HF module name, A, B) with A of shape
    rank x in and B out x rank, as PEFT keeps them. Returns the number of adapted matrices."""
    path = Path(path)
    tmp = _temp(path)
    writer = gguf.GGUFWriter(tmp, base.arch)
    writer.add_string(gguf.Keys.General.TYPE, "adapter")
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    count = 0
    for module, a, b in factors:
        name = base.gguf_name(f"{module}.weight")
        writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(a, dtype=np.float32))
        writer.add_tensor(f"{name}.lora_b",
                          np.ascontiguousarray(base.to_gguf_rows(module, b), dtype=np.float32))
        count += 1
    if not count:
        raise ConfigError("the adapter has no LoRA matrix to write")
    try:
        _write(writer, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return count


_WRITER_KEYS = ("GGUF.", "general.architecture")  # the writer adds these itself


def write_merged_model(path: str | os.PathLike[str], base: BaseGguf,
                       tensors: Mapping[str, np.ndarray], added_tokens: list[str]) -> int:
    """Write the full model: ``tensors`` by HF name (a tied ``lm_head`` left out), the base's
    metadata, and ``added_tokens`` appended to the vocabulary as user-defined tokens. Returns
    the vocabulary size written."""
    path = Path(path)
    fields = base.reader.fields
    tokens: list[str] = list(fields["tokenizer.ggml.tokens"].contents())
    types: list[int] = list(fields["tokenizer.ggml.token_type"].contents())
    tokens += added_tokens
    types += [int(gguf.TokenType.USER_DEFINED)] * len(added_tokens)
    override: dict[str, Any] = {
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": types,
        "general.file_type": int(gguf.LlamaFileType.MOSTLY_F16),
        f"{base.arch}.vocab_size": len(tokens),
    }
    if "tokenizer.ggml.scores" in fields:
        scores = list(fields["tokenizer.ggml.scores"].contents())
        override["tokenizer.ggml.scores"] = scores + [0.0] * len(added_tokens)
    embed = tensors.get("model.embed_tokens.weight")
    if embed is None or embed.shape[0] != len(tokens):
        rows = None if embed is None else embed.shape[0]
        raise ConfigError(f"the embedding has {rows} rows but the vocabulary {len(tokens)} "
                          "tokens; the tokenizer and the model do not belong together")
    tmp = _temp(path)
    writer = gguf.GGUFWriter(tmp, base.arch)
    for key, field in fields.items():
        if key.startswith(_WRITER_KEYS):
            continue
        value = override.get(key, field.contents())
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, vtype, sub_type=sub)
    for hf_name, array in tensors.items():
        array = base.to_gguf_rows(hf_name, array)
        dtype = np.float16 if array.ndim == 2 else np.float32
        writer.add_tensor(base.gguf_name(hf_name), np.ascontiguousarray(array, dtype=dtype))
    try:
        _write(writer, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(tokens)
