"""``ste-async finetune``: supervised fine-tuning with LoRA, by TRL's SFT trainer over PEFT and
transformers, and the outputs that serve the result.

The base model is a GGUF file (default: the packaged embedded model), which transformers loads
dequantised, tokenizer and all; or a transformers model directory. Nothing is downloaded.
With toolkens, each API name becomes one new token, its embedding started at the mean of the
embeddings of the name's own tokens and trained beside the LoRA matrices.

The output directory holds ``checkpoints/`` (the trainer's, every ``save_steps`` steps and on
Ctrl-C, for ``--resume``), ``adapter/`` (the PEFT adapter), ``merged/`` (the merged model in
transformers' layout, which vLLM serves), ``adapter.gguf`` (llama.cpp's LoRA adapter over the
base GGUF) or, where toolkens grew the vocabulary, ``model.gguf`` (the merged model), and the
run card ``finetune.json``. The same command trains on a CUDA device when torch sees one.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import msgspec

from .._atomic import write_json_atomic
from ..errors import ConfigError
from ..export import OBSERVATION
from .card import CARD, FinetuneSettings, read_card
from .data import LoadedData, toolken

__all__ = ("FinetuneResult", "finetune")

INSTALL_HINT = ("pip install torch==2.13.0 (the CPU build; see the README) and "
                "pip install 'ste_async[train]'")


class FinetuneResult(msgspec.Struct, kw_only=True):
    """What a fine-tuning run did, as the run card records it."""

    out: Path
    card: dict[str, Any]
    interrupted: bool = False


def _imports() -> tuple[Any, ...]:
    try:
        import datasets
        import peft
        import torch
        import transformers
        import trl
    except ImportError as exc:
        raise ConfigError(f"fine-tuning needs {exc.name}; install it with: {INSTALL_HINT}") from None
    return torch, transformers, peft, trl, datasets


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


@contextmanager
def _stop_on_interrupt() -> Iterator[list[bool]]:
    """A first Ctrl-C asks the trainer to save a checkpoint and stop after the current step; a
    second one interrupts at once."""
    flag = [False]
    if threading.current_thread() is not threading.main_thread():
        yield flag  # only the main thread may take signals; the caller's own handling stands
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: FrameType | None) -> None:
        flag[0] = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _callbacks(transformers: Any, say: Callable[[str], None], stop: list[bool]) -> list[Any]:
    class Progress(transformers.TrainerCallback):  # type: ignore[misc]
        """One line per logged step: loss, learning rate, speed and time left."""

        started = 0.0
        first_step = 0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.started, self.first_step = time.monotonic(), state.global_step
            say(f"{state.max_steps} optimiser steps, {state.global_step} done before")

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None,
                   **kw: Any) -> None:
            if not logs or "loss" not in logs:
                return
            done = state.global_step - self.first_step
            per_step = (time.monotonic() - self.started) / max(1, done)
            left = per_step * (state.max_steps - state.global_step)
            say(f"step {state.global_step}/{state.max_steps} | epoch {state.epoch or 0:.2f} | "
                f"loss {logs['loss']:.4f} | lr {logs.get('learning_rate', 0):.2e} | "
                f"{per_step:.2f} s/step | ETA {_clock(left)}")

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            if stop[0]:
                control.should_save = True
                control.should_training_stop = True
            return control

    return [Progress()]


@contextmanager
def _quiet_gguf_loader() -> Iterator[None]:
    """Without transformers' own bar while it dequantises a GGUF: that loader builds its tqdm
    bar without a switch (its progress-bar setting does not reach it), and the bar would
    break the command's one line per step."""
    from unittest import mock

    import transformers.modeling_gguf_pytorch_utils as loader

    with mock.patch.object(loader, "tqdm", functools.partial(loader.tqdm, disable=True)):
        yield


def _load_base(base: Path, transformers: Any, torch: Any) -> tuple[Any, Any]:
    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if base.is_file():
        # dequantised at load into plain float tensors, which is what training needs
        kwargs.update(gguf_file=base.name,
                      quantization_config=transformers.GgufConfig(dequantize=True))
        where = str(base.parent)
    else:
        where = str(base)
    try:
        with _quiet_gguf_loader():
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                where, **({"gguf_file": base.name} if base.is_file() else {}))
            model = transformers.AutoModelForCausalLM.from_pretrained(where, **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the base model {base}: {exc}") from None
    return model, tokenizer


def _add_toolkens(model: Any, tokenizer: Any, apis: list[str], torch: Any) -> list[int]:
    """Add one token per API; each new embedding starts at the mean of its name's tokens."""
    names = [toolken(api) for api in apis]
    fresh = [n for n in names if n not in tokenizer.get_vocab()]
    if not fresh:
        return []
    tokenizer.add_tokens(fresh)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    if model.config.tie_word_embeddings:
        # the output matrix becomes a copy of its own: TRL reads it directly, past the token
        # wrapper PEFT puts on the input rows, so it trains as a module of its own
        head = model.get_output_embeddings()
        head.weight = torch.nn.Parameter(head.weight.detach().clone())
        model.config.tie_word_embeddings = False
    emb = model.get_input_embeddings().weight
    out_rows = model.get_output_embeddings().weight
    ids = tokenizer.convert_tokens_to_ids(fresh)
    with torch.no_grad():
        for token, i in zip(fresh, ids, strict=True):
            pieces = tokenizer(token.removeprefix("<tool_").removesuffix(">"),
                               add_special_tokens=False)["input_ids"]
            emb[i] = emb[pieces].mean(dim=0)
            out_rows[i] = out_rows[pieces].mean(dim=0)
    return [int(i) for i in ids]


_CUT = " [...]"


def _fit_rows(rows: list[Any], tokenizer: Any, max_length: int) -> tuple[list[Any], int, int]:
    """The rows with each too-long tool observation cut so that the row fits ``max_length``.

    The trainer cuts a sequence at its end, which is where the response is: a row whose
    observation fills the window would train on nothing. Cutting the observation instead keeps
    the response whole, the part the loss is on. Returns the rows, how many were cut, and how
    many still exceed the window (their observation was not what made them long)."""
    def length(row: Any) -> int:
        return len(tokenizer.apply_chat_template(row["prompt"] + row["completion"],
                                                 tokenize=True, return_dict=False))

    fitted: list[Any] = []
    cut = over = 0
    for row in rows:
        excess = length(row) - max_length
        turns = row["prompt"]
        where = next((i for i in range(len(turns) - 1, -1, -1)
                      if turns[i]["role"] == "user"
                      and turns[i]["content"].startswith(OBSERVATION)), None)
        if excess <= 0 or where is None:
            fitted.append(row)
            over += excess > 0
            continue
        text = turns[where]["content"][len(OBSERVATION):]
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        keep = len(ids) - excess - 4  # room for the marker, and for tokens merging at the cut
        if keep < 1:
            fitted.append(row)
            over += 1
            continue
        short = tokenizer.decode(ids[:keep]) + _CUT
        prompt = [*turns[:where], {"role": "user", "content": OBSERVATION + short},
                  *turns[where + 1:]]
        row = {"prompt": prompt, "completion": row["completion"]}
        fitted.append(row)
        cut += 1
        over += length(row) > max_length
    return fitted, cut, over


def _latest_checkpoint(checkpoints: Path) -> Path | None:
    found = [(int(p.name.rsplit("-", 1)[1]), p) for p in checkpoints.glob("checkpoint-*")
             if p.name.rsplit("-", 1)[1].isdigit()]
    return max(found)[1] if found else None


def _check_resume(out: Path, resume: bool, planned: dict[str, Any]) -> dict[str, Any] | None:
    """The card of the run to continue, or None for a fresh one; refuses to mix two runs."""
    if not (out / CARD).exists():
        if resume and (out / "checkpoints").exists():
            raise ConfigError(f"{out} has checkpoints but no {CARD}; it was not written by "
                              "this command")
        return None
    card = read_card(out)
    if not resume:
        raise ConfigError(f"{out} already holds a fine-tuning run (status "
                          f"{card.get('status')!r}); continue it with --resume, or give "
                          "another --out")
    for key in ("data", "base", "settings"):
        if card.get(key) != planned[key]:
            raise ConfigError(f"cannot resume {out}: its {key} differ from this command's "
                              f"({card.get(key)} != {planned[key]})")
    return card


# the libraries' notices about their own internals, which a user of this command cannot act on
_QUIET = (
    (FutureWarning, r".*gradient_checkpointing"),
    (UserWarning, r"Could not find a config file"),
    (UserWarning, r"'pin_memory' argument is set as true"),
)


def finetune(
    data: LoadedData,
    out: str | os.PathLike[str],
    settings: FinetuneSettings,
    *,
    base: str | os.PathLike[str] | None = None,
    resume: bool = False,
    threads: int | None = None,
    progress: Callable[[str], None] = print,
) -> FinetuneResult:
    """Fine-tune ``base`` (default: the packaged GGUF) on ``data`` into ``out``."""
    with warnings.catch_warnings():
        for category, message in _QUIET:
            warnings.filterwarnings("ignore", message=message, category=category)
        return _finetune(data, out, settings, base=base, resume=resume, threads=threads,
                         progress=progress)


def _finetune(data: LoadedData, out: str | os.PathLike[str], settings: FinetuneSettings, *,
              base: str | os.PathLike[str] | None, resume: bool, threads: int | None,
              progress: Callable[[str], None]) -> FinetuneResult:
    from ..llm.embedded import find_default_model

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the base is local; never reach for a hub
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    torch, transformers, peft, trl, datasets = _imports()
    transformers.utils.logging.disable_progress_bar()  # the Progress line says what matters
    datasets.disable_progress_bars()
    out = Path(out)
    base_path = Path(base).expanduser() if base else find_default_model()
    if not base_path.exists():
        raise ConfigError(f"base model {base_path} does not exist")
    if data.kind != "chat" and settings.api_names == "toolkens" and not data.apis:
        raise ConfigError("no API to make toolkens of")
    planned = {"data": data.describe(), "settings": msgspec.to_builtins(settings),
               "base": {"path": str(base_path.resolve()),
                        "kind": "gguf" if base_path.is_file() else "hf"}}
    previous = _check_resume(out, resume, planned)
    if previous is not None and previous.get("status") == "done":
        progress(f"{out} is already complete; nothing to resume")
        return FinetuneResult(out=out, card=previous)
    out.mkdir(parents=True, exist_ok=True)
    if threads:
        torch.set_num_threads(threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    card: dict[str, Any] = {**planned, "status": "running", "device": device,
                            "versions": {"torch": str(torch.__version__),
                                         "transformers": transformers.__version__,
                                         "peft": peft.__version__, "trl": trl.__version__},
                            "timings": dict(previous.get("timings", {})) if previous else {}}
    write_json_atomic(out / CARD, card, pretty=True)

    t0 = time.monotonic()
    progress(f"loading the base model {base_path.name}")
    transformers.set_seed(settings.seed)
    model, tokenizer = _load_base(base_path, transformers, torch)
    new_ids = (_add_toolkens(model, tokenizer, data.apis, torch)
               if settings.api_names == "toolkens" and data.kind != "chat" else [])
    card["added_tokens"] = len(new_ids)
    rows, cut, over = _fit_rows(data.rows, tokenizer, settings.max_length)
    card["rows_fitted"] = {"observation_cut": cut, "still_over": over}
    said = ([f"{cut} rows had their observation cut to fit"] if cut else []) + \
        ([f"{over} rows exceed it and lose their end"] if over else [])
    if said:
        progress(f"--max-length {settings.max_length}: " + "; ".join(said))
    card["timings"]["load_s"] = round(time.monotonic() - t0, 1)

    lora = peft.LoraConfig(
        r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
        target_modules="all-linear", task_type="CAUSAL_LM",
        # toolkens: the new input rows train through PEFT; the output matrix (untied above)
        # trains whole, since every row of it shapes the probability of a new token
        trainable_token_indices={"embed_tokens": new_ids} if new_ids else None,
        modules_to_save=["lm_head"] if new_ids else None)
    per_device = settings.batch_size // settings.grad_accum
    bf16 = device == "cuda" and bool(torch.cuda.is_bf16_supported())
    config = trl.SFTConfig(
        output_dir=str(out / "checkpoints"), num_train_epochs=settings.epochs,
        max_steps=settings.max_steps, learning_rate=settings.learning_rate,
        warmup_steps=settings.warmup_ratio, per_device_train_batch_size=per_device,
        gradient_accumulation_steps=settings.grad_accum, max_length=settings.max_length,
        seed=settings.seed, data_seed=settings.seed, logging_steps=1,
        save_strategy="steps", save_steps=settings.save_steps, save_total_limit=2,
        report_to="none", disable_tqdm=True, bf16=bf16, dataloader_num_workers=0,
        dataloader_pin_memory=device == "cuda",
        # a small model's activations fit in memory; recomputing them would double the time
        gradient_checkpointing=False,
        completion_only_loss=True)
    dataset = datasets.Dataset.from_list(rows)
    with _stop_on_interrupt() as stop:
        trainer = trl.SFTTrainer(model=model, args=config, train_dataset=dataset,
                                 processing_class=tokenizer, peft_config=lora,
                                 callbacks=_callbacks(transformers, progress, stop))
        trainer.remove_callback(transformers.PrinterCallback)  # the Progress line replaces it
        checkpoint = _latest_checkpoint(out / "checkpoints") if previous else None
        if checkpoint is not None:
            progress(f"resuming from {checkpoint.name}")
        trainable, total = trainer.model.get_nb_trainable_parameters()
        progress(f"training {trainable:,} of {total:,} parameters on {device}: "
                 f"{len(data.rows)} rows")
        t1 = time.monotonic()
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        interrupted = stop[0]
    card["timings"]["train_s"] = round(card["timings"].get("train_s", 0.0)
                                       + time.monotonic() - t1, 1)
    state = trainer.state
    card["steps"] = {"done": state.global_step, "planned": state.max_steps}
    card["losses"] = [{"step": e["step"], "epoch": round(e.get("epoch", 0.0), 4),
                       "loss": e["loss"], "lr": e.get("learning_rate")}
                      for e in state.log_history if "loss" in e]
    card["parameters"] = {"trainable": trainable, "total": total}
    if interrupted:
        card["status"] = "interrupted"
        write_json_atomic(out / CARD, card, pretty=True)
        progress(f"interrupted at step {state.global_step}; a checkpoint is in "
                 f"{out / 'checkpoints'}; continue with --resume")
        return FinetuneResult(out=out, card=card, interrupted=True)

    t2 = time.monotonic()
    from .outputs import write_outputs

    card["outputs"] = write_outputs(trainer.model, tokenizer, out, base_path, settings,
                                    grew_vocab=bool(new_ids), progress=progress)
    card["timings"]["export_s"] = round(time.monotonic() - t2, 1)
    card["status"] = "done"
    card["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_json_atomic(out / CARD, card, pretty=True)
    return FinetuneResult(out=out, card=card)
