"""Build a :class:`~ste_async.report.schema.Report` from a run directory, streaming.

Records are read one at a time through :func:`ste_async.store.iter_views`, shard by shard,
so a run of any size is reported in bounded memory, and a run still being written (or
written by several worker processes) is reported as far as its finished lines go. What is
kept per record is counters, capped sets and histograms, never the records themselves.

The measures and their rules:

- a *call* is a step the tool server answered (``tool_kind`` set); its decoded ``args`` are
  what coverage counts. The last reply of a trial that ran out of turns is never sent, so it
  is not a call;
- a *rejection* is an ``api_error`` answer; it is attributed to the parameter it names: the
  ``parameter`` field of a JSON error body, else the name quoted after the word "parameter"
  in the message (``missing required parameter 'date'``, ``parameter 'lang' must be ...``),
  else the first declared parameter quoted anywhere in it; otherwise it is unattributed;
- *near-duplicates*: two queries of one API whose character ``NGRAM``-gram sets (lower case,
  whitespace folded) have a Jaccard similarity of at least ``NEAR_THRESHOLD``. Each distinct
  query is compared with the earlier distinct ones of its API, among the first
  ``NEAR_WINDOW`` distinct queries of that API.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from ..catalog import ApiSpec, load_catalog
from ..errors import SteError, StoreError
from ..records import CallStats
from ..session import RunMeta, load_run_meta
from ..store import iter_views, scan_run
from .schema import (
    ApiCoverage,
    ApiDiversity,
    ApiRow,
    ErrorKind,
    Latency,
    MessageCount,
    ParamCoverage,
    Report,
    RunSettings,
    Throughput,
    Totals,
    ValueCount,
)
from .views import RecordView, StepView

__all__ = (
    "DISTINCT_CAP",
    "ERROR_KINDS",
    "NEAR_THRESHOLD",
    "NEAR_WINDOW",
    "NGRAM",
    "build_report",
    "jaccard",
    "ngrams",
    "rejected_parameter",
)

NGRAM = 3
NEAR_THRESHOLD = 0.8
NEAR_WINDOW = 500  # distinct queries per API compared for near-duplicates
DISTINCT_CAP = 1000  # distinct values counted per parameter
TOP = 5  # most frequent values and messages listed
MESSAGE_CAP = 10_000  # distinct messages counted per error kind; later new ones go uncounted
ERROR_KINDS = ("api_error", "parse_feedback", "unavailable", "llm_error")
_MESSAGE_CHARS = 120
_HIST_BASE = 1.05  # histogram buckets grow by 5%: a percentile is within 2.5%

_QUOTES = "'\"`\u2018\u201c"
_CLOSE = "'\"`\u2019\u201d"
# "parameter 'x'", "parameter: 'x'", and a JSON key '"parameter": "x"' read as text
_PARAM_RE = re.compile(
    rf"\bparameter[{_CLOSE}]?\s*[:=]?\s*[{_QUOTES}]"
    rf"([^{_CLOSE}{_QUOTES}\s:=][^{_CLOSE}]{{0,99}})[{_CLOSE}]",
    re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def ngrams(text: str, n: int = NGRAM) -> frozenset[str]:
    """The character n-grams of ``text`` with case and whitespace folded (a text shorter
    than ``n`` is its own only gram)."""
    folded = _SPACE.sub(" ", text.lower()).strip()
    if len(folded) <= n:
        return frozenset((folded,))
    return frozenset(folded[i:i + n] for i in range(len(folded) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a & b| / |a | b| (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def _error_text(observation: str) -> tuple[str, Any]:
    """The message of an error answer, and its decoded JSON body (None when not JSON)."""
    try:
        body = orjson.loads(observation)
    except orjson.JSONDecodeError:
        return observation, None
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value, body
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"], body
    return observation, body


def rejected_parameter(observation: str, declared: Iterable[str] = ()) -> str | None:
    """The parameter an error answer blames, or None when it names none (rules in the
    module's docstring). Robust to bodies cut short by the observation limit."""
    message, body = _error_text(observation)
    if isinstance(body, dict):
        named = body.get("parameter", body.get("param"))
        if isinstance(named, str) and named:
            return named
    for text in (message, observation):
        found = _PARAM_RE.search(text)
        if found:
            return found.group(1)
    for name in declared:
        if any(f"{q}{name}{c}" in message for q, c in zip(_QUOTES, _CLOSE, strict=True)):
            return name
    return None


def _masked(message: str) -> str:
    text = _SPACE.sub(" ", _DIGITS.sub("N", message)).strip()
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS - 3] + "..."


class _Histogram:
    """Log-scale latency histogram: bounded memory, percentiles within 2.5%."""

    def __init__(self) -> None:
        self.buckets: Counter[int] = Counter()
        self.count = 0
        self.max = 0.0
        self.min = math.inf

    def add(self, seconds: float) -> None:
        self.count += 1
        self.max = max(self.max, seconds)
        self.min = min(self.min, seconds)
        self.buckets[math.floor(math.log(max(seconds, 1e-7), _HIST_BASE))] += 1

    def latency(self) -> Latency:
        if not self.count:
            return Latency(count=0, p50=None, p90=None, p99=None, max=None)
        order = sorted(self.buckets.items())

        def quantile(q: float) -> float:
            rank, seen = q * self.count, 0
            for index, n in order:
                seen += n
                if seen >= rank:
                    middle = math.pow(_HIST_BASE, index + 0.5)
                    return round(min(max(middle, self.min), self.max), 6)
            return self.max

        return Latency(count=self.count, p50=quantile(0.5), p90=quantile(0.9),
                       p99=quantile(0.99), max=round(self.max, 6))


class _Param:
    __slots__ = ("accepted", "calls", "capped", "rejected", "values")

    def __init__(self) -> None:
        self.calls = self.accepted = self.rejected = 0
        self.values: Counter[str] = Counter()
        self.capped = False

    def given(self, value: Any, ok: bool) -> None:
        self.calls += 1
        self.accepted += ok
        text = _json_text(value)
        if text in self.values or len(self.values) < DISTINCT_CAP:
            self.values[text] += 1
        else:
            self.capped = True


def _json_text(value: Any) -> str:
    """A value as canonical JSON text: "30" (a string) and 30 (a number) stay apart."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # an integer past 64 bits, say
        return repr(value)


class _Queries:
    """One API's queries: exact and near duplicates, memory shown."""

    def __init__(self) -> None:
        self.queries = 0
        self.seen: set[int] = set()
        self.near = 0
        self.compared = 0
        self.window: list[frozenset[str]] | None = []
        self.memory_total = 0
        self.memory_max = 0

    def add(self, query: str, memory_shown: int) -> None:
        self.queries += 1
        self.memory_total += memory_shown
        self.memory_max = max(self.memory_max, memory_shown)
        key = hash(_SPACE.sub(" ", query.lower()).strip())
        if key in self.seen:
            return
        self.seen.add(key)
        if self.window is None or self.compared >= NEAR_WINDOW:
            return
        grams = ngrams(query)
        size = len(grams)
        for other in self.window:
            # |a & b| <= min size, so the Jaccard is at most min/max: skip what cannot match
            if min(size, len(other)) < NEAR_THRESHOLD * max(size, len(other)):
                continue
            if jaccard(grams, other) >= NEAR_THRESHOLD:
                self.near += 1
                break
        self.window.append(grams)
        self.compared += 1

    def close(self) -> None:
        """Free the comparison window (the API's shard is read; its counts stay)."""
        self.window = None


class _Api:
    def __init__(self, name: str, spec: ApiSpec | None):
        self.spec = spec
        self.declared = [p.name for p in spec.params] if spec else []
        self.row = ApiRow(
            api=name, episodes=0, planned=0, trials=0, solved=0, solved_reference=0,
            finished=0, llm_calls=0, tool_calls=0, api_errors=0, parse_feedback=0,
            unavailable=0, llm_errors=0, prompt_tokens=0, completion_tokens=0, time_s=0.0,
            solved_rate=None, solved_reference_rate=None, calls_per_trial=None)
        self.params: dict[str, _Param] = {n: _Param() for n in self.declared}
        self.args_calls = 0
        self.unattributed = 0
        self.queries = _Queries()


class _Builder:
    def __init__(self, meta: RunMeta, specs: Mapping[str, ApiSpec], detail: bool):
        self.meta = meta
        self.detail = detail  # False: the per-API rows and totals only
        self.specs = specs
        self.apis: dict[str, _Api] = {}
        self.errors: dict[str, Counter[str]] = {k: Counter() for k in ERROR_KINDS}
        self.error_counts: Counter[str] = Counter()
        self.llm_latency = _Histogram()
        self.tool_latency = _Histogram()
        self.ends = array("d")
        self.undated = 0
        self.llm_retries = self.tool_retries = self.stopped = 0
        self.current: _Api | None = None

    def api(self, name: str) -> _Api:
        entry = self.apis.get(name)
        if entry is None:
            entry = self.apis[name] = _Api(name, self.specs.get(name))
        return entry

    def error(self, kind: str, message: str) -> None:
        self.error_counts[kind] += 1
        if not self.detail:
            return
        counter = self.errors[kind]
        key = _masked(message)
        if key in counter or len(counter) < MESSAGE_CAP:
            counter[key] += 1

    def llm(self, row: ApiRow, stats: CallStats | None) -> None:
        if stats is None:
            return
        row.llm_calls += 1
        row.prompt_tokens += stats.prompt_tokens
        row.completion_tokens += stats.completion_tokens
        self.llm_retries += max(0, stats.attempts - 1)
        if self.detail:
            self.llm_latency.add(stats.latency_s)

    def add(self, record: RecordView) -> None:
        entry = self.api(record.api)
        if self.current is not entry:
            if self.current is not None:
                self.current.queries.close()  # shards hold one API each: it is done
            self.current = entry
        row = entry.row
        row.episodes += 1
        row.time_s += record.elapsed_s
        if record.finished_at > 0:
            self.ends.append(record.finished_at)
        else:
            self.undated += 1
        for trial in record.trials:
            row.trials += 1
            row.solved += trial.solved is True
            row.solved_reference += trial.solved_reference is True
            row.finished += trial.finished
            if self.detail:
                entry.queries.add(trial.query, trial.memory_shown)
            self.llm(row, trial.imagine)
            self.llm(row, trial.reflect)
            for step in trial.steps:
                self.step(entry, step, record.stopped)
        if record.stopped is not None:
            self.stopped += 1
            last = record.trials[-1].steps[-1] if record.trials and record.trials[-1].steps \
                else None
            if last is None or last.kind != "llm_error":
                row.llm_errors += 1  # refused outside the act loop: no step holds it
                self.error("llm_error", record.stopped)

    def step(self, entry: _Api, step: StepView, stopped: str | None) -> None:
        row = entry.row
        self.llm(row, step.llm)
        if step.kind == "feedback":
            row.parse_feedback += 1
            self.error("parse_feedback", step.feedback or "?")
        elif step.kind == "llm_error":
            row.llm_errors += 1
            self.error("llm_error", stopped or "?")  # such a step ends the episode, saying why
        if step.tool_kind is None:
            return
        row.tool_calls += 1
        self.tool_retries += max(0, step.tool_attempts - 1)
        observation = step.observation or ""
        if step.tool_kind == "api_error":
            row.api_errors += 1
            self.error("api_error", _error_text(observation)[0] if self.detail else "")
        elif step.tool_kind == "unavailable":
            row.unavailable += 1
            self.error("unavailable", observation)
        if not self.detail:
            return
        self.tool_latency.add(step.tool_latency_s)
        if step.tool_kind == "api_error":
            blamed = rejected_parameter(observation, entry.declared)
            if blamed is None:
                entry.unattributed += 1
            else:
                entry.params.setdefault(blamed, _Param()).rejected += 1
        if step.args is not None:
            entry.args_calls += 1
            for name, value in step.args.items():
                entry.params.setdefault(name, _Param()).given(value, step.tool_kind == "ok")

    def coverage(self, entry: _Api) -> ApiCoverage:
        spec = entry.spec
        required = {p.name for p in spec.required} if spec else set()
        params = []
        order = entry.declared + sorted(n for n in entry.params if n not in entry.declared)
        for name in order:
            acc = entry.params[name]
            declared = spec.param(name) if spec else None
            choices = list(declared.choices) if declared else []
            params.append(ParamCoverage(
                name=name, required=name in required,
                type=declared.type if declared else "unknown", declared=declared is not None,
                calls=acc.calls, accepted=acc.accepted, rejected=acc.rejected,
                distinct=len(acc.values), distinct_capped=acc.capped,
                top_values=[ValueCount(value=v, calls=n) for v, n in acc.values.most_common(TOP)],
                choices=choices, choices_used=[c for c in choices if _json_text(c) in acc.values],
                exercised=acc.calls > 0))
        return ApiCoverage(api=entry.row.api, calls=entry.args_calls, params=params,
                           rejected_unattributed=entry.unattributed)

    def throughput(self) -> Throughput:
        if not self.ends:
            return Throughput(bucket_s=0.0, start=None, episodes=[], undated=self.undated)
        first, last = min(self.ends), max(self.ends)
        span = last - first
        bucket = next((b for b in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600,
                                   7200, 14400, 21600, 43200, 86400) if span / b < 24),
                      math.ceil(span / 24 / 86400) * 86400)
        counts = [0] * (int(span // bucket) + 1)
        for end in self.ends:
            counts[int((end - first) // bucket)] += 1
        return Throughput(bucket_s=float(bucket), start=first, episodes=counts,
                          undated=self.undated)


def _settings(meta: RunMeta) -> RunSettings:
    c = meta.config
    # the run card's protocol, where this version records one (in the config, or beside it)
    protocol = getattr(c, "protocol", None) or getattr(meta, "protocol", None)
    describe = getattr(protocol, "describe", None)
    return RunSettings(
        model=meta.model, apis=len(meta.apis), episodes=c.episodes, trials=c.trials,
        max_turn=c.max_turn, temperature=c.temperature, max_tokens=c.max_tokens, ltm=c.ltm,
        stm=c.stm, reflection=c.reflection, lanes=c.lanes, seed=c.seed,
        constrain_actions=c.constrain_actions, catalog=c.catalog, cassette=meta.cassette,
        workers=meta.workers,
        protocol=describe() if callable(describe) else None if protocol is None else str(protocol))


def _catalog(meta: RunMeta, notes: list[str]) -> dict[str, ApiSpec]:
    try:
        catalog = load_catalog(meta.config.catalog)
    except (SteError, OSError) as exc:
        notes.append(f"the run's catalog {meta.config.catalog} cannot be read ({exc}); "
                     "coverage lists only the parameters the calls gave")
        return {}
    return {name: catalog[name] for name in meta.apis if name in catalog}


def build_report(run_dir: str | Path, *, detail: bool = True) -> Report:
    """The report of the run in ``run_dir`` as it stands now (finished episodes only).

    ``detail=False`` computes the per-API rows, totals, error counts and throughput only
    (what :func:`~ste_async.report.render_short` shows), and leaves coverage, query
    diversity, latency and the error messages empty: about twice as fast on a large run.

    Raises :class:`StoreError` when ``run_dir`` is not a run directory or its run card
    cannot be read.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise StoreError(f"{run_dir} is not a directory; give a run directory "
                         "(the --out of `ste-async explore`)")
    meta = load_run_meta(run_dir)
    notes: list[str] = []
    builder = _Builder(meta, _catalog(meta, notes) if detail else {}, detail)
    for name in meta.apis:
        builder.api(name)
    for record in iter_views(run_dir, RecordView):
        builder.add(record)
    for entry in builder.apis.values():
        row = entry.row
        row.planned = meta.config.episodes if row.api in meta.apis else 0
        row.time_s = round(row.time_s, 3)
        if row.trials:
            row.solved_rate = row.solved / row.trials
            row.solved_reference_rate = row.solved_reference / row.trials
            row.calls_per_trial = row.tool_calls / row.trials
    entries = [builder.apis[name] for name in sorted(builder.apis)]
    rows = [e.row for e in entries]
    ends = builder.ends
    unreadable = scan_run(run_dir).corrupt
    totals = Totals(
        episodes=sum(r.episodes for r in rows), planned=sum(r.planned for r in rows),
        trials=sum(r.trials for r in rows), solved=sum(r.solved for r in rows),
        solved_reference=sum(r.solved_reference for r in rows),
        llm_calls=sum(r.llm_calls for r in rows), tool_calls=sum(r.tool_calls for r in rows),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        llm_retries=builder.llm_retries, tool_retries=builder.tool_retries,
        stopped_episodes=builder.stopped, time_s=round(sum(r.time_s for r in rows), 3),
        span_s=round(max(ends) - min(ends), 3) if ends else None,
        unreadable_lines=unreadable)
    if not detail:
        notes.append("rows and totals only: coverage, query diversity, latency and error "
                     "messages were not computed")
    if builder.undated:
        notes.append(f"{builder.undated} episode(s) carry no end time (written by an older "
                     "version): throughput leaves them out")
    errors = [ErrorKind(kind=k, count=builder.error_counts[k],
                        top=[MessageCount(message=m, count=n)
                             for m, n in builder.errors[k].most_common(TOP)])
              for k in ERROR_KINDS]
    diversity = []
    for entry in entries if detail else ():
        q = entry.queries
        diversity.append(ApiDiversity(
            api=entry.row.api, queries=q.queries, distinct=len(q.seen), near_duplicates=q.near,
            compared=q.compared,
            memory_mean=round(q.memory_total / q.queries, 3) if q.queries else None,
            memory_max=q.memory_max))
    return Report(
        run_dir=str(run_dir), settings=_settings(meta), totals=totals, apis=rows,
        coverage=[builder.coverage(e) for e in entries] if detail else [], errors=errors,
        diversity=diversity, llm_latency=builder.llm_latency.latency(),
        tool_latency=builder.tool_latency.latency(), throughput=builder.throughput(),
        notes=notes)
