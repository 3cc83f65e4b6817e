"""Fine-tuning the packaged model for real: a few LoRA steps on a tiny distilled set, Ctrl-C and
resume, the GGUF outputs, and llama-server serving them (`serve-llm --lora DIR`).

Needs the ``[train]`` extra (torch, transformers, peft, trl, datasets, gguf) and the embedded
model; skipped otherwise. A high learning rate on a handful of rows makes the change certain.
"""

from __future__ import annotations

import importlib.util
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from served import distill_with, explore_with

from ste_async.cli import main
from ste_async.config import ExploreConfig
from ste_async.distill.examples import load_examples
from ste_async.distill.runner import DistillConfig
from ste_async.errors import ConfigError
from ste_async.finetune import FinetuneSettings, finetune, load_rows, study_messages, toolken
from ste_async.llm.embedded import EmbeddedServer, find_default_model, find_server_binary
from ste_async.llm.local import serve_all
from ste_async.parsing import Call, Final, parse_react
from ste_async.services import local_servers
from tool_mocks.llm import MockLlmConfig

pytestmark = [
    pytest.mark.embedded, pytest.mark.slow, pytest.mark.timeout(1500),
    # deprecations inside transformers and peft, about their own internals
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:Could not find a config file:UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

APIS = ("add_date", "get_today_date")
TRAIN = ("torch", "transformers", "peft", "trl", "datasets", "gguf")


def _require() -> None:
    missing = [name for name in TRAIN if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the [train] extra is not installed (no {', '.join(missing)}): "
                    "pip install torch==2.13.0 'ste_async[train]'")
    try:
        find_server_binary(), find_default_model()
    except ConfigError as exc:
        pytest.skip(f"the embedded LLM is not installed: {exc}")


@pytest.fixture(scope="module")
def distilled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two APIs explored and distilled by the scripted LLM: six examples."""
    _require()
    run = tmp_path_factory.mktemp("distilled") / "run"

    async def make() -> None:
        await explore_with(ExploreConfig(apis=APIS, episodes=1, trials=3), run,
                           mock=MockLlmConfig(), handle_signals=False)
        await distill_with(run, DistillConfig(target=3), mock=MockLlmConfig())

    anyio.run(make)
    return run


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


SMALL = FinetuneSettings(api_names="text", max_steps=8, learning_rate=5e-3, warmup_ratio=0.0,
                         batch_size=4, max_length=160, save_steps=100, seed=0)


async def _ask(url: str, query: str) -> str:
    body = {"messages": study_messages(query), "max_tokens": 48, "temperature": 0.0,
            "seed": 0, "stop": ["Observation:"]}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/v1/chat/completions", json=body) as reply:
            assert reply.status == 200, await reply.text()
            return str((await reply.json())["choices"][0]["message"]["content"])


def _servers(out: Path) -> list[Any]:
    return local_servers("embedded", model=None, lora=out, replicas=1, port=0,
                         host="127.0.0.1", slots=1, gpus=None, gpu_memory=0.9,
                         startup_timeout=120.0, extra_args=[], progress=lambda _: None)


def test_base_layout_matches_the_gguf() -> None:
    """The HF -> GGUF mapping (names and the rotary row order) turns the model transformers
    loads from the packaged GGUF back into that file's own tensors, bit for bit."""
    _require()
    import torch
    import transformers

    from ste_async.finetune.gguf_out import BaseGguf, dequantized

    path = find_default_model()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32,
        quantization_config=transformers.GgufConfig(dequantize=True))
    base = BaseGguf(path)
    state = model.state_dict()
    for name in ("model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
                 "model.layers.1.self_attn.v_proj.weight", "model.layers.1.mlp.up_proj.weight",
                 "model.norm.weight"):
        ours = base.to_gguf_rows(name, state[name].numpy())
        theirs = dequantized(base.reader, base.gguf_name(name))
        assert ours.shape == theirs.shape and (ours == theirs).all(), name


def test_finetune_resume_serve_adapter(distilled: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ft"
    data = load_rows(distilled, api_names="text")
    lines: list[str] = []

    def progress(line: str) -> None:  # Ctrl-C once step 3 is logged
        lines.append(line)
        if line.startswith("step 3/"):
            os.kill(os.getpid(), signal.SIGINT)

    first = finetune(data, out, SMALL, threads=2, progress=progress)
    assert first.interrupted and first.card["status"] == "interrupted"
    assert first.card["steps"]["done"] in (3, 4)  # stops after the step it was asked in
    assert (out / "checkpoints" / f"checkpoint-{first.card['steps']['done']}").is_dir()
    assert any(line.startswith("step 1/8 | epoch") and "| loss " in line and "| ETA " in line
               for line in lines)
    with pytest.raises(ConfigError, match="already holds a fine-tuning run"):
        finetune(data, out, SMALL, threads=2, progress=lines.append)

    code = main(["finetune", str(distilled), "--out", str(out), "--api-names", "text",
                 "--max-steps", "8", "--lr", "5e-3", "--warmup", "0", "--batch-size", "4",
                 "--max-length", "160", "--save-steps", "100", "--seed", "0", "--threads", "2",
                 "--resume"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "resuming from checkpoint-" in printed
    assert f"serve with: ste-async serve-llm --lora {out}" in printed
    from ste_async.finetune import read_card

    card = read_card(out)
    assert card["status"] == "done" and card["steps"] == {"done": 8, "planned": 8}
    assert [e["step"] for e in card["losses"]] == list(range(1, 9))  # both runs' steps
    assert card["losses"][-1]["loss"] < card["losses"][0]["loss"]
    assert card["outputs"]["gguf"]["kind"] == "lora"
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "merged" / "config.json").is_file()

    import gguf

    reader = gguf.GGUFReader(out / "adapter.gguf")
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.type"].contents() == "lora"
    assert reader.fields["adapter.lora.alpha"].contents() == pytest.approx(SMALL.alpha)
    shapes = {t.name: t.shape.tolist() for t in reader.tensors}
    assert shapes["blk.0.attn_q.weight.lora_a"] == [576, SMALL.rank]  # GGUF order: in, rank
    assert shapes["blk.0.attn_q.weight.lora_b"] == [SMALL.rank, 576]

    example = load_examples(distilled)[0]

    async def compare() -> tuple[str, str]:
        async with EmbeddedServer(slots=1, ctx_per_slot=2048, startup_timeout=120) as base:
            before = await _ask(base.url, example.query)
        async with serve_all(_servers(out)) as urls:
            after = await _ask(urls[0], example.query)
        return before, after

    before, after = anyio.run(compare)
    assert after != before, after
    step = parse_react(after, list(APIS))
    assert isinstance(step, Call | Final), (after, step)


def test_toolkens_grow_the_vocabulary_of_a_merged_gguf(distilled: Path, tmp_path: Path) -> None:
    out = tmp_path / "tk"
    data = load_rows(distilled)  # the study's layout, with toolkens
    settings = FinetuneSettings(max_steps=2, learning_rate=5e-3, batch_size=4, max_length=160,
                                seed=0)
    result = finetune(data, out, settings, threads=2, progress=lambda _: None)
    card = result.card
    assert card["added_tokens"] == len(data.apis) == 2
    assert card["outputs"]["gguf"] == {"kind": "model", "model": "model.gguf", "vocab": 49154}

    async def tokens() -> tuple[list[int], str, str]:
        async with serve_all(_servers(out)) as urls, aiohttp.ClientSession() as session:
            async with session.post(f"{urls[0]}/tokenize",
                                    json={"content": toolken("add_date")}) as reply:
                ids = (await reply.json())["tokens"]
            async with session.post(f"{urls[0]}/detokenize", json={"tokens": ids}) as reply:
                text = (await reply.json())["content"]
            return ids, text, await _ask(urls[0], data.rows[0]["prompt"][1]["content"])

    ids, text, answer = anyio.run(tokens)
    assert len(ids) == 1 and ids[0] >= 49152  # one new token, beyond the base vocabulary
    assert text == toolken("add_date")
    assert answer.strip()


def test_a_long_observation_is_cut_so_the_response_still_trains() -> None:
    """The trainer cuts a too-long sequence at its end, the response; the rows are fitted
    first by cutting the observation, and a row without one is left for the count."""
    _require()
    import transformers

    from ste_async.finetune.train import _fit_rows

    path = find_default_model()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    prompt = study_messages("What is 2 + 2?")
    call = {"role": "assistant", "content": 'Action: add\nAction Input: {"a": 2, "b": 2}'}
    answer = [{"role": "assistant", "content": "Final Answer: 4"}]
    long_obs = {"role": "user", "content": "Observation: " + "the sum is four. " * 200}
    rows = [{"prompt": prompt, "completion": [call]},
            {"prompt": [*prompt, call, long_obs], "completion": answer},
            {"prompt": [{"role": "user", "content": "tell me a story " * 200}],
             "completion": answer}]

    def length(row: dict[str, Any]) -> int:
        return len(tokenizer.apply_chat_template(row["prompt"] + row["completion"],
                                                 tokenize=True, return_dict=False))

    assert length(rows[1]) > 160
    fitted, cut, over = _fit_rows(rows, tokenizer, 160)
    assert (cut, over) == (1, 1)
    assert fitted[0] == rows[0] and fitted[2] == rows[2]
    short = fitted[1]
    assert length(short) <= 160
    assert short["completion"] == answer and short["prompt"][:-1] == rows[1]["prompt"][:-1]
    assert short["prompt"][-1]["content"].startswith("Observation: the sum is four.")
    assert short["prompt"][-1]["content"].endswith(" [...]")
