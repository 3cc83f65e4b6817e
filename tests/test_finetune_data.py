"""Fine-tuning without torch: the training rows of each layout, the settings' checks, the run
card, and how `serve-llm --lora DIR` turns an output directory into a server command."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from ste_async.cli import main
from ste_async.distill.examples import TrainExample, write_examples
from ste_async.errors import ConfigError
from ste_async.export import CALL_THOUGHT
from ste_async.finetune import (
    DEFAULTS,
    STUDY,
    TOOL_SYSTEM,
    FinetuneSettings,
    from_toolken,
    load_rows,
    serve_target,
    toolken,
)
from ste_async.services import local_servers

EXAMPLES = [
    TrainExample(query="What date is 10 days after 2024-02-20?", API_name_list=["add_date"],
                 api_descriptions="API_name: add_date\nDescription: adds days",
                 action="add_date", action_input='{"date": "2024-02-20", "days": 10}',
                 observation="2024-03-01", final_ans="It is 2024-03-01.", api="add_date"),
    TrainExample(query="Tell me a fact about 7", API_name_list=["Numbers%%Get math fact"],
                 api_descriptions="API_name: Numbers%%Get math fact\nDescription: facts",
                 action="Numbers%%Get math fact", action_input='{"number": "7"}',
                 observation="7 is prime", final_ans="7 is prime.", api="Numbers%%Get math fact"),
]


@pytest.fixture
def examples_file(tmp_path: Path) -> Path:
    path = tmp_path / "tool_data_train.json"
    write_examples(path, EXAMPLES)
    return path


def test_study_layout_is_query_alone_then_observation_turn(examples_file: Path) -> None:
    data = load_rows(examples_file)  # the study's layout and toolkens are the defaults
    assert data.kind == "examples" and data.examples == 2 and len(data.rows) == 4
    assert data.apis == ["add_date", "Numbers%%Get math fact"]
    call, final = data.rows[0], data.rows[1]
    system = {"role": "system", "content": TOOL_SYSTEM}
    assert call["prompt"] == [system, {"role": "user", "content": EXAMPLES[0].query}]
    answer = 'Action: <tool_add_date>\nAction Input: {"date": "2024-02-20", "days": 10}'
    assert call["completion"] == [{"role": "assistant", "content": answer}]
    assert final["prompt"] == [*call["prompt"], {"role": "assistant", "content": answer},
                               {"role": "user", "content": "Observation: 2024-03-01"}]
    assert final["completion"] == [{"role": "assistant", "content": "Final Answer: It is 2024-03-01."}]
    # no API description reaches the model: it is to learn the APIs in its weights
    assert all("Description" not in m["content"] for row in data.rows for m in row["prompt"])


def test_text_names_and_prompted_layout(examples_file: Path) -> None:
    text = load_rows(examples_file, api_names="text")
    assert text.rows[2]["completion"][0]["content"].startswith(
        "Action: Numbers%%Get math fact\nAction Input: ")
    prompted = load_rows(examples_file, layout="prompted", api_names="text")
    assert len(prompted.rows) == 4
    first = prompted.rows[0]
    assert "API_name: add_date" in first["prompt"][1]["content"]
    assert first["completion"][0]["content"].startswith(f"Thought: {CALL_THOUGHT}\nAction: add_date")
    with pytest.raises(ConfigError, match="toolkens go with the study's layout"):
        load_rows(examples_file, layout="prompted", api_names="toolkens")


def test_chat_export_is_taken_as_written(tmp_path: Path) -> None:
    path = tmp_path / "train_openai.jsonl"
    lines = [
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                      {"role": "assistant", "content": "a1"}, {"role": "user", "content": "o"},
                      {"role": "assistant", "content": "a2"}]},
        {"conversations": [{"from": "human", "value": "q2"}, {"from": "gpt", "value": "b"}]},
    ]
    path.write_bytes(b"\n".join(msgspec.json.encode(line) for line in lines) + b"\n")
    data = load_rows(path, api_names="text")
    assert data.kind == "chat" and data.examples == 2
    assert [r["completion"][0]["content"] for r in data.rows] == ["a1", "a2", "b"]
    assert [len(r["prompt"]) for r in data.rows] == [2, 4, 1]
    with pytest.raises(ConfigError, match="already written as text"):
        load_rows(path)
    path.write_text('{"neither": 1}\n')
    with pytest.raises(ConfigError, match=r"train_openai.jsonl:1 is not an openai or sharegpt"):
        load_rows(path, api_names="text")


def test_bad_data_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_rows(tmp_path / "missing")
    (tmp_path / "run").mkdir()
    with pytest.raises(ConfigError, match="has not been distilled"):
        load_rows(tmp_path / "run")
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(ConfigError, match="no training example"):
        load_rows(empty)


def test_toolkens_round_trip() -> None:
    assert toolken("Numbers%%Get math fact") == "<tool_Numbers%%Get math fact>"
    assert from_toolken(toolken("add_date")) == "add_date"
    assert from_toolken("add_date") == "add_date"


def test_settings_are_checked_and_the_study_preset_differs() -> None:
    with pytest.raises(ConfigError, match="--batch-size must be a multiple of --grad-accum"):
        FinetuneSettings(batch_size=6, grad_accum=4)
    with pytest.raises(ConfigError, match="--lr must be > 0"):
        msgspec.structs.replace(DEFAULTS, learning_rate=0.0)
    assert (STUDY.epochs, STUDY.learning_rate, STUDY.warmup_ratio) == (2.0, 2e-5, 0.03)
    assert DEFAULTS.learning_rate > STUDY.learning_rate


def _card(out: Path, **fields: object) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "finetune.json").write_bytes(msgspec.json.encode(fields))
    return out


def test_serve_target_reads_the_card(tmp_path: Path) -> None:
    base = tmp_path / "base.gguf"
    base.write_bytes(b"GGUF")
    lora = _card(tmp_path / "lora", status="done", outputs={
        "hf": "merged", "gguf": {"kind": "lora", "adapter": "adapter.gguf", "base": str(base)}})
    target = serve_target(lora)
    assert (target.model, target.lora, target.hf) == (base, lora / "adapter.gguf", lora / "merged")
    merged = _card(tmp_path / "merged", status="done", outputs={
        "hf": "merged", "gguf": {"kind": "model", "model": "model.gguf"}})
    assert serve_target(merged).model == merged / "model.gguf"
    assert serve_target(merged).lora is None
    running = _card(tmp_path / "running", status="interrupted")
    with pytest.raises(ConfigError, match=r"has not finished.*--resume"):
        serve_target(running)
    with pytest.raises(ConfigError, match="not a fine-tuning output directory"):
        serve_target(tmp_path)
    base.unlink()
    with pytest.raises(ConfigError, match="no longer exists"):
        serve_target(lora)


def test_local_servers_pass_the_adapter_to_llama_server(tmp_path: Path) -> None:
    base = tmp_path / "base.gguf"
    base.write_bytes(b"GGUF")
    out = _card(tmp_path / "ft", status="done", outputs={
        "hf": "merged", "gguf": {"kind": "lora", "adapter": "adapter.gguf", "base": str(base)}})
    common = dict(replicas=1, port=0, host="127.0.0.1", slots=1, gpus=None, gpu_memory=0.9,
                  startup_timeout=0.0, extra_args=["--metrics"])
    [server] = local_servers("embedded", model=None, lora=out, **common)  # type: ignore[arg-type]
    assert server.model == str(base)  # type: ignore[attr-defined]
    assert server.extra_args == ("--lora", str(out / "adapter.gguf"), "--metrics")  # type: ignore[attr-defined]
    command = server.build_command(Path("llama-server"), base, 8080)  # type: ignore[attr-defined]
    assert command[command.index("--alias") + 1] == "ft"  # the fine-tuned name, not the base's
    with pytest.raises(ConfigError, match="leave out --model"):
        local_servers("embedded", model=str(base), lora=out, **common)  # type: ignore[arg-type]


def test_cli_refuses_lora_on_the_mock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve-llm", "--backend", "mock", "--lora", str(tmp_path)]) == 2
    assert "neither --replicas, --lora" in capsys.readouterr().err
    assert main(["finetune", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_ctrl_c_asks_for_a_checkpoint_and_a_second_interrupts() -> None:
    import os
    import signal
    import threading

    from ste_async.finetune.train import _stop_on_interrupt

    before = signal.getsignal(signal.SIGINT)
    with _stop_on_interrupt() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop == [True]  # noted, not raised: the trainer saves and stops
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
    seen: list[list[bool]] = []

    def in_thread() -> None:  # no signal handling off the main thread, and no error
        with _stop_on_interrupt() as flag:
            seen.append(flag)

    worker = threading.Thread(target=in_thread)
    worker.start()
    worker.join()
    assert seen == [[False]]
