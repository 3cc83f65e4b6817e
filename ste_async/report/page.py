"""The report as one self-contained static HTML page: inline style, no script, nothing
fetched. Every text that comes from the run (API names, values the model gave, error
messages) is escaped: model text is untrusted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from html import escape

from .build import NEAR_THRESHOLD, NEAR_WINDOW, NGRAM
from .schema import Latency, Report

__all__ = ("render_html",)

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}
th,td{padding:2px 8px;border-bottom:1px solid #eee;text-align:right;vertical-align:top}
th{background:#f4f4f4}td.l,th.l{text-align:left}
td.v{text-align:left;font-family:monospace;white-space:pre-wrap;word-break:break-all}
.no{color:#b00}.bar{background:#4a7fb5;height:10px;display:inline-block}
.muted{color:#777}
"""


def _e(value: object) -> str:
    """A cell's text, escaped; counts with thousands separators."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return escape(str(value), quote=True)


def _onoff(flag: bool | None) -> str:
    return "-" if flag is None else "on" if flag else "off"


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f}%"


def _table(head: Sequence[str], rows: Iterable[Sequence[object]],
           left: int = 1) -> str:
    """A table; the first ``left`` columns are text (left-aligned), cells are escaped."""
    out = ["<table><tr>"]
    out += [f'<th class="l">{_e(h)}</th>' if i < left else f"<th>{_e(h)}</th>"
            for i, h in enumerate(head)]
    out.append("</tr>")
    for row in rows:
        out.append("<tr>")
        out += [f'<td class="l">{_e(c)}</td>' if i < left else f"<td>{_e(c)}</td>"
                for i, c in enumerate(row)]
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _latency_row(name: str, lat: Latency) -> list[object]:
    def s(v: float | None) -> str:
        return "-" if v is None else f"{v:.4f}"

    return [name, lat.count, s(lat.p50), s(lat.p90), s(lat.p99), s(lat.max)]


def render_html(report: Report) -> str:
    """The whole report as an HTML document."""
    s, t = report.settings, report.totals
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>ste-async report: {_e(report.run_dir)}</title><style>{_STYLE}</style>",
        "</head><body>",
        f"<h1>Exploration report: {_e(report.run_dir)}</h1>",
        "<h2>Settings</h2>",
        _table(["setting", "value"], [
            ("model", s.model), ("APIs", s.apis), ("episodes per API", s.episodes),
            ("trials", s.trials), ("max_turn", s.max_turn), ("temperature", s.temperature),
            ("max_tokens", s.max_tokens), ("long-term memory", _onoff(s.ltm)),
            ("short-term memory", _onoff(s.stm)), ("reflection", _onoff(s.reflection)),
            ("lanes", s.lanes), ("seed", s.seed), ("grammar", _onoff(s.constrain_actions)), ("catalog", s.catalog or "built-in"),
            ("cassette", s.cassette), ("workers", s.workers or 1),
            ("protocol", s.protocol or "-")], left=2),
        "<h2>Per API</h2>",
        _table(["API", "episodes", "planned", "trials", "solved", "solved (study)",
                "calls / trial", "LLM calls", "tool calls", "API errors", "parse feedback",
                "unavailable", "LLM errors", "prompt tokens", "completion tokens", "time (s)"],
               [(r.api, r.episodes, r.planned, r.trials, _pct(r.solved_rate),
                 _pct(r.solved_reference_rate),
                 "-" if r.calls_per_trial is None else f"{r.calls_per_trial:.2f}",
                 r.llm_calls, r.tool_calls, r.api_errors, r.parse_feedback, r.unavailable,
                 r.llm_errors, r.prompt_tokens, r.completion_tokens, f"{r.time_s:.1f}")
                for r in report.apis]),
        "<h2>Totals</h2>",
        _table(["measure", "value"], [
            ("episodes", f"{t.episodes} of {t.planned}"), ("trials", t.trials),
            ("solved", _pct(t.solved / t.trials if t.trials else None)),
            ("solved (study's reading)",
             _pct(t.solved_reference / t.trials if t.trials else None)),
            ("LLM calls", t.llm_calls), ("prompt tokens", t.prompt_tokens),
            ("completion tokens", t.completion_tokens), ("LLM retries", t.llm_retries),
            ("tool calls", t.tool_calls), ("tool retries", t.tool_retries),
            ("episodes stopped by the LLM", t.stopped_episodes),
            ("episode time summed (s)", f"{t.time_s:.1f}"),
            ("first to last episode end (s)", "-" if t.span_s is None else f"{t.span_s:.1f}"),
            ("unreadable lines skipped", t.unreadable_lines)], left=2),
        "<h2>Coverage</h2>",
        "<p>For each parameter: the calls that gave it, how many the API accepted, how many "
        "it rejected naming that parameter, and the distinct values given.</p>",
    ]
    for cov in report.coverage:
        parts.append(f"<h3>{_e(cov.api)}</h3><p>{cov.calls} calls"
                     f"{f', {cov.rejected_unattributed} rejected naming no parameter' if cov.rejected_unattributed else ''}"
                     "</p>")
        rows = []
        for p in cov.params:
            values = (f"{len(p.choices_used)}/{len(p.choices)} allowed: "
                      + (", ".join(p.choices_used) or "none")) if p.choices else ", ".join(
                          f"{v.value} x{v.calls}" for v in p.top_values)
            rows.append((p.name if p.declared else f"{p.name} (undeclared)",
                         "required" if p.required else "optional" if p.declared else "-",
                         p.type, "yes" if p.exercised else "no", p.calls, p.accepted,
                         p.rejected, f"{p.distinct}{'+' if p.distinct_capped else ''}", values))
        parts.append(_coverage_table(rows))
    parts.append("<h2>Errors</h2>")
    for kind in report.errors:
        parts.append(f"<h3>{_e(kind.kind)}: {kind.count}</h3>")
        if kind.top:
            parts.append(_table(["count", "message (digits shown as N)"],
                                [(m.count, m.message) for m in kind.top], left=0))
    parts.append(f"<h2>Query diversity</h2><p>Near-duplicate: character {NGRAM}-gram Jaccard "
                 f"&ge; {NEAR_THRESHOLD} with an earlier distinct query of the same API "
                 f"(among its first {NEAR_WINDOW} distinct queries). Memory: long-term memory "
                 "entries shown in each imagination prompt.</p>")
    parts.append(_table(["API", "queries", "distinct", "near-duplicates", "memory mean",
                         "memory max"],
                        [(d.api, d.queries, d.distinct, d.near_duplicates,
                          "-" if d.memory_mean is None else f"{d.memory_mean:.1f}", d.memory_max)
                         for d in report.diversity]))
    parts.append("<h2>Latency (seconds)</h2>")
    parts.append(_table(["", "calls", "p50", "p90", "p99", "max"],
                        [_latency_row("LLM", report.llm_latency),
                         _latency_row("tool", report.tool_latency)]))
    parts.append("<h2>Throughput</h2>")
    tp = report.throughput
    if tp.start is None or not tp.episodes:
        parts.append('<p class="muted">No episode end times recorded.</p>')
    else:
        start = dt.datetime.fromtimestamp(tp.start, dt.UTC)
        parts.append(f"<p>Episodes finished per {tp.bucket_s:g} s, from "
                     f"{start:%Y-%m-%d %H:%M:%S} UTC.</p><table>")
        top = max(tp.episodes) or 1
        for i, n in enumerate(tp.episodes):
            parts.append(f"<tr><td>+{i * tp.bucket_s:g} s</td><td>{n}</td><td class=\"l\">"
                         f"<span class=\"bar\" style=\"width:{round(400 * n / top)}px\">"
                         "</span></td></tr>")
        parts.append("</table>")
    if report.notes:
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li>{_e(n)}</li>" for n in report.notes]
        parts.append("</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _coverage_table(rows: Sequence[Sequence[object]]) -> str:
    """The coverage table: values in monospace, wrapped."""
    head = ["parameter", "", "type", "exercised", "calls", "accepted", "rejected", "distinct",
            "values"]
    out = ["<table><tr>"]
    out += [f'<th class="l">{_e(h)}</th>' if i < 3 or i == 8 else f"<th>{_e(h)}</th>"
            for i, h in enumerate(head)]
    out.append("</tr>")
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            cls = ' class="l"' if i < 3 else ' class="v"' if i == 8 else ""
            if i == 3 and c == "no":
                cls = ' class="no"'
            cells.append(f"<td{cls}>{_e(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)
