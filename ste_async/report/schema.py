"""The report's data: what ``ste-async report RUN --json`` prints, as typed Structs.

The JSON form is these Structs encoded by msgspec (``docs/REPORT.md`` describes every field).
Its ``schema`` number changes only when a field changes meaning or goes away; fields may be
added. Rates are fractions in [0, 1]; times are seconds; ``null`` means "not recorded".
"""

from __future__ import annotations

import msgspec

__all__ = (
    "REPORT_SCHEMA",
    "ApiCoverage",
    "ApiDiversity",
    "ApiRow",
    "ErrorKind",
    "Latency",
    "MessageCount",
    "ParamCoverage",
    "Report",
    "RunSettings",
    "Throughput",
    "Totals",
    "ValueCount",
)

REPORT_SCHEMA = 1


class _Out(msgspec.Struct, kw_only=True):
    """Base of every part of the report (keyword-only, fields always written)."""


class ApiRow(_Out):
    """One API's episodes, trials, outcome and cost."""

    api: str
    episodes: int  # finished episodes in the store
    planned: int  # episodes the run card asks for
    trials: int
    solved: int  # trials this project reads as solved (the first standalone yes/no)
    solved_reference: int  # trials the study's reading counts as solved ("No" anywhere: no)
    finished: int  # trials that ended with a Final Answer
    llm_calls: int
    tool_calls: int  # calls sent to the tool server
    api_errors: int
    parse_feedback: int
    unavailable: int
    llm_errors: int
    prompt_tokens: int
    completion_tokens: int
    time_s: float  # the episodes' own durations, summed
    solved_rate: float | None  # solved / trials (null without trials)
    solved_reference_rate: float | None
    calls_per_trial: float | None  # tool calls / trials


class ValueCount(_Out):
    """A value an argument took (its JSON text) and how many calls gave it."""

    value: str
    calls: int


class ParamCoverage(_Out):
    """How the calls of one API used one of its parameters."""

    name: str
    required: bool
    type: str
    declared: bool  # in the catalog; False: a name the model made up
    calls: int  # calls that gave it
    accepted: int  # of those, calls the API answered without an error
    rejected: int  # calls the API rejected naming this parameter
    distinct: int  # distinct values given (counted up to DISTINCT_CAP)
    distinct_capped: bool  # more distinct values than were counted
    top_values: list[ValueCount]
    choices: list[str]  # an enum's allowed values ([] for other types)
    choices_used: list[str]  # the allowed values some call gave
    exercised: bool  # some call gave it


class ApiCoverage(_Out):
    """The parameters of one API as the calls exercised them."""

    api: str
    calls: int  # calls sent to the tool server with decoded arguments
    params: list[ParamCoverage]  # declared ones in catalog order, then made-up ones
    rejected_unattributed: int  # rejections that name no parameter


class MessageCount(_Out):
    """A message (digits masked as ``N``) and how often it came."""

    message: str
    count: int


class ErrorKind(_Out):
    """One kind of error with its most frequent messages."""

    kind: str  # api_error | parse_feedback | unavailable | llm_error
    count: int
    top: list[MessageCount]


class ApiDiversity(_Out):
    """How varied one API's imagined queries were, and the memory their prompts showed."""

    api: str
    queries: int
    distinct: int  # after folding case and whitespace
    near_duplicates: int  # distinct queries close to an earlier one of the API
    compared: int  # distinct queries checked for near-duplicates (up to NEAR_WINDOW)
    memory_mean: float | None  # long-term memory entries shown per imagination prompt
    memory_max: int


class Latency(_Out):
    """Percentiles of a latency (seconds), from a log-scale histogram (within 2.5%)."""

    count: int
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None


class Throughput(_Out):
    """Episodes finished per time bucket, from the episodes' end times."""

    bucket_s: float
    start: float | None  # Unix time of the first bucket
    episodes: list[int]
    undated: int  # episodes with no end time (written before the field existed)


class Totals(_Out):
    """The run as a whole."""

    episodes: int
    planned: int
    trials: int
    solved: int
    solved_reference: int
    llm_calls: int
    tool_calls: int
    prompt_tokens: int
    completion_tokens: int
    llm_retries: int  # extra attempts of LLM requests (recorded with each exchange)
    tool_retries: int
    stopped_episodes: int  # episodes an LLM refusal ended early
    time_s: float  # the episodes' own durations, summed
    span_s: float | None  # first episode end to last, where recorded
    unreadable_lines: int  # torn or corrupt lines the store skipped


class RunSettings(_Out):
    """What run.json says the run is."""

    model: str
    apis: int
    episodes: int
    trials: int
    max_turn: int
    temperature: float
    max_tokens: int
    ltm: bool
    stm: bool
    reflection: bool
    lanes: int
    seed: int
    constrain_actions: bool | None
    catalog: str | None
    cassette: str
    workers: int | None
    protocol: str | None  # the run card's protocol mode, where it records one


class Report(_Out, kw_only=True):
    """Everything ``ste-async report`` says about one run."""

    schema: int = REPORT_SCHEMA
    run_dir: str
    settings: RunSettings
    totals: Totals
    apis: list[ApiRow]
    coverage: list[ApiCoverage]
    errors: list[ErrorKind]
    diversity: list[ApiDiversity]
    llm_latency: Latency
    tool_latency: Latency
    throughput: Throughput
    notes: list[str]  # what could not be computed, and why
