"""The report as text, at most 100 columns: the full form, and the short form that
``explore`` prints when it ends (the per-API table and the totals)."""

from __future__ import annotations

import datetime as dt
import textwrap

from .build import NEAR_THRESHOLD, NEAR_WINDOW, NGRAM
from .schema import ApiCoverage, ErrorKind, Latency, ParamCoverage, Report

__all__ = ("WIDTH", "render_short", "render_text")

WIDTH = 100
_API = 26  # the API column of the per-API table; the other columns take the rest


def _fit(text: str, width: int) -> str:
    """``text`` cut in the middle to ``width`` characters."""
    if len(text) <= width:
        return text
    left = (width - 3) // 2
    return text[:left] + "..." + text[len(text) - (width - 3 - left):]


def _count(n: int, width: int) -> str:
    """``n`` with thousands separators, or compact (12.3k, 4.5M) where that is too wide."""
    text = f"{n:,}"
    if len(text) <= width:
        return text
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            for digits in (1, 0):
                text = f"{n / scale:.{digits}f}{unit}"
                if len(text) <= width:
                    return text
    return text


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.0f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 100:
        return f"{seconds:.1f}s"
    if seconds < 6000:
        return f"{seconds / 60:.1f}m"
    if seconds < 360_000:
        return f"{seconds / 3600:.1f}h"
    days = seconds / 86400
    return f"{days:.1f}d" if days < 1000 else f"{days:,.0f}d"


def _api_table(report: Report) -> list[str]:
    head = (f"{'API':<{_API}} {'eps':>4} {'trials':>6} {'solved':>6} {'study':>6} "
            f"{'call/t':>6} {'LLM':>6} {'tools':>6} {'apierr':>6} {'parse':>5} "
            f"{'tokens':>6} {'time':>6}")
    rule = "-" * len(head)
    lines = [head, rule]
    for r in report.apis:
        cpt = "-" if r.calls_per_trial is None else f"{r.calls_per_trial:.2f}"
        lines.append(
            f"{_fit(r.api, _API):<{_API}} {_count(r.episodes, 4):>4} {_count(r.trials, 6):>6} "
            f"{_pct(r.solved_rate):>6} {_pct(r.solved_reference_rate):>6} {cpt:>6} "
            f"{_count(r.llm_calls, 6):>6} {_count(r.tool_calls, 6):>6} "
            f"{_count(r.api_errors, 6):>6} {_count(r.parse_feedback, 5):>5} "
            f"{_count(r.prompt_tokens + r.completion_tokens, 6):>6} {_duration(r.time_s):>6}")
    lines.append(rule)
    return lines


def _joined(parts: list[str]) -> list[str]:
    """``parts`` joined by " | ", a new line wherever the next would pass the width."""
    lines = [parts[0]]
    for part in parts[1:]:
        if len(lines[-1]) + 3 + len(part) <= WIDTH:
            lines[-1] += " | " + part
        else:
            lines.append(part)
    return lines


def _totals(report: Report) -> list[str]:
    t = report.totals
    solved = _pct(t.solved / t.trials if t.trials else None)
    study = _pct(t.solved_reference / t.trials if t.trials else None)
    lines = _joined([
        f"episodes {_count(t.episodes, 9)} of {_count(t.planned, 9)}",
        f"trials {_count(t.trials, 9)}",
        f"solved {solved} (study's reading {study})",
        f"stopped by the LLM {_count(t.stopped_episodes, 9)}"])
    lines += _joined([
        f"LLM {_count(t.llm_calls, 9)} calls, {_count(t.prompt_tokens, 7)} prompt + "
        f"{_count(t.completion_tokens, 7)} completion tokens, {_count(t.llm_retries, 9)} retries",
        f"tools {_count(t.tool_calls, 9)} calls, {_count(t.tool_retries, 9)} retries"])
    if t.unreadable_lines:
        lines.append(f"{t.unreadable_lines:,} unreadable line(s) in the shards were skipped")
    return lines


def render_short(report: Report) -> str:
    """The per-API table and the totals: what ``explore`` prints at its end."""
    return "\n".join(_api_table(report) + _totals(report))


def _settings(report: Report) -> list[str]:
    s = report.settings
    onoff = {True: "on", False: "off", None: "-"}
    lines = [
        f"run {report.run_dir}",
        f"model {s.model} | {s.apis} APIs x {s.episodes} episodes x {s.trials} trials, "
        f"max_turn {s.max_turn}",
        f"temperature {s.temperature}, max_tokens {s.max_tokens} | LTM {onoff[s.ltm]}, STM "
        f"{onoff[s.stm]}, reflection {onoff[s.reflection]} | lanes {s.lanes} | seed {s.seed}",
        f"grammar {onoff[s.constrain_actions]} | cassette {s.cassette} | workers "
        f"{s.workers or 1} | protocol {s.protocol or '-'} | catalog {s.catalog or 'built-in'}",
    ]
    return [_fit(line, WIDTH) for line in lines]


def _values(p: ParamCoverage, width: int) -> str:
    """An enum's allowed values used, else the most given values, as many as fit."""
    if p.choices:
        items = [f"{len(p.choices_used)}/{len(p.choices)} allowed:"]
        items += [f"{c}," for c in p.choices_used[:-1]] + p.choices_used[-1:] or ["none"]
        sep = " "
    else:
        items = [f"{_fit(v.value, 30)} x{v.calls}" for v in p.top_values]
        sep = ", "
    out = ""
    for i, item in enumerate(items):
        more = "" if i == len(items) - 1 else " ..."
        if not out:  # the first always shows, cut to fit if need be
            out = _fit(item, width - len(more))
            continue
        candidate = f"{out}{sep}{item}"
        if len(candidate) + len(more) > width:
            return f"{out} ..."
        out = candidate
    return out


def _coverage(cov: ApiCoverage) -> list[str]:
    unattributed = (f", {cov.rejected_unattributed:,} rejected naming no parameter"
                    if cov.rejected_unattributed else "")
    lines = [_fit(f"{cov.api}: {cov.calls:,} calls{unattributed}", WIDTH)]
    if not cov.params:
        return [*lines, "  (no parameters declared, none given)"]
    for p in cov.params:
        req = "req" if p.required else "opt" if p.declared else "-"
        kind = p.type if p.declared else "undecl"
        distinct = f"{p.distinct:,}{'+' if p.distinct_capped else ''}"
        head = (f"  {_fit(p.name, 22):<22} {req:<3} {_fit(kind, 7):<7} {_count(p.calls, 6):>6} "
                f"{_count(p.accepted, 6):>6} {_count(p.rejected, 6):>6} {distinct:>6}  ")
        lines.append((head + _values(p, WIDTH - len(head))).rstrip())
    return lines


def _errors(kinds: list[ErrorKind]) -> list[str]:
    lines = []
    for kind in kinds:
        lines.append(f"{kind.kind:<15} {kind.count:>9,}")
        for m in kind.top:
            lines.append(f"  {m.count:>9,}  {_fit(m.message, WIDTH - 13)}")
    return lines


def _latency(name: str, lat: Latency) -> str:
    def s(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}s"

    return (f"{name:<6} {lat.count:>10,} {s(lat.p50):>10} {s(lat.p90):>10} {s(lat.p99):>10} "
            f"{s(lat.max):>10}")


def _throughput(report: Report) -> list[str]:
    tp = report.throughput
    if not tp.episodes or tp.start is None:
        return ["no episode end times recorded"]
    lines = [f"episodes finished per {tp.bucket_s:g} s, from "
             f"{dt.datetime.fromtimestamp(tp.start, dt.UTC):%Y-%m-%d %H:%M:%S} UTC"]
    top = max(tp.episodes) or 1
    bar = WIDTH - 22
    for i, n in enumerate(tp.episodes):
        offset = f"+{i * tp.bucket_s:g}s"
        lines.append(f"  {offset:<8} {n:>9,}  {'#' * round(bar * n / top)}".rstrip())
    return lines


def render_text(report: Report) -> str:
    """The whole report: settings, the per-API table and totals, coverage, errors, query
    diversity, latency and throughput."""
    out = _settings(report)
    out += ["", *_api_table(report), *_totals(report)]
    t = report.totals
    out.append(f"episode time {_duration(t.time_s)} summed | first to last episode end "
               f"{_duration(t.span_s)}")
    out += ["columns: solved = trials solved in this project's reading, study = in the study's; "
            "call/t = tool", "calls per trial; apierr = API error answers; parse = parser "
            "feedback; time = the episodes' durations"]
    out += ["", "COVERAGE  per API: calls that gave each parameter, accepted, rejected naming "
                "it, distinct values",
            f"  {'parameter':<22} {'req':<3} {'type':<7} {'calls':>6} {'accept':>6} "
            f"{'reject':>6} {'values':>6}  most given (enums: allowed used)"]
    for cov in report.coverage:
        out += _coverage(cov)
    out += ["", "ERRORS  by kind, with the most frequent messages (digits shown as N)",
            *_errors(report.errors)]
    out += ["", f"QUERIES  near-duplicate: character {NGRAM}-gram Jaccard >= {NEAR_THRESHOLD} "
                "with an earlier query of the API", f"(among its first {NEAR_WINDOW:,} distinct "
                "ones); memory: long-term memory entries shown per imagination prompt"]
    out.append(f"{'API':<{_API + 18}} {'queries':>8} {'distinct':>8} {'near-dup':>8} "
               f"{'memory mean':>11} {'max':>5}")
    for d in report.diversity:
        mean = "-" if d.memory_mean is None else f"{d.memory_mean:.1f}"
        out.append(f"{_fit(d.api, _API + 18):<{_API + 18}} {_count(d.queries, 8):>8} "
                   f"{_count(d.distinct, 8):>8} {_count(d.near_duplicates, 8):>8} {mean:>11} "
                   f"{d.memory_max:>5}")
    out += ["", f"LATENCY {'calls':>10} {'p50':>10} {'p90':>10} {'p99':>10} {'max':>10}",
            _latency("LLM", report.llm_latency), _latency("tool", report.tool_latency)]
    out += ["", "THROUGHPUT", *_throughput(report)]
    if report.notes:
        out += ["", "NOTES"]
        for note in report.notes:
            out += textwrap.wrap(note, WIDTH, initial_indent="- ", subsequent_indent="  ")
    return "\n".join(out)
