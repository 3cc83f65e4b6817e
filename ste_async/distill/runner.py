"""``ste-async distill``: judge the explored trials, paraphrase the kept queries, write data.

Two phases over a fixed pool of ``llm.concurrency`` worker tasks pulling from one iterator (no
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

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import anyio
import msgspec

from .. import prompts
from .._appendlog import AppendLog
from .._atomic import write_json_atomic
from .._pool import run_pool
from ..cassette import Cassette, CassetteMode
from ..config import LlmSettings
from ..errors import RequestRejectedError, StoreError
from ..ids import request_seed
from ..llm.preflight import checked_model
from ..progress import ProgressSettings, Sample, llm_sample, show_progress
from ..protocol import POINTS, Protocol
from ..session import cassette_mode, locked, open_llm
from . import prompting
from .candidates import (
    Candidate,
    Judgment,
    ParaphraseSet,
    build_examples,
    find_candidates,
    is_kept,
    load_run,
    paraphrase_count,
    read_journal,
)
from .examples import write_examples

__all__ = (
    "ApiSummary",
    "DistillConfig",
    "DistillMeta",
    "DistillReport",
    "DistillSettings",
    "distill",
    "paraphrase_quota",
    "read_distill_meta",
)

JUDGMENTS = "distill/judgments.jsonl"
PARAPHRASES = "distill/paraphrases.jsonl"


class DistillConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything that decides a distillation."""

    # llm.concurrency: items in flight, and LLM requests in flight
    llm: LlmSettings = LlmSettings(concurrency=64)
    target: int = 150  # examples per API the paraphrases aim at (originals included)
    max_paraphrases: int = 6  # per kept example
    seed: int = 0
    temperature: float = 1.0  # the study samples the judge and the paraphraser at 1.0
    judge_max_tokens: int = 512
    paraphrase_max_tokens: int = 256
    # the judge's keep rule and the paraphrase handling; None: the run's recorded protocol
    protocol: Protocol | None = None

    def __post_init__(self) -> None:
        if self.llm.concurrency == "auto":
            raise ValueError("distill needs a number for its concurrency, not 'auto'")
        for name in ("target", "judge_max_tokens", "paraphrase_max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_paraphrases < 0:
            raise ValueError(f"max_paraphrases must be >= 0, got {self.max_paraphrases}")
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")


class ApiSummary(msgspec.Struct, kw_only=True):
    """Counts of one API."""

    candidates: int = 0
    kept: int = 0  # by the protocol's judge rule
    kept_reference: int = 0  # by the study's reading (no "No." in the reply)
    kept_all_yes: int = 0  # by this project's reading (all three verdicts Yes)
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
    kept: int  # by the protocol's judge rule
    kept_reference: int
    examples: int
    unreadable_lines: int
    llm_requests: int
    per_api: dict[str, ApiSummary]
    kept_all_yes: int = 0
    protocol: Protocol = Protocol()

    def summary(self) -> str:
        """One line for the terminal."""
        return (f"{len(self.per_api)} APIs: {self.candidates} candidate trials "
                f"({self.judged_now} judged now), {self.kept} kept by the "
                f"{self.protocol.judge_rule} rule ({self.kept_all_yes} all-yes, "
                f"{self.kept_reference} by the study's reading), {self.examples} examples, "
                f"{self.llm_requests} LLM requests, protocol {self.protocol.describe()} -> "
                f"{self.dataset}")


class DistillSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The settings that decide what a finished item is; a resumed distillation must agree
    on every one."""

    target: int
    max_paraphrases: int
    seed: int
    temperature: float
    judge_max_tokens: int
    paraphrase_max_tokens: int
    protocol: Protocol = Protocol()  # a card written before the switch: the improved way

    @classmethod
    def of(cls, config: DistillConfig, protocol: Protocol) -> DistillSettings:
        return cls(protocol=protocol, **{f: getattr(config, f)
                                         for f in cls.__struct_fields__ if f != "protocol"})


class DistillMeta(msgspec.Struct, kw_only=True):
    """``distill/distill.json``: how a distillation was made and, once finished, its counts."""

    config: DistillSettings
    model: str
    cassette: CassetteMode
    summary: DistillReport | None = None
    schema: int = 1


def read_distill_meta(path: Path) -> DistillMeta | None:
    """The distillation card at ``path``; None when there is none; one clear error when it
    cannot be read."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=DistillMeta)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise StoreError(f"{path} is corrupt ({exc}); delete the distill folder to start over"
                         ) from None


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


class _Distiller:
    """The per-item work, sharing one LLM (maybe recorded) and one journal writer."""

    def __init__(self, config: DistillConfig, llm: Any, journal: AppendLog, client: Any,
                 protocol: Protocol):
        self.config = config
        self.protocol = protocol
        self.llm = llm
        self.journal = journal
        self.client = client
        self.judgments: dict[str, Judgment] = {}
        self.paraphrases: dict[str, ParaphraseSet] = {}
        self.requests = 0
        self.rejected = 0  # items the server refused (recorded with their error)

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
            self.rejected += 1
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
        study = self.protocol.paraphrase_cleanup == "study"
        first = (prompting.paraphrase_first_study(c.query) if study
                 else prompting.paraphrase_first(c.query))
        again = prompting.STUDY_PARAPHRASE_AGAIN if study else prompting.PARAPHRASE_AGAIN
        messages = [{"role": "system", "content": prompts.SYSTEM},
                    {"role": "user", "content": first}]
        replies: list[str] = []
        error = None
        try:
            for k in range(wanted):
                if k:
                    messages.append({"role": "user", "content": again})
                seed = request_seed(self.config.seed, f"paraphrase|{c.api}", c.episode,
                                    c.trial, k)
                text = await self._ask(messages, seed=seed, affinity=c.id,
                                       max_tokens=self.config.paraphrase_max_tokens)
                replies.append(text)
                messages.append({"role": "assistant", "content": text})
        except RequestRejectedError as exc:  # the conversation outgrew the context: keep some
            error = str(exc)
            self.rejected += 1
        finally:
            self._release(c.id)
        seen = {_norm(c.query)}
        kept: list[str] = []
        for text in map(prompting.clean_paraphrase, replies):
            if text and _norm(text) not in seen:
                seen.add(_norm(text))
                kept.append(text)
        if study:  # the study trains on every reply as it came
            kept = list(replies)
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


class _Phase:
    """How far one phase got: the finished items, those of an earlier start included."""

    def __init__(self, name: str, before: int, total: int):
        self.name = name
        self.before = before
        self.done = before
        self.total = total

    def advance(self, finished_now: int) -> None:
        self.done = self.before + finished_now


def _check_resume(old: DistillSettings, new: DistillSettings, where: Path) -> None:
    pairs = [(key, getattr(old, key), getattr(new, key))
             for key in DistillSettings.__struct_fields__ if key != "protocol"]
    # the protocol point by point, so the refusal names the one that changed
    pairs += [(f"protocol.{key}", getattr(old.protocol, key), getattr(new.protocol, key))
              for key in ("mode", *POINTS)]
    for key, was, now in pairs:
        if was != now:
            raise StoreError(f"{where} was distilled with {key}={was!r}; this run has "
                             f"{key}={now!r}. Resume with the same settings, or delete it.")


def paraphrase_quota(kept: int, config: DistillConfig, protocol: Protocol) -> int:
    """Paraphrases asked per kept example of an API: :func:`paraphrase_count`, which is never
    below 0; the study asks its first paraphrase whatever the count says, so under its rule
    the quota is at least 1."""
    n = paraphrase_count(kept, config.target, config.max_paraphrases)
    return max(n, 1) if protocol.paraphrase_cleanup == "study" else n


def _summaries(candidates: list[Candidate], judgments: dict[str, Judgment],
               quota: dict[str, int], examples: Iterable[Any], protocol: Protocol
               ) -> dict[str, ApiSummary]:
    """Counts per API; ``kept`` follows the protocol's rule."""
    out: dict[str, ApiSummary] = {}
    for c in candidates:
        s = out.setdefault(c.api, ApiSummary(paraphrases_each=quota.get(c.api, 0)))
        s.candidates += 1
        j = judgments.get(c.id)
        s.kept += is_kept(j, protocol.judge_rule)
        s.kept_all_yes += is_kept(j, "all-yes")
        s.kept_reference += is_kept(j, "study")
    for api, n in Counter(e.api for e in examples).items():
        out.setdefault(api, ApiSummary()).examples = n
    return out


async def distill(
    run_dir: str | Path,
    config: DistillConfig,
    llm_urls: Sequence[str],
    *,
    resume: bool = False,
    cassette: CassetteMode = "record",
    wrap_llm: Callable[[Any], Any] | None = None,
    progress: ProgressSettings | None = None,
) -> DistillReport:
    """Distil ``run_dir``'s explored trials into ``run_dir/distill/dataset.json``, asking the
    servers at ``llm_urls``. ``progress`` shows how far it got (None: quiet).

    ``wrap_llm`` wraps the LLM the workers call (after the cassette), which tests use to count
    or break requests.
    """
    run_dir = Path(run_dir)
    info = load_run(run_dir)
    out_dir = run_dir / "distill"
    meta_path = out_dir / "distill.json"
    with locked(run_dir):
        protocol = config.protocol or info.meta.config.protocol
        settings = DistillSettings.of(config, protocol)
        old_meta = read_distill_meta(meta_path)
        if old_meta is not None or (run_dir / JUDGMENTS).exists():
            if not resume:
                raise StoreError(f"{out_dir} already holds a distillation; pass --resume to "
                                 "continue it, or delete that folder to start over")
            if old_meta is not None:
                _check_resume(old_meta.config, settings, out_dir)
        cassette = cassette_mode(cassette, resume)
        candidates = await anyio.to_thread.run_sync(find_candidates, info)
        judged, bad_j = read_journal(run_dir / JUDGMENTS, Judgment)
        done, bad_p = read_journal(run_dir / PARAPHRASES, ParaphraseSet)
        concurrency = int(config.llm.concurrency)

        model = await checked_model(list(llm_urls), config.llm.model,
                                    config.llm.timeouts.connect)
        if old_meta is not None and old_meta.model != model:
            raise StoreError(f"{out_dir} was distilled with model {old_meta.model!r}; "
                             f"this run asks {model!r}")
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(meta_path, DistillMeta(config=settings, model=model,
                                                 cassette=cassette), pretty=True)
        async with AppendLog(run_dir) as journal:
            recorder = None
            if cassette != "off":
                async def append(name: str, line: bytes) -> None:
                    await journal.append(f"distill/{name}", line)

                recorder = await Cassette.open(out_dir, "llm", cassette, append)
            async with open_llm(config.llm, llm_urls, seed=config.seed, cassette=recorder,
                                model=model) as side:
                llm: Any = side.llm if wrap_llm is None else wrap_llm(side.llm)
                worker = _Distiller(config, llm, journal, side.client, protocol)
                worker.judgments.update(judged)
                worker.paraphrases.update(done)
                todo = [c for c in candidates if c.id not in judged]
                phase = _Phase("judge", len(candidates) - len(todo), len(candidates))

                def sample() -> Sample:
                    return llm_sample(side.client, stage=phase.name, done=phase.done,
                                      total=phase.total, unit="trials",
                                      errors={"rejected": worker.rejected})

                async with show_progress(sample, progress) as display:
                    await run_pool(todo, worker.judge, concurrency, phase.advance)

                    rule = protocol.judge_rule
                    kept = Counter(c.api for c in candidates
                                   if is_kept(worker.judgments[c.id], rule))
                    quota = {api: paraphrase_quota(n, config, protocol)
                             for api, n in kept.items()}
                    wanted = [c for c in candidates
                              if is_kept(worker.judgments[c.id], rule) and quota[c.api] > 0]
                    jobs = [(c, quota[c.api]) for c in wanted if c.id not in done]
                    if display is not None:
                        display.tick()  # the judging as it ended, before the next bar
                    phase = _Phase("paraphrase", len(wanted) - len(jobs), len(wanted))
                    await run_pool(jobs, worker.paraphrase, concurrency, phase.advance)

        examples = build_examples(candidates, worker.judgments, worker.paraphrases,
                                  protocol.judge_rule)
        dataset = out_dir / "dataset.json"
        await anyio.to_thread.run_sync(write_examples, dataset, examples)
        per_api = _summaries(candidates, worker.judgments, quota, examples, protocol)
        report = DistillReport(
            run_dir=str(run_dir), dataset=str(dataset), model=model,
            candidates=len(candidates), judged_now=len(todo), paraphrased_now=len(jobs),
            kept=sum(s.kept for s in per_api.values()),
            kept_reference=sum(s.kept_reference for s in per_api.values()),
            kept_all_yes=sum(s.kept_all_yes for s in per_api.values()),
            examples=len(examples), unreadable_lines=bad_j + bad_p,
            llm_requests=worker.requests, per_api=per_api, protocol=protocol)
        write_json_atomic(meta_path, DistillMeta(config=settings, model=model,
                                                 cassette=cassette, summary=report),
                          pretty=True)
        return report
