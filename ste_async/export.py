"""Exports of a run directory into other layouts.

``ste``: the study's ``data_dict.json``: ``{api: [episode, ...]}`` where an episode is
``{"item_list": [{"query", "chains"}, ...], "messages": [...]}`` and a chain entry has the
fields of the study's parser output (``parse_successful``, ``finish``, ``action``,
``action_input``, ``observation``, ``final_ans``, ``parse_error_msg``).

The training formats read the distilled dataset (``RUN/distill/dataset.json``, written by
``ste-async distill``), optionally cut to one continual-learning round:

``ste-train``: the study's training list, ``[{query, API_name_list, api_descriptions, action,
action_input, observation, final_ans}, ...]`` (JSON).
``openai``: chat fine-tuning JSONL, ``{"messages": [system, user, assistant]}`` per line; the
user turn is the tool-use prompt (API description and query), the assistant turn
``Thought/Action/Action Input``; ``with_observation`` adds the observation as a user turn and
the final answer as a last assistant turn.
``sharegpt``: the same conversations as ``{"conversations": [{"from", "value"}, ...]}`` JSONL.

General instruction data (``general``, the study's layout) joins the chat formats after the
tool examples, each under the study's normal-mode system message. Every export writes a card
beside its file, ``FILE.meta.json`` (:class:`ExportMeta`): the protocol it followed, the
counts, and where a round's replay came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import orjson

from . import prompts
from ._atomic import write_atomic, write_json_atomic
from .catalog import load_catalog
from .distill.continual import (
    NORMAL_SYSTEM,
    GeneralExample,
    RoundData,
    load_batches,
    load_general,
    select_round,
)
from .distill.examples import TrainExample, load_examples
from .distill.prompting import render_serve
from .errors import ConfigError, StoreError
from .protocol import Protocol
from .records import EpisodeRecord, Step
from .session import load_run_meta
from .store import iter_records

__all__ = (
    "OBSERVATION",
    "TRAIN_FORMATS",
    "ChatMessage",
    "ChatRecord",
    "ExportMeta",
    "ShareGptRecord",
    "ShareGptTurn",
    "SteTrainItem",
    "TrainExport",
    "chat_turns",
    "export_ste",
    "export_train",
    "meta_path",
    "run_protocol",
    "ste_layout",
)


#: how a tool's answer opens the user turn that carries it, in every training conversation
OBSERVATION = "Observation: "


def _chain(step: Step, api_names: list[str], descriptions: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"API_name_list": api_names, "api_descriptions": descriptions}
    if step.kind == "final":
        entry.update(parse_successful=True, finish=True, final_ans=step.final_answer or "")
        return entry
    if step.kind == "call":
        entry.update(parse_successful=True, finish=False, action=step.action,
                     action_input=step.action_input)
    else:
        entry.update(parse_successful=False, finish=False,
                     parse_error_msg=step.observation if step.kind == "feedback" else step.raw)
    if step.observation is not None:
        entry["observation"] = step.observation
    return entry


def ste_layout(records: list[EpisodeRecord], api_order: list[str],
               descriptions: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The study's data_dict layout, APIs in ``api_order`` and episodes by number."""
    by_api: dict[str, list[EpisodeRecord]] = {api: [] for api in api_order}
    for r in records:
        by_api.setdefault(r.api, []).append(r)
    out: dict[str, list[dict[str, Any]]] = {}
    for api, episodes in by_api.items():
        if not episodes:
            continue
        desc = descriptions.get(api, "")
        sessions = []
        for r in sorted(episodes, key=lambda e: e.episode):
            items = [
                {"query": t.query, "chains": [_chain(s, [api], desc) for s in t.steps]}
                for t in r.trials
            ]
            messages = [m for conv in r.conversations for m in conv]
            sessions.append({"item_list": items, "messages": messages})
        out[api] = sessions
    return out


class ExportMeta(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``FILE.meta.json``: how an export was made."""

    format: str
    run_dir: str
    protocol: Protocol
    rows: int
    apis: int
    episodes: int | None = None  # ste: the episodes written
    round: int | None = None
    new: int | None = None  # the round's own examples
    replay: int | None = None  # replayed examples, all batches together
    replay_pool: int | None = None
    replay_per_batch: dict[int, int] | None = None  # the study's rule: batch -> replayed
    general: int = 0  # general instruction examples mixed in
    general_file: str | None = None
    duplicates: int = 0
    schema: int = 1


def meta_path(path: str | Path) -> Path:
    """Where the card of the export at ``path`` is written."""
    path = Path(path)
    return path.with_name(path.name + ".meta.json")


def run_protocol(run_dir: str | Path) -> Protocol:
    """The protocol a run's data was made with: its distillation's, else its exploration's."""
    from .distill.runner import read_distill_meta

    run_dir = Path(run_dir)
    distilled = read_distill_meta(run_dir / "distill" / "distill.json")
    if distilled is not None:
        return distilled.config.protocol
    return load_run_meta(run_dir).config.protocol


def export_ste(run_dir: str | Path, out: str | Path | None = None) -> tuple[Path, int, int]:
    """Write ``data_dict.json`` for ``run_dir``; returns (path, APIs, episodes)."""
    run_dir = Path(run_dir)
    meta = load_run_meta(run_dir)
    catalog = load_catalog(meta.config.catalog)
    api_order = list(meta.apis)
    verbatim = meta.config.protocol.descriptions == "study"
    descriptions = {
        api: prompts.api_block([(api, catalog[api].prompt_description(verbatim=verbatim))])
        for api in api_order if api in catalog
    }
    records = list(iter_records(run_dir))
    layout = ste_layout(records, api_order, descriptions)
    path = Path(out) if out is not None else run_dir / "data_dict.json"
    write_atomic(path, orjson.dumps(layout))
    write_json_atomic(meta_path(path), ExportMeta(
        format="ste", run_dir=str(run_dir), protocol=meta.config.protocol,
        rows=sum(len(v) for v in layout.values()), apis=len(layout),
        episodes=len(records)), pretty=True)
    return path, len(layout), len(records)


# ---- training formats, from the distilled dataset ----

TRAIN_FORMATS = ("ste-train", "openai", "sharegpt")

# the reasoning line of the assistant's call turn; the dataset keeps no thought of its own,
# and a paraphrased query must not inherit a thought written for the original wording
CALL_THOUGHT = "I should call the API to serve this request."


class SteTrainItem(msgspec.Struct, kw_only=True):
    """One entry of the study's training list."""

    query: str
    API_name_list: list[str]
    api_descriptions: str
    action: str
    action_input: str
    observation: str
    final_ans: str


class ChatMessage(msgspec.Struct, kw_only=True):
    """A turn of an OpenAI chat fine-tuning example."""

    role: str
    content: str


class ChatRecord(msgspec.Struct, kw_only=True):
    """A line of the ``openai`` export."""

    messages: list[ChatMessage]


class ShareGptTurn(msgspec.Struct, kw_only=True):
    """A turn of a ShareGPT conversation."""

    from_: str = msgspec.field(name="from")
    value: str


class ShareGptRecord(msgspec.Struct, kw_only=True):
    """A line of the ``sharegpt`` export."""

    conversations: list[ShareGptTurn]


class TrainExport(msgspec.Struct, kw_only=True):
    """What a training export wrote."""

    path: Path
    examples: int  # rows written
    apis: int
    round: RoundData | None = None
    duplicates: int = 0  # rows left out because an identical row was already written
    general: int = 0  # general instruction examples mixed in
    protocol: Protocol = Protocol()


def chat_turns(e: TrainExample, *, with_observation: bool = False) -> list[tuple[str, str]]:
    """(role, content) turns of one example: system, user prompt, the call, maybe the end."""
    turns = [
        ("system", prompts.SYSTEM),
        ("user", render_serve(e.api_descriptions, e.API_name_list, e.query)),
        ("assistant", f"Thought: {CALL_THOUGHT}\nAction: {e.action}\n"
                      f"Action Input: {e.action_input}"),
    ]
    if with_observation:
        turns += [("user", OBSERVATION + e.observation),
                  ("assistant", f"Thought: I now know the final answer\n"
                                f"Final Answer: {e.final_ans}")]
    return turns


_SHAREGPT_ROLE = {"system": "system", "user": "human", "assistant": "gpt"}


def _row(fmt: str, e: TrainExample, with_observation: bool) -> msgspec.Struct:
    if fmt == "ste-train":
        return SteTrainItem(query=e.query, API_name_list=e.API_name_list,
                            api_descriptions=e.api_descriptions, action=e.action,
                            action_input=e.action_input, observation=e.observation,
                            final_ans=e.final_ans)
    turns = chat_turns(e, with_observation=with_observation)
    if fmt == "openai":
        return ChatRecord(messages=[ChatMessage(role=r, content=c) for r, c in turns])
    return ShareGptRecord(conversations=[
        ShareGptTurn(from_=_SHAREGPT_ROLE[r], value=c) for r, c in turns])


def _general_row(fmt: str, g: GeneralExample) -> msgspec.Struct:
    turns = [("system", NORMAL_SYSTEM), *((t.role, t.content) for t in g.dialog_history),
             ("assistant", f"Final Answer: {g.response}")]
    if fmt == "openai":
        return ChatRecord(messages=[ChatMessage(role=r, content=c) for r, c in turns])
    return ShareGptRecord(conversations=[
        ShareGptTurn(from_=_SHAREGPT_ROLE.get(r, r), value=c) for r, c in turns])


def _encode(fmt: str, examples: list[TrainExample], with_observation: bool,
            keep_duplicates: bool, general: list[GeneralExample] | None = None
            ) -> tuple[bytes, int, int]:
    """The file's bytes, the rows written and the exact duplicates left out (a paraphrase can
    reproduce a query word for word, and without the observation two trials of one query
    become the same row). General examples are written as they are, after the tool ones."""
    rows: list[bytes] = []
    seen: set[bytes] = set()
    for e in examples:
        row = msgspec.json.encode(_row(fmt, e, with_observation))
        if not keep_duplicates:
            if row in seen:
                continue
            seen.add(row)
        rows.append(row)
    dropped = len(examples) - len(rows)
    rows += [msgspec.json.encode(_general_row(fmt, g)) for g in general or ()]
    if fmt == "ste-train":
        return b"[" + b",".join(rows) + b"]", len(rows), dropped
    return b"".join(row + b"\n" for row in rows), len(rows), dropped


def _default_name(fmt: str, k: int | None, replay: bool) -> str:
    stem = {"ste-train": "tool_data_train", "openai": "train_openai",
            "sharegpt": "train_sharegpt"}[fmt]
    if k is not None:  # the study's names for the rounds: CL_round_1.json, ..._no_replay.json
        stem = f"CL_round_{k}" + ("" if replay else "_no_replay") + (
            "" if fmt == "ste-train" else f"_{fmt}")
    return stem + (".json" if fmt == "ste-train" else ".jsonl")


def export_train(
    run_dir: str | Path,
    fmt: str,
    out: str | Path | None = None,
    *,
    with_observation: bool = False,
    batches: str | Path | None = None,
    cl_round: int | None = None,
    replay_ratio: float = 0.1,
    seed: int = 0,
    keep_duplicates: bool = False,
    protocol: Protocol | None = None,
    general: str | Path | None = None,
    no_general: bool = False,
) -> TrainExport:
    """Write the distilled dataset of ``run_dir`` in a training format, maybe one CL round.

    ``batches`` and ``cl_round`` go together; ``replay_ratio=0`` is the no-replay ablation (see
    :mod:`ste_async.distill.continual` for how the replay share is defined). ``protocol``
    (default: the run's, see :func:`run_protocol`) decides how the replay is drawn.
    ``general`` mixes general instruction data into a chat format; under the study's replay
    rule a round needs it, or ``no_general`` to leave it out as the study's ``--no_general``.
    """
    if fmt not in TRAIN_FORMATS:
        raise ConfigError(f"unknown training format {fmt!r}; one of {', '.join(TRAIN_FORMATS)}")
    if (batches is None) != (cl_round is None):
        raise ConfigError("--batches and --round go together: give both or neither")
    if general is not None and no_general:
        raise ConfigError("--general and --no-general contradict each other: give one")
    if general is not None and fmt == "ste-train":
        raise ConfigError("general data has no place in ste-train (a list of tool calls); "
                          "mix it into a chat format: --format openai or sharegpt")
    run_dir = Path(run_dir)
    meta = load_run_meta(run_dir)
    protocol = protocol if protocol is not None else run_protocol(run_dir)
    if (protocol.replay == "study" and cl_round is not None and general is None
            and not no_general and fmt != "ste-train"):
        raise ConfigError(
            "the study mixes general instruction data (2,000 FLAN examples) into every "
            "round, and no package ships such data offline: pass --general FILE (the study's "
            'layout: [{"dialog_history": [...], "response": ...}]) or --no-general')
    if not (run_dir / "distill" / "dataset.json").exists():
        raise StoreError(f"{run_dir} has not been distilled (no distill/dataset.json); run "
                         f"`ste-async distill {run_dir}` first")
    examples = load_examples(run_dir)
    chosen: RoundData | None = None
    if batches is not None and cl_round is not None:
        chosen = select_round(examples, load_batches(batches), cl_round,
                              run_apis=list(meta.apis),
                              replay_ratio=replay_ratio, seed=seed, rule=protocol.replay)
        examples = chosen.examples
    mixed = load_general(general) if general is not None else []
    path = Path(out) if out is not None else run_dir / _default_name(
        fmt, cl_round, replay_ratio > 0)
    data, rows, dropped = _encode(fmt, examples, with_observation, keep_duplicates, mixed)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    apis = len({e.api or e.API_name_list[0] for e in examples})
    card = ExportMeta(
        format=fmt, run_dir=str(run_dir), protocol=protocol, rows=rows, apis=apis,
        general=len(mixed), general_file=None if general is None else str(general),
        duplicates=dropped)
    if chosen is not None:
        card.round, card.new, card.replay = chosen.round, len(chosen.new), len(chosen.replay)
        card.replay_pool = chosen.replay_pool
        card.replay_per_batch = chosen.replay_per_batch if protocol.replay == "study" else None
    write_json_atomic(meta_path(path), card, pretty=True)
    return TrainExport(path=path, examples=rows, apis=apis, round=chosen, duplicates=dropped,
                       general=len(mixed), protocol=protocol)
