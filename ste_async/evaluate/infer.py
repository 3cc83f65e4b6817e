"""``ste-async infer``: run a model on the STE test set and write a prediction file to score.

The test prompt follows the study's evaluation of chat models (its ``test_gpt.py``): one user
message holding the tool-use instructions with every API of the test file described (the names
shuffled once by ``random.seed(0)``), then ``User Query:`` and the query; the model makes one
call and generation stops at ``Observation:`` (temperature 1.0, 256 tokens). In the ``icl``
setting the k nearest training examples (see :mod:`.retrieval`) are shown between the
instructions and the query, in the study's demonstration layout. The wording of the
instructions is this project's own (``test_prompts/``).

Items are sent concurrently over one pooled :class:`~ste_async.llm.LlmClient`: a fixed pool of
workers pulls items, so admission is bounded however large the test set. Every request's seed
derives from (run seed, API, item index); ``--cassette record`` keeps every exchange. The
output is the study's ``{api: [item + {"model_output": text}]}`` layout, which
``ste-async score`` reads, plus ``<out>.meta.json`` describing the run.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import anyio
import msgspec

from .._atomic import write_json_atomic
from .._pool import run_pool
from .._text import load_prompt
from ..catalog import load_catalog
from ..config import LlmSettings
from ..errors import ConfigError, RequestRejectedError, RetryBudgetExceeded
from ..ids import request_seed
from ..llm import Completion, Message
from ..markers import DEMO_INTRO, TEST_PROMPT_MARKER
from ..progress import ProgressSettings, Sample, llm_sample, show_progress
from ..prompts import SYSTEM
from ..session import open_llm
from .retrieval import RetrieverKind, retrieve

__all__ = (
    "STOP",
    "TEST_PROMPT_MARKER",
    "InferConfig",
    "InferMeta",
    "api_order",
    "build_prompt",
    "infer",
    "load_descriptions",
    "load_test_file",
    "tools_prompt",
)

Setting = Literal["zero-shot", "icl"]
Order = Literal["study", "per-item"]
SystemKind = Literal["plain", "tool"]
PromptKind = Literal["tools", "query"]
Demo = tuple[str, str, str]  # (query, action, action_input)

STOP = "Observation:"
_QUERY = "User Query: "


_HERE = "ste_async.evaluate"
_TEMPLATE = load_prompt(_HERE, "test_prompts", "test.txt", marker=TEST_PROMPT_MARKER)
_DEMO_INTRO, _DEMO_OUTRO = (
    part.strip() for part in load_prompt(_HERE, "test_prompts", "demos.txt",
                                         marker=DEMO_INTRO).split("========="))
_SYSTEMS: dict[SystemKind, str] = {
    "plain": SYSTEM, "tool": load_prompt(_HERE, "test_prompts", "system_tool.txt")}


class InferConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything that decides an inference run; the defaults are the study's."""

    test: str
    setting: Setting = "zero-shot"
    demos: str | None = None  # examples file or run directory; None: the items' own "demo"
    k: int = 8
    retriever: RetrieverKind = "auto"
    catalog: str | None = None  # descriptions; None: the built-in catalog
    neighbors: str | None = None  # {gold API: [offered APIs]}: the study's Llama-side setup
    order: Order = "study"
    system: SystemKind = "plain"
    # tools: the candidate-API prompt; query: the query alone, as a model fine-tuned in the
    # study's layout learnt the APIs in its weights and is asked (the study's item_type query)
    prompt: PromptKind = "tools"
    apis: tuple[str, ...] = ()  # evaluate only these gold APIs (the prompt still offers all)
    temperature: float = 1.0
    max_tokens: int = 256
    seed: int = 0
    llm: LlmSettings = LlmSettings(concurrency=64)  # concurrency: items in flight too
    cassette: Literal["off", "record"] = "record"

    def __post_init__(self) -> None:
        if self.k < 1 or self.max_tokens < 1:
            raise ValueError("k and max_tokens must be >= 1")
        if self.prompt == "query" and self.setting == "icl":
            raise ValueError("the query-alone prompt shows no demonstrations; use the "
                             "tools prompt for the icl setting")
        if self.llm.concurrency == "auto":
            raise ValueError("infer needs a number for its concurrency, not 'auto'")
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")


class InferMeta(msgspec.Struct, kw_only=True):
    """The sidecar ``<out>.meta.json``: how the predictions were made, and what it cost."""

    config: dict[str, Any]
    model: str
    retriever: str | None  # None for zero-shot
    demos_available: int
    apis: int
    items: int
    llm_errors: int
    errors: list[str]
    finish_reasons: dict[str, int]
    prompt_tokens: int
    completion_tokens: int
    elapsed_s: float
    api_order: list[str]  # the study order (per-item and neighbour orders are per item)


# ---------------------------------------------------------------- inputs


def _read_json(path: str | Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))  # keeps key order
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} is not valid JSON: {exc}") from None


def load_test_file(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """The study's test layout: ``{api: [{"query", "action", "action_input", ...}]}``."""
    data = _read_json(path, "test file")
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"test file {path} must be a non-empty JSON object {{api: [items]}}")
    for api, items in data.items():
        if not isinstance(items, list):
            raise ConfigError(f"test file {path}: {api!r} should map to a list of items")
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not all(
                    isinstance(item.get(f), str) for f in ("query", "action", "action_input")):
                raise ConfigError(f"test file {path}: item {i} of {api!r} needs string fields "
                                  "'query', 'action' and 'action_input'")
    return data


def load_descriptions(path: str | Path | None, names: Sequence[str]) -> dict[str, str]:
    """The description text of each API: a ToolBench/STE file's own strings, verbatim (so the
    study's ``API_descriptions.json`` gives its exact text), or a catalog's rendering."""
    raw = _read_json(path, "catalog") if path is not None and str(path).endswith(".json") else None
    if isinstance(raw, dict) and all(isinstance(v, str) for v in raw.values()):
        table = raw
    else:
        catalog = load_catalog(path)
        table = {n: catalog[n].prompt_description() for n in names if n in catalog}
    missing = [n for n in names if n not in table]
    if missing:
        where = path or "the built-in catalog"
        raise ConfigError(f"{where} describes no API {missing[0]!r}"
                          + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return {n: table[n] for n in names}


def _load_neighbors(path: str, names: Sequence[str]) -> dict[str, list[str]]:
    data = _read_json(path, "neighbour file")
    if not isinstance(data, dict) or not all(
            isinstance(v, list) and all(isinstance(n, str) for n in v) for v in data.values()):
        raise ConfigError(f"neighbour file {path} must map each API to a list of API names")
    missing = [n for n in names if n not in data]
    if missing:
        raise ConfigError(f"neighbour file {path} has no entry for {missing[0]!r}")
    return data


# ---------------------------------------------------------------- the prompt


def api_order(names: Sequence[str], seed: int) -> list[str]:
    """``names`` shuffled by ``random.Random(seed)``: with seed 0 over the test file's keys,
    exactly the order of the study (``random.seed(0); random.shuffle(names)``)."""
    order = list(names)
    random.Random(seed).shuffle(order)
    return order


def tools_prompt(order: Sequence[str], descriptions: Mapping[str, str]) -> str:
    """The instructions with the offered APIs, in ``order``, described and listed."""
    block = "\n\n".join(f"API_name: {n}\nDescription: {descriptions[n]}" for n in order)
    return _TEMPLATE.format(api_descriptions=block, api_names="\n".join(order))


def build_prompt(tools: str, query: str, demos: Sequence[Demo] | None = None) -> str:
    """The whole user message: instructions, demonstrations (ICL) and the query last."""
    if demos is None:
        return f"{tools}\n\n{_QUERY}{query}"
    shown = "---\n".join(f"{_QUERY}{q}\nAction: {a}\nAction Input: {ai}\n" for q, a, ai in demos)
    return f"{tools}\n\n{_DEMO_INTRO}\n\n{shown}{_DEMO_OUTRO}\n\n{_QUERY}{query}"


def _demo(entry: Any) -> Demo:
    fields = ("query", "action", "action_input")
    if isinstance(entry, dict):
        values = tuple(entry.get(f) for f in fields)
    else:
        values = tuple(getattr(entry, f, None) for f in fields)
    if not all(isinstance(v, str) for v in values):
        raise ConfigError("a demonstration needs string 'query', 'action' and 'action_input'")
    return values  # type: ignore[return-value]


# ---------------------------------------------------------------- running


class _Job(msgspec.Struct, frozen=True):
    api: str
    index: int
    messages: list[Message]
    seed: int


async def infer(config: InferConfig, out: str | Path, llm_urls: Sequence[str], *,
                progress: ProgressSettings | None = None) -> InferMeta:
    """Run the test set of ``config`` against the servers at ``llm_urls``; write ``out`` and
    its sidecar. ``progress`` shows how far it got (None: quiet)."""
    out = Path(out)
    started = time.monotonic()
    data = load_test_file(config.test)
    names = list(data)
    chosen = [a for a in names if not config.apis or a in config.apis]
    unknown = [a for a in config.apis if a not in data]
    if unknown:
        raise ConfigError(f"API {unknown[0]!r} is not in the test file {config.test}")
    neighbors = _load_neighbors(config.neighbors, chosen) if config.neighbors else None
    offered = sorted({n for v in neighbors.values() for n in v}) if neighbors else names
    descriptions = load_descriptions(config.catalog, offered)
    items = [(api, i, item) for api in chosen for i, item in enumerate(data[api])]

    demos: list[list[Demo]] | None = None
    retriever, available = None, 0
    if config.setting == "icl":
        demos, retriever, available = await _demonstrations(config, [it for *_, it in items])

    study = api_order(names, config.seed)
    shared = tools_prompt(study, descriptions) if neighbors is None and config.order == "study" \
        else None
    jobs = []
    for n, (api, index, item) in enumerate(items):
        seed = request_seed(config.seed, f"test:{api}", index, 0, 0)
        tools = shared
        if neighbors is not None:
            tools = tools_prompt(neighbors[api], descriptions)  # the study kept their order
        elif tools is None:
            tools = tools_prompt(api_order(names, seed), descriptions)
        prompt = (item["query"] if config.prompt == "query" else
                  build_prompt(tools, item["query"], None if demos is None else demos[n]))
        messages = [{"role": "system", "content": _SYSTEMS[config.system]},
                    {"role": "user", "content": prompt}]
        jobs.append(_Job(api, index, messages, seed))

    cassette_dir = None if config.cassette == "off" else out.parent / f"{out.stem}.cassette"
    errors: list[str] = []

    concurrency = int(config.llm.concurrency)
    finished = 0

    def count(done: int) -> None:
        nonlocal finished
        finished = done

    async with open_llm(config.llm, llm_urls, seed=config.seed, record_to=cassette_dir
                        ) as (client, llm, model):
        async def one(job: _Job) -> Completion | None:
            try:
                return await llm.complete(job.messages, stop=STOP, seed=job.seed,
                                          temperature=config.temperature,
                                          max_tokens=config.max_tokens,
                                          affinity=f"{job.api}#{job.index}")
            except (RetryBudgetExceeded, RequestRejectedError) as exc:
                # the item scores as unparseable, as a model that said nothing would
                errors.append(f"{job.api}#{job.index}: {exc}")
                return None

        def sample() -> Sample:
            return llm_sample(client, stage="infer", done=finished, total=len(jobs),
                              errors={"failed": len(errors)})

        async with show_progress(sample, progress):
            replies = await run_pool(jobs, one, concurrency, count)

    predictions: dict[str, list[dict[str, Any]]] = {api: [] for api in chosen}
    finish: dict[str, int] = {}
    for (api, _, item), reply in zip(items, replies, strict=True):
        predictions[api].append({**item, "model_output": reply.text if reply else ""})
        reason = (reply.finish_reason or "none") if reply else "error"
        finish[reason] = finish.get(reason, 0) + 1
    meta = InferMeta(
        config=msgspec.to_builtins(config), model=model, retriever=retriever,
        demos_available=available, apis=len(chosen), items=len(items), llm_errors=len(errors),
        errors=errors[:20], finish_reasons=dict(sorted(finish.items())),
        prompt_tokens=sum(r.prompt_tokens for r in replies if r),
        completion_tokens=sum(r.completion_tokens for r in replies if r),
        elapsed_s=round(time.monotonic() - started, 3), api_order=study,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    await anyio.to_thread.run_sync(write_json_atomic, out, predictions)
    await anyio.to_thread.run_sync(write_json_atomic, out.with_name(out.name + ".meta.json"),
                                   meta)
    return meta


async def _demonstrations(config: InferConfig, items: Sequence[dict[str, Any]]
                          ) -> tuple[list[list[Demo]], str, int]:
    """The demonstrations of every item, the retriever's name and the pool size."""
    if config.demos is None:
        # the study's tool_test_with_demo.json carries each item's retrieved demos already
        if not all(isinstance(item.get("demo"), list) for item in items):
            raise ConfigError("--setting icl needs --demos FILE_OR_RUN (the test items carry "
                              "no 'demo' lists of their own)")
        return [[_demo(d) for d in item["demo"][: config.k]] for item in items], "given", 0
    from ..distill.examples import load_examples

    pool = [_demo(e) for e in await anyio.to_thread.run_sync(load_examples, config.demos)]
    if not pool:
        raise ConfigError(f"{config.demos} holds no demonstrations")
    ranked, name = await retrieve(config.retriever, [q for q, _, _ in pool],
                                  [item["query"] for item in items], config.k)
    return [[pool[j] for j in row] for row in ranked], name, len(pool)
