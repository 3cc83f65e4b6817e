"""Training rows for ``ste-async finetune``: distilled examples as chat prompt/completion pairs.

Two layouts of an example (``--format``):

``study``: the layout the STE study fine-tuned on. The system message puts the model in tool
mode, the user turn is the query alone (no API descriptions: the model is to learn the APIs
in its weights), and the response is ``Action: NAME`` and ``Action Input: ARGS``; a second
row continues that conversation with the tool's ``Observation:`` as a user turn and answers
``Final Answer: ...``. With ``api_names="toolkens"`` NAME is written ``<tool_NAME>``, a token
of its own that the fine-tuning adds to the vocabulary.

``prompted``: the candidate-API prompt of ``export --format openai`` (descriptions of the
offered APIs, then the query), answered with ``Thought/Action/Action Input``; the observation
row is added the same way.

An exported chat file (``openai`` or ``sharegpt`` JSONL) is taken as it is: one row per
assistant turn, its earlier turns as the prompt. Every row is ``{"prompt": [messages],
"completion": [assistant message]}``, the conversational prompt-completion form TRL's SFT
trainer reads, so the loss falls on the response only. Nothing here needs torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import orjson

from .._text import load_prompt
from ..distill.examples import TrainExample, load_examples
from ..errors import ConfigError
from ..export import OBSERVATION, chat_turns

__all__ = (
    "TOOL_SYSTEM",
    "ApiNames",
    "Layout",
    "LoadedData",
    "Row",
    "from_toolken",
    "load_rows",
    "study_messages",
    "toolken",
)

Layout = Literal["study", "prompted"]
ApiNames = Literal["text", "toolkens"]
Row = dict[str, list[dict[str, str]]]

# the tool-mode system message, shared with `infer --system tool` so that a model trained on
# the study's layout is asked the way it was taught
TOOL_SYSTEM = load_prompt("ste_async.evaluate", "test_prompts", "system_tool.txt").strip()

_TOOLKEN_OPEN, _TOOLKEN_CLOSE = "<tool_", ">"


def toolken(api: str) -> str:
    """The vocabulary entry that stands for ``api``: ``<tool_NAME>``, as in the study."""
    return f"{_TOOLKEN_OPEN}{api}{_TOOLKEN_CLOSE}"


def from_toolken(name: str) -> str:
    """The API a toolken stands for; any other name unchanged."""
    if name.startswith(_TOOLKEN_OPEN) and name.endswith(_TOOLKEN_CLOSE):
        return name[len(_TOOLKEN_OPEN):-len(_TOOLKEN_CLOSE)]
    return name


def _msg(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def study_messages(query: str) -> list[dict[str, str]]:
    """The prompt of the study's layout: the tool-mode system message and the query alone."""
    return [_msg("system", TOOL_SYSTEM), _msg("user", query)]


def _study_rows(e: TrainExample, names: ApiNames) -> list[Row]:
    action = toolken(e.action) if names == "toolkens" else e.action
    call = f"Action: {action}\nAction Input: {e.action_input}"
    prompt = study_messages(e.query)
    return [
        {"prompt": prompt, "completion": [_msg("assistant", call)]},
        {"prompt": [*prompt, _msg("assistant", call), _msg("user", OBSERVATION + e.observation)],
         "completion": [_msg("assistant", f"Final Answer: {e.final_ans}")]},
    ]


def _turn_rows(turns: Iterable[tuple[str, str]]) -> list[Row]:
    """One row per assistant turn, the turns before it as the prompt."""
    rows: list[Row] = []
    seen: list[dict[str, str]] = []
    for role, content in turns:
        if role == "assistant" and seen:
            rows.append({"prompt": list(seen), "completion": [_msg(role, content)]})
        seen.append(_msg(role, content))
    return rows


class LoadedData:
    """The rows to train on and what they came from."""

    def __init__(self, rows: list[Row], *, source: str, kind: str, examples: int,
                 apis: list[str]):
        self.rows = rows
        self.source = source
        self.kind = kind  # "run", "examples" or "chat"
        self.examples = examples
        self.apis = apis  # the APIs the examples call, in first-seen order

    def describe(self) -> dict[str, Any]:
        """The data part of the run card."""
        return {"source": self.source, "kind": self.kind, "examples": self.examples,
                "rows": len(self.rows), "apis": len(self.apis)}


_SHAREGPT_ROLE = {"system": "system", "human": "user", "gpt": "assistant"}


def _chat_file(path: Path) -> list[list[tuple[str, str]]]:
    conversations: list[list[tuple[str, str]]] = []
    for n, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
            if "messages" in record:
                turns = [(m["role"], m["content"]) for m in record["messages"]]
            else:
                turns = [(_SHAREGPT_ROLE[t["from"]], t["value"]) for t in record["conversations"]]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{n} is not an openai or sharegpt chat record "
                              f"({type(exc).__name__}: {exc})") from None
        if not all(isinstance(c, str) for _, c in turns):
            raise ConfigError(f"{path}:{n}: a turn's content is not text")
        conversations.append(turns)
    return conversations


def load_rows(data: str | Path, *, layout: Layout = "study",
              api_names: ApiNames = "toolkens") -> LoadedData:
    """The training rows of ``data``: a distilled run directory, a ``ste-train`` JSON list of
    examples, or an ``openai``/``sharegpt`` JSONL chat export (used as written)."""
    path = Path(data)
    if not path.exists():
        raise ConfigError(f"training data {path} does not exist")
    if path.is_file() and path.suffix == ".jsonl":
        if api_names == "toolkens":
            raise ConfigError(f"{path} is a chat export, whose API names are already written "
                              "as text; give --api-names text, or train from the run directory "
                              "or a ste-train file to use toolkens")
        conversations = _chat_file(path)
        rows = [row for turns in conversations for row in _turn_rows(turns)]
        if not rows:
            raise ConfigError(f"{path} holds no conversation with an assistant turn")
        return LoadedData(rows, source=str(path), kind="chat", examples=len(conversations),
                          apis=[])
    if path.is_dir() and not (path / "distill" / "dataset.json").exists():
        raise ConfigError(f"{path} has not been distilled (no distill/dataset.json); run "
                          f"`ste-async distill {path}` first")
    if layout == "prompted" and api_names == "toolkens":
        raise ConfigError("toolkens go with the study's layout; give --api-names text with "
                          "--format prompted")
    examples = load_examples(path)
    if not examples:
        raise ConfigError(f"{path} holds no training example")
    rows = []
    for e in examples:
        if layout == "study":
            rows += _study_rows(e, api_names)
        else:
            rows += _turn_rows(chat_turns(e, with_observation=True))
    apis = list(dict.fromkeys(e.action for e in examples))
    return LoadedData(rows, source=str(path), kind="run" if path.is_dir() else "examples",
                      examples=len(examples), apis=apis)
