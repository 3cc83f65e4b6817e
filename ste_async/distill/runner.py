"""``ste-async distill``: judge the explored trials, paraphrase the kept queries, write data.

Two phases over a fixed pool of ``concurrency`` worker tasks pulling from one iterator (no
task per item is ever created up front):

1. **judge** every candidate trial not yet in ``distill/judgments.jsonl``;
2. **paraphrase** every kept query not yet in ``distill/paraphrases.jsonl``, in one
   conversation per query; the quota per API needs that API's final kept count, which is why
   the phases do not overlap.

Each finished item is appended as one line by an :class:`~ste_async._appendlog.AppendLog`
rooted at the run directory, and every LLM exchange is recorded in
``distill/cassettes/llm.jsonl``. ``resume=True`` skips the items already written (torn lines
are skipped and redone) and replays the recorded exchanges of interrupted ones, so a crash
costs no LLM work. At the end ``distill/dataset.json`` holds the training examples.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio
import msgspec

from .. import prompts
from .._appendlog import AppendLog
from ..cassette import Cassette, CassetteMode, RecordedLlm
from ..config import RetryConfig, Timeouts
from ..errors import RequestRejectedError, SteError, StoreError
from ..ids import request_seed
from ..llm import LlmClient
from ..llm.endpoints import llm_endpoints
from ..llm.preflight import checked_model
from ..store import lock_run
from . import prompting
from .candidates import (
    Candidate,
    Judgment,
    ParaphraseSet,
    build_examples,
    find_candidates,
    load_run,
    paraphrase_count,
    read_journal,
)
from .examples import write_examples

__all__ = ("ApiSummary", "DistillConfig", "DistillReport", "distill")

T = TypeVar("T")

JUDGMENTS = "distill/judgments.jsonl"
PARAPHRASES = "distill/paraphrases.jsonl"
# settings that decide what a finished item is; a resumed distillation must agree on them
_PROTOCOL = ("target", "max_paraphrases", "seed", "temperature", "judge_max_tokens",
             "paraphrase_max_tokens")


class DistillConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything that decides a distillation."""

    llm_urls: tuple[str, ...] = ()
    model: str = "default"
    target: int = 150  # examples per API the paraphrases aim at (originals included)
    max_paraphrases: int = 6  # per kept example
    concurrency: int = 64  # items in flight (and LLM requests in flight)
    seed: int = 0
    temperature: float = 1.0  # the study samples the judge and the paraphraser at 1.0
    judge_max_tokens: int = 512
    paraphrase_max_tokens: int = 256
    api_key_env: str = "OPENAI_API_KEY"
    llm_timeouts: Timeouts = Timeouts()
    llm_retry: RetryConfig = RetryConfig(attempts=200, base=0.5, cap=10.0, max_elapsed=900.0)

    def __post_init__(self) -> None:
        for name in ("target", "concurrency", "judge_max_tokens", "paraphrase_max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_paraphrases < 0:
            raise ValueError(f"max_paraphrases must be >= 0, got {self.max_paraphrases}")
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")


class ApiSummary(msgspec.Struct, kw_only=True):
    """Counts of one API."""

    candidates: int = 0
    kept: int = 0
    kept_reference: int = 0
    paraphrases_each: int = 0
    examples: int = 0


class DistillReport(msgspec.Struct, kw_only=True):
    """What a distillation did, and what the dataset holds."""

    run_dir: str
    dataset: str
    model: str
    candidates: int
    judged_now: int
    paraphrased_now: int
    kept: int
    kept_reference: int
    examples: int
    unreadable_lines: int
    llm_requests: int
    per_api: dict[str, ApiSummary]

    def summary(self) -> str:
        """One line for the terminal."""
        return (f"{len(self.per_api)} APIs: {self.candidates} candidate trials "
                f"({self.judged_now} judged now), {self.kept} kept ({self.kept_reference} by "
                f"the study's reading), {self.examples} examples, {self.llm_requests} LLM "
                f"requests -> {self.dataset}")


@contextlib.contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    """The run directory's lock, so neither an exploration nor a second distill writes it."""
    fd = lock_run(run_dir)
    try:
        yield
    finally:
        os.close(fd)


async def _pool(items: Iterable[T], work: Callable[[T], Awaitable[None]], workers: int) -> None:
    """Run ``work`` on every item with at most ``workers`` at once; the first error ends it."""
    source = iter(items)
    fatal: list[SteError] = []

    async def worker(scope: anyio.CancelScope) -> None:
        for item in source:  # one thread, so pulling from a shared iterator cannot race
            try:
                await work(item)
            except SteError as exc:
                fatal.append(exc)
                scope.cancel()
                return

    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker, tg.cancel_scope)
    if fatal:
        raise fatal[0]  # outside the task group, so it is not wrapped in a group


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


class _Distiller:
    """The per-item work, sharing one LLM (maybe recorded) and one journal writer."""

    def __init__(self, config: DistillConfig, llm: Any, journal: AppendLog, client: Any):
        self.config = config
        self.llm = llm
        self.journal = journal
        self.client = client
        self.judgments: dict[str, Judgment] = {}
        self.paraphrases: dict[str, ParaphraseSet] = {}
        self.requests = 0

    async def _ask(self, messages: list[dict[str, str]], *, seed: int, max_tokens: int,
                   affinity: str) -> str:
        self.requests += 1
        reply = await self.llm.complete(messages, stop=None, seed=seed,
                                        temperature=self.config.temperature,
                                        max_tokens=max_tokens, affinity=affinity)
        return str(reply.text)

    async def judge(self, c: Candidate) -> None:
        seed = request_seed(self.config.seed, f"judge|{c.api}", c.episode, c.trial, 0)
        prompt = prompting.render_judge(
            api_descriptions=c.api_descriptions, query=c.query, action=c.action,
            action_input=c.action_input, observation=c.observation, final_ans=c.final_ans)
        messages = [{"role": "system", "content": prompts.SYSTEM},
                    {"role": "user", "content": prompt}]
        error = None
        try:
            text = await self._ask(messages, seed=seed, affinity=c.id,
                                   max_tokens=self.config.judge_max_tokens)
        except RequestRejectedError as exc:  # asking again cannot help: record it as rejected
            text, error = "", str(exc)
        finally:
            self._release(c.id)
        verdicts = prompting.read_verdicts(text)
        item = Judgment(id=c.id, api=c.api, query=c.query, text=text, verdicts=verdicts,
                        kept=error is None and all(v is True for v in verdicts),
                        kept_reference=error is None and prompting.reference_keep(text),
                        seed=seed, error=error)
        self.judgments[c.id] = item
        await self._write(JUDGMENTS, item)

    async def paraphrase(self, job: tuple[Candidate, int]) -> None:
        c, wanted = job
        messages = [{"role": "system", "content": prompts.SYSTEM},
                    {"role": "user", "content": prompting.paraphrase_first(c.query)}]
        replies: list[str] = []
        error = None
        try:
            for k in range(wanted):
                if k:
                    messages.append({"role": "user", "content": prompting.PARAPHRASE_AGAIN})
                seed = request_seed(self.config.seed, f"paraphrase|{c.api}", c.episode,
                                    c.trial, k)
                text = await self._ask(messages, seed=seed, affinity=c.id,
                                       max_tokens=self.config.paraphrase_max_tokens)
                replies.append(text)
                messages.append({"role": "assistant", "content": text})
        except RequestRejectedError as exc:  # the conversation outgrew the context: keep some
            error = str(exc)
        finally:
            self._release(c.id)
        seen = {_norm(c.query)}
        kept: list[str] = []
        for text in map(prompting.clean_paraphrase, replies):
            if text and _norm(text) not in seen:
                seen.add(_norm(text))
                kept.append(text)
        item = ParaphraseSet(id=c.id, api=c.api, query=c.query, requested=wanted,
                             replies=replies, paraphrases=kept, error=error)
        self.paraphrases[c.id] = item
        await self._write(PARAPHRASES, item)

    async def _write(self, name: str, item: msgspec.Struct) -> None:
        # shielded: an item whose reply arrived is never lost to a cancellation in between
        with anyio.CancelScope(shield=True):
            await self.journal.append(name, msgspec.json.encode(item) + b"\n")

    def _release(self, affinity: str) -> None:
        release = getattr(self.client, "release_affinity", None)
        if release is not None:
            release(affinity)


def _check_resume(old: dict[str, Any], config: DistillConfig, where: Path) -> None:
    for key in _PROTOCOL:
        new = getattr(config, key)
        if key in old and old[key] != new:
            raise StoreError(f"{where} was distilled with {key}={old[key]!r}; this run has "
                             f"{key}={new!r}. Resume with the same settings, or delete it.")


def _summaries(candidates: list[Candidate], judgments: dict[str, Judgment],
               quota: dict[str, int], examples: Iterable[Any]) -> dict[str, ApiSummary]:
    out: dict[str, ApiSummary] = {}
    for c in candidates:
        s = out.setdefault(c.api, ApiSummary(paraphrases_each=quota.get(c.api, 0)))
        s.candidates += 1
        j = judgments.get(c.id)
        s.kept += bool(j and j.kept)
        s.kept_reference += bool(j and j.kept_reference)
    for api, n in Counter(e.api for e in examples).items():
        out.setdefault(api, ApiSummary()).examples = n
    return out


async def distill(
    run_dir: str | Path,
    config: DistillConfig,
    *,
    resume: bool = False,
    mock_llm: Any | None = None,
    cassette: CassetteMode = "record",
    wrap_llm: Callable[[Any], Any] | None = None,
) -> DistillReport:
    """Distil ``run_dir``'s explored trials into ``run_dir/distill/dataset.json``.

    ``mock_llm`` (a MockLlmConfig) runs the scripted LLM in-process; ``wrap_llm`` wraps the
    LLM the workers call (after the cassette), which tests use to count or break requests.
    """
    run_dir = Path(run_dir)
    info = load_run(run_dir)
    out_dir = run_dir / "distill"
    meta_path = out_dir / "distill.json"
    with _locked(run_dir):
        old_meta: dict[str, Any] = {}
        if meta_path.exists() or (run_dir / JUDGMENTS).exists():
            if not resume:
                raise StoreError(f"{out_dir} already holds a distillation; pass --resume to "
                                 "continue it, or delete that folder to start over")
            if meta_path.exists():
                old_meta = msgspec.json.decode(meta_path.read_bytes())
                _check_resume(old_meta.get("config", {}), config, out_dir)
        if resume and cassette == "record":
            cassette = "replay-then-live"  # what the interrupted run recorded is not redone
        out_dir.mkdir(parents=True, exist_ok=True)
        candidates = await anyio.to_thread.run_sync(find_candidates, info)
        judged, bad_j = read_journal(run_dir / JUDGMENTS, Judgment)
        done, bad_p = read_journal(run_dir / PARAPHRASES, ParaphraseSet)
        settings = {k: getattr(config, k) for k in _PROTOCOL}

        async with llm_endpoints(config.llm_urls, mock_llm) as urls:
            model = await checked_model(urls, config.model, config.llm_timeouts.connect)
            if old_meta.get("model") not in (None, model):
                raise StoreError(f"{out_dir} was distilled with model {old_meta['model']!r}; "
                                 f"this run asks {model!r}")
            _write_json(meta_path, {"schema": 1, "config": settings, "model": model,
                                    "cassette": cassette})
            async with (
                LlmClient(urls, model, concurrency=config.concurrency,
                          timeouts=config.llm_timeouts, retry=config.llm_retry,
                          api_key_env=config.api_key_env, seed=config.seed) as client,
                AppendLog(run_dir) as journal,
            ):
                llm: Any = client
                if cassette != "off":
                    async def append(name: str, line: bytes) -> None:
                        await journal.append(f"distill/{name}", line)

                    llm = RecordedLlm(client, await Cassette.open(out_dir, "llm", cassette, append),
                                      model)
                if wrap_llm is not None:
                    llm = wrap_llm(llm)
                worker = _Distiller(config, llm, journal, client)
                worker.judgments.update(judged)
                worker.paraphrases.update(done)
                todo = [c for c in candidates if c.id not in judged]
                await _pool(todo, worker.judge, min(config.concurrency, len(todo)))

                kept = Counter(c.api for c in candidates if worker.judgments[c.id].kept)
                quota = {api: paraphrase_count(n, config.target, config.max_paraphrases)
                         for api, n in kept.items()}
                jobs = [(c, quota[c.api]) for c in candidates
                        if worker.judgments[c.id].kept and quota[c.api] > 0
                        and c.id not in done]
                await _pool(jobs, worker.paraphrase, min(config.concurrency, len(jobs)))

        examples = build_examples(candidates, worker.judgments, worker.paraphrases)
        dataset = out_dir / "dataset.json"
        await anyio.to_thread.run_sync(write_examples, dataset, examples)
        per_api = _summaries(candidates, worker.judgments, quota, examples)
        report = DistillReport(
            run_dir=str(run_dir), dataset=str(dataset), model=model,
            candidates=len(candidates), judged_now=len(todo), paraphrased_now=len(jobs),
            kept=sum(s.kept for s in per_api.values()),
            kept_reference=sum(s.kept_reference for s in per_api.values()),
            examples=len(examples), unreadable_lines=bad_j + bad_p,
            llm_requests=worker.requests, per_api=per_api)
        _write_json(meta_path, {"schema": 1, "config": settings, "model": model,
                                "cassette": cassette,
                                "summary": msgspec.to_builtins(report)})
        return report


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(value)))
    os.replace(tmp, path)
