"""What distillation works on: candidate trials, the journal lines, the paraphrase quota.

A candidate is an explored trial that ended in a Final Answer after at least one parsed call
that got an observation; like the study, the example is built from the LAST such call before
the final answer. Candidates are identified by ``"API#N/t"`` (episode id, trial index).

The journal (``distill/judgments.jsonl``, ``distill/paraphrases.jsonl``) holds one line per
finished item, appended as items finish; :func:`read_journal` reads it back the way the
episode store is read (torn or undecodable lines skipped and counted, first line per id wins).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeVar

import msgspec

from .. import prompts
from ..catalog import load_catalog
from ..protocol import JudgeRule
from ..records import EpisodeRecord, Step
from ..session import RunMeta, load_run_meta
from ..store import iter_records
from .examples import TrainExample

__all__ = (
    "Candidate",
    "Judgment",
    "ParaphraseSet",
    "RunInfo",
    "build_examples",
    "candidates_of",
    "find_candidates",
    "is_kept",
    "load_run",
    "paraphrase_count",
    "read_journal",
)

log = logging.getLogger("ste_async.distill")


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """One explored trial worth judging, with the call its final answer rests on."""

    id: str  # "API#N/t"
    api: str
    episode: int
    trial: int
    query: str
    action: str
    action_input: str
    observation: str
    final_ans: str
    api_descriptions: str


class Judgment(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A line of judgments.jsonl: the judge's full reply and both readings of it."""

    id: str
    api: str
    query: str
    text: str
    verdicts: list[bool | None]  # informative, faithful, appropriate
    kept: bool  # this project's reading: all three verdicts are Yes
    kept_reference: bool  # the study's reading: no "No." anywhere in the reply
    seed: int
    error: str | None = None  # the request was refused (a reply is then never kept)


class ParaphraseSet(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A line of paraphrases.jsonl: the rewordings of one kept query."""

    id: str
    api: str
    query: str
    requested: int
    replies: list[str]  # what the model wrote, in order
    # cleaned, without empties and repeats of the query or each other (the study's rule: the
    # replies as they are)
    paraphrases: list[str]
    error: str | None = None


class RunInfo(msgspec.Struct, kw_only=True):
    """The parts of an explored run that distillation needs."""

    run_dir: str
    meta: RunMeta
    apis: list[str]  # the run's API order
    descriptions: dict[str, str]  # the API block shown to the model, per API


def load_run(run_dir: str | Path) -> RunInfo:
    """run.json and the API descriptions of an explored run."""
    run_dir = Path(run_dir)
    meta = load_run_meta(run_dir)
    catalog = load_catalog(meta.config.catalog)
    apis = list(meta.apis)
    verbatim = meta.config.protocol.descriptions == "study"  # what exploration showed
    descriptions = {api: prompts.api_block(
        [(api, catalog[api].prompt_description(verbatim=verbatim))])
        for api in apis if api in catalog}
    for api in apis:
        if api not in descriptions:
            log.warning("API %r of %s is not in its catalog; its description is left empty",
                        api, run_dir)
    return RunInfo(run_dir=str(run_dir), meta=meta, apis=apis, descriptions=descriptions)


def _last_call(steps: list[Step]) -> Step | None:
    for step in reversed(steps[:-1]):
        if step.kind == "call" and step.action is not None and step.observation is not None:
            return step
    return None


def candidates_of(record: EpisodeRecord, description: str) -> list[Candidate]:
    """The candidate trials of one episode, in trial order."""
    out = []
    for trial in record.trials:
        if not trial.steps or trial.steps[-1].kind != "final":
            continue
        call = _last_call(trial.steps)
        if call is None:
            continue
        out.append(Candidate(
            id=f"{record.id}/{trial.index}", api=record.api, episode=record.episode,
            trial=trial.index, query=trial.query, action=call.action or "",
            action_input=call.action_input or "", observation=call.observation or "",
            final_ans=trial.steps[-1].final_answer or "", api_descriptions=description))
    return out


def find_candidates(info: RunInfo) -> list[Candidate]:
    """Every candidate of the run: APIs in run order, then episode and trial number."""
    rank = {api: i for i, api in enumerate(info.apis)}
    found: list[Candidate] = []
    for record in iter_records(info.run_dir):
        found += candidates_of(record, info.descriptions.get(record.api, ""))
    found.sort(key=lambda c: (rank.get(c.api, len(rank)), c.api, c.episode, c.trial))
    return found


def paraphrase_count(kept: int, target: int, cap: int) -> int:
    """Paraphrases per kept example of an API, as the study computes it, never below 0.

    ``min(round(target / (kept + 0.001)) - 1, cap)``: enough to bring the API near ``target``
    examples (originals included) without more than ``cap`` rewordings of one query.
    """
    return max(0, min(round(target / (kept + 0.001)) - 1, cap))


_S = TypeVar("_S", Judgment, ParaphraseSet)


def read_journal(path: str | Path, kind: type[_S]) -> tuple[dict[str, _S], int]:
    """The lines of a journal file by id, and how many lines could not be read."""
    path = Path(path)
    found: dict[str, _S] = {}
    bad = 0
    if not path.exists():
        return found, bad
    decoder = msgspec.json.Decoder(kind)
    with path.open("rb") as f:
        for line in f:
            if not line.strip():
                continue
            if not line.endswith(b"\n"):
                bad += 1  # torn by a crash mid-write
                continue
            try:
                item = decoder.decode(line)
            except msgspec.DecodeError:
                bad += 1
                continue
            found.setdefault(item.id, item)
    if bad:
        log.warning("skipped %d unreadable line(s) in %s", bad, path)
    return found, bad


def is_kept(judged: Judgment | None, rule: JudgeRule = "all-yes") -> bool:
    """Whether a judged trial is kept: by this project's reading (all three verdicts Yes), or
    by the study's (``rule="study"``: no ``"No."`` anywhere in the reply)."""
    if judged is None:
        return False
    return judged.kept_reference if rule == "study" else judged.kept


def build_examples(candidates: Iterable[Candidate], judgments: Mapping[str, Judgment],
                   paraphrases: Mapping[str, ParaphraseSet], rule: JudgeRule = "all-yes"
                   ) -> list[TrainExample]:
    """The training set: each kept candidate (by ``rule``), followed by its paraphrased
    copies."""
    out: list[TrainExample] = []
    for c in candidates:
        judged = judgments.get(c.id)
        if not is_kept(judged, rule):
            continue
        seed = TrainExample(
            query=c.query, API_name_list=[c.api], api_descriptions=c.api_descriptions,
            action=c.action, action_input=c.action_input, observation=c.observation,
            final_ans=c.final_ans, api=c.api, source=c.id)
        out.append(seed)
        para = paraphrases.get(c.id)
        for text in para.paraphrases if para is not None else ():
            out.append(msgspec.structs.replace(seed, query=text, paraphrase_of=c.query))
    return out
