"""The tables the viewer shows, and the one place that decides what they hold.

The pages render whatever list of :class:`Table` they are given, as HTML and as JSON, without
knowing where the numbers came from. :func:`overview_tables` reads the shard indexes alone
(episodes, trials, our solved reading: a tenth of a second on 100,000 episodes), so the first
page is instant; :func:`report_tables` lays out the full report of ``ste-async report``
(the study's reading, calls, tokens, coverage, errors, query diversity, latency), which reads
every record and is computed only when the report page is asked for.
"""

from __future__ import annotations

import msgspec

from ..report import Report
from .runindex import RunIndex

__all__ = ("Cell", "Table", "overview_tables", "report_tables")

Cell = str | int | float | None


class Table(msgspec.Struct, kw_only=True):
    """A titled table; ``link_column`` names the column whose cells link to the episode list
    filtered by that value (an API name)."""

    title: str
    columns: list[str]
    rows: list[list[Cell]]
    note: str = ""
    link_column: int | None = None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def overview_tables(run: RunIndex) -> list[Table]:
    """The per-API table the indexes give, with a total row."""
    stats = run.shard_stats()
    rows: list[list[Cell]] = []
    for s in stats:
        judged = s.trials - s.unjudged
        rows.append([s.api, s.episodes, s.trials, s.solved, _rate(s.solved, judged)])
    episodes = sum(s.episodes for s in stats)
    trials = sum(s.trials for s in stats)
    solved = sum(s.solved for s in stats)
    judged = trials - sum(s.unjudged for s in stats)
    rows.append(["all", episodes, trials, solved, _rate(solved, judged)])
    return [Table(
        title="Per API",
        columns=["API", "episodes", "trials", "solved trials (ours)", "solved rate (ours)"],
        rows=rows,
        note="From the shard indexes: trials solved by this project's reading of the "
             "reflection; the rate is over trials that were asked to reflect.",
        link_column=0,
    )]


def _values(values: list[str], limit: int = 4) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f" (+{len(values) - limit})" if len(values) > limit else "")


def _pct(rate: float | None) -> str | None:
    return None if rate is None else f"{rate:.0%}"


def report_tables(report: Report) -> list[Table]:
    """The report of the run as tables: per API, parameter coverage, errors by kind, query
    diversity and latency (the same numbers as ``ste-async report --json``)."""
    t = report.totals
    per_api: list[list[Cell]] = [
        [a.api, a.episodes, a.trials, _pct(a.solved_rate), _pct(a.solved_reference_rate),
         a.calls_per_trial, a.llm_calls, a.tool_calls, a.api_errors, a.parse_feedback,
         a.unavailable, a.llm_errors, a.prompt_tokens + a.completion_tokens,
         round(a.time_s, 1)] for a in report.apis]
    per_api.append(["all", t.episodes, t.trials, _pct(t.solved / t.trials) if t.trials
                    else None, _pct(t.solved_reference / t.trials) if t.trials else None,
                    round(t.tool_calls / t.trials, 3) if t.trials else None, t.llm_calls,
                    t.tool_calls, sum(a.api_errors for a in report.apis),
                    sum(a.parse_feedback for a in report.apis),
                    sum(a.unavailable for a in report.apis),
                    sum(a.llm_errors for a in report.apis),
                    t.prompt_tokens + t.completion_tokens, round(t.time_s, 1)])
    coverage: list[list[Cell]] = []
    for api in report.coverage:
        for param in api.params:
            used = (f"{len(param.choices_used)} of {len(param.choices)} allowed: "
                    + _values(param.choices_used)) if param.choices else _values(
                        [f"{v.value} x{v.calls}" for v in param.top_values])
            coverage.append([api.api, param.name,
                             "required" if param.required else "optional" if param.declared
                             else "not declared", param.type, param.calls, param.accepted,
                             param.rejected, param.distinct, used])
    errors: list[list[Cell]] = [[e.kind, e.count, e.top[0].message if e.top else None,
               e.top[0].count if e.top else None] for e in report.errors]
    diversity: list[list[Cell]] = [[d.api, d.queries, d.distinct, d.near_duplicates, d.memory_mean,
                  d.memory_max] for d in report.diversity]
    latency: list[list[Cell]] = [[name, lat.count, lat.p50, lat.p90, lat.p99, lat.max] for name, lat in
               (("LLM request", report.llm_latency), ("tool call", report.tool_latency))]
    tables = [
        Table(title="Per API", columns=[
            "API", "episodes", "trials", "solved (ours)", "solved (study)", "calls / trial",
            "LLM calls", "tool calls", "API errors", "parse feedback", "unavailable",
            "LLM errors", "tokens", "time s"], rows=per_api, link_column=0,
            note="Solved rates over trials: this project's reading of the reflection and the "
                 "study's; errors by kind as the tool server and the parser answered."),
        Table(title="Parameter coverage", columns=[
            "API", "parameter", "kind", "type", "calls", "accepted", "rejected", "distinct",
            "values used"], rows=coverage, link_column=0,
            note="Calls that gave each parameter, how many the API accepted, how many it "
                 "rejected naming the parameter; for an enum, the allowed values used."),
        Table(title="Errors by kind", columns=["kind", "count", "most frequent message",
                                               "times"], rows=errors,
              note="Messages with their digits masked as N."),
        Table(title="Query diversity", columns=[
            "API", "queries", "distinct", "near-duplicates", "memory shown (mean)",
            "memory shown (max)"], rows=diversity, link_column=0,
            note="A near-duplicate shares character 3-grams with an earlier query of its API "
                 "at a Jaccard similarity of 0.8 or more."),
        Table(title="Latency (seconds)", columns=["of", "count", "p50", "p90", "p99", "max"],
              rows=latency),
    ]
    return tables
