"""The viewer's HTML, rendered on the server with every value escaped.

Text from a run (queries, replies, observations, reflections, the judge's replies) was written
by a model or a tool and is untrusted: it only ever reaches a page through :func:`esc`, as
text. Markup is built with :func:`tag`, which escapes every child that is not already
:class:`Markup` and every attribute value, so forgetting to escape takes an effort. Nothing
here emits an inline script or style (the Content-Security-Policy forbids both).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from ..distill.examples import TrainExample
from ..records import EpisodeRecord, Step, Trial
from .extras import VERDICTS, DistilledRow, PredictionRow
from .runindex import ERROR_KINDS, EpisodeHead, Filters, Page, TrialHead
from .tables import Table

__all__ = (
    "Markup",
    "distilled_page",
    "episode_page",
    "episode_url",
    "episodes_page",
    "error_page",
    "esc",
    "overview_page",
    "predictions_page",
    "report_page",
    "tag",
)

_QUERY_PREVIEW = 160


class Markup(str):
    """Text that is already HTML (built here), never model or tool text."""

    __slots__ = ()


Child = Any  # str (escaped), Markup (kept), None (skipped), or an iterable of these


def esc(value: object) -> Markup:
    """``value`` as HTML text: markup characters escaped, quotes included."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def _children(children: Iterable[Child]) -> Iterable[str]:
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, str):
            yield esc(child)
        elif isinstance(child, Iterable):
            yield from _children(child)
        else:
            yield esc(child)


def tag(element: str, /, *children: Child, **attrs: object) -> Markup:
    """``<name attrs>children</name>``; ``class_`` gives ``class``, ``data_x`` gives
    ``data-x``; an attribute of None or False is left out, True is written bare."""
    parts = [element]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        key = key.rstrip("_").replace("_", "-")
        parts.append(key if value is True else f'{key}="{esc(value)}"')
    opening = "<" + " ".join(parts) + ">"
    if element in ("input", "meta", "link", "br"):
        return Markup(opening)
    return Markup(opening + "".join(_children(children)) + f"</{element}>")


def _url(path: str, **params: object) -> str:
    kept = {k: v for k, v in params.items() if v is not None and v != ""
            and not (k == "start" and not v)}
    return path + ("?" + urlencode(kept) if kept else "")


def episode_url(episode_id: str) -> str:
    """Where one episode's page is (the id travels as a query parameter: it holds ``#``)."""
    return _url("/episode", id=episode_id)


def _layout(title: str, active: str, *body: Child, run_name: str = "") -> Markup:
    nav = tag("nav", *(
        tag("a", label, href=href, aria_current="page" if key == active else None)
        for key, label, href in (("overview", "Overview", "/"),
                                 ("report", "Report", "/report"),
                                 ("episodes", "Episodes", "/episodes"),
                                 ("distilled", "Distilled", "/distilled"),
                                 ("predictions", "Predictions", "/predictions"))))
    page = tag(
        "html",
        tag("head", tag("meta", charset="utf-8"),
            tag("meta", name="viewport", content="width=device-width, initial-scale=1"),
            tag("title", f"{title} · ste-async view"),
            tag("link", rel="stylesheet", href="/static/app.css"),
            tag("script", src="/static/app.js", defer=True)),
        tag("body",
            tag("header", tag("span", "ste-async view", class_="brand"),
                tag("span", run_name, class_="run"), nav),
            tag("main", tag("h1", title), *body)),
        lang="en")
    return Markup("<!doctype html>\n" + page)


def _pre(text: str | None, class_: str = "text") -> Markup:
    return tag("pre", text or "", class_=class_)


def _yes_no(value: bool | None) -> Markup:
    if value is None:
        return tag("span", "—", class_="badge none")
    return tag("span", "yes" if value else "no", class_="badge " + ("yes" if value else "no"))


def _table(table: Table) -> Markup:
    head = tag("tr", *(tag("th", c) for c in table.columns))
    rows = []
    for row in table.rows:
        cells = []
        for n, cell in enumerate(row):
            text = "—" if cell is None else (f"{cell:.3f}" if isinstance(cell, float)
                                             else f"{cell:,}" if isinstance(cell, int)
                                             else str(cell))
            if n == table.link_column and cell not in (None, "all"):
                cells.append(tag("td", tag("a", text, href=_url("/episodes", api=cell))))
            else:
                cells.append(tag("td", text, class_="num" if isinstance(cell, int | float)
                                 else None))
        rows.append(tag("tr", *cells))
    return tag("section", tag("h2", table.title),
               tag("p", table.note, class_="note") if table.note else None,
               tag("div", tag("table", tag("thead", head), tag("tbody", *rows), class_="grid"),
                   class_="wide"))


def overview_page(run_name: str, settings: Mapping[str, object], tables: list[Table],
                  extras: Mapping[str, str]) -> Markup:
    pairs = [(tag("dt", key), tag("dd", value)) for key, value in settings.items()]
    links = [tag("li", tag("a", label, href=href)) for label, href in extras.items()]
    return _layout(
        "Overview", "overview",
        tag("section", tag("h2", "Run settings"), tag("dl", *pairs, class_="settings")),
        tag("ul", *links, class_="more") if links else None,
        *(_table(t) for t in tables), run_name=run_name)


def report_page(run_name: str, tables: list[Table], notes: list[str]) -> Markup:
    """The run's full report (``ste-async report``), read from every record of the store."""
    return _layout(
        "Report", "report",
        tag("p", "Read from every finished episode in the store as it stands now; reload "
                 "for a run still being written.", class_="note"),
        tag("ul", *(tag("li", n) for n in notes), class_="more") if notes else None,
        *(_table(t) for t in tables), run_name=run_name)


# -- the episode list -------------------------------------------------------------------

_SOLVED = (("", "any"), ("yes", "at least one trial"), ("no", "no trial"))
_ERRORS = (("", "any"), *((k, k.replace("_", " ")) for k in ERROR_KINDS), ("none", "none"))


def _select(name: str, label: str, options: Iterable[tuple[str, str]], value: str) -> Markup:
    return tag("label", label, tag("select", *(
        tag("option", text, value=key, selected=key == value) for key, text in options),
        name=name, data_autosubmit=True))


def _filter_form(f: Filters, apis: list[str]) -> Markup:
    return tag(
        "form",
        _select("api", "API", [("", "all"), *((a, a) for a in apis)], f.api),
        _select("solved", "solved (ours)", _SOLVED, f.solved),
        _select("solved_study", "solved (study's reading)", _SOLVED, f.solved_study),
        _select("error", "error kind", _ERRORS, f.error),
        tag("label", "query text", tag("input", type="search", name="text", value=f.text,
                                        placeholder="words in a query")),
        tag("button", "Filter", type="submit"),
        tag("a", "clear", href="/episodes"),
        method="get", action="/episodes", class_="filters", id="filters")


def _filter_params(f: Filters) -> dict[str, object]:
    return {"api": f.api, "solved": f.solved, "solved_study": f.solved_study,
            "error": f.error, "text": f.text}


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _QUERY_PREVIEW else text[:_QUERY_PREVIEW - 1] + "…"


def _episode_row(head: EpisodeHead) -> Markup:
    solved = sum(1 for t in head.trials if t.solved)
    first = head.trials[0].query if head.trials else ""
    return tag("tr",
               tag("td", tag("a", head.id, href=episode_url(head.id))),
               tag("td", head.api),
               tag("td", head.episode, class_="num"),
               tag("td", len(head.trials), class_="num"),
               tag("td", f"{solved}/{len(head.trials)}", class_="num"),
               tag("td", _preview(first), class_="query"),
               data_episode=head.id)


def _pager_text(page: Page, f: Filters) -> str:
    shown = len(page.items)
    scope = f"episodes of {f.api}" if f.api else "episodes"
    if page.matching is not None:
        return (f"{page.matching:,} matching of {page.total:,} {scope}"
                + (f"; showing {shown:,}" if shown else ""))
    scanned = f"read {page.scanned_to:,} of {page.total:,} {scope}"
    if page.stopped_early:
        scanned += " (stopped for time: go on with Next)"
    return f"{shown:,} found here; {scanned}"


def episodes_page(run_name: str, f: Filters, page: Page, apis: list[str]) -> Markup:
    rows = [_episode_row(h) for h in page.items]
    nav = tag("p",
              tag("a", "First", href=_url("/episodes", **_filter_params(f)))
              if page.start else None,
              tag("a", "Next", href=_url("/episodes", **_filter_params(f), start=page.next),
                  rel="next", id="next") if page.next is not None else None,
              class_="pager")
    table = tag("table",
                tag("thead", tag("tr", *(tag("th", c) for c in (
                    "episode", "API", "#", "trials", "solved", "first query")))),
                tag("tbody", *rows), class_="grid episodes") if rows else \
        tag("p", "No episode matches here.", class_="empty")
    return _layout("Episodes", "episodes", _filter_form(f, apis),
                   tag("p", _pager_text(page, f), class_="count", id="count"),
                   table, nav, run_name=run_name)


# -- one episode ----------------------------------------------------------------------------

def _tool_badge(step: Step) -> Markup:
    if step.kind == "feedback":
        return tag("span", f"parser feedback: {step.feedback or ''}", class_="badge feedback")
    if step.tool_kind is None:
        return tag("span", "not answered", class_="badge none")
    status = "" if step.tool_status is None else f"{step.tool_status} "
    return tag("span", f"{status}{step.tool_kind}", class_=f"badge tool {step.tool_kind}")


def _field(label: str, value: Child, class_: str = "") -> Markup:
    return tag("div", tag("div", label, class_="label"), value,
               class_=("field " + class_).strip())


def _step(n: int, step: Step) -> Markup:
    parts: list[Child] = [tag("h4", f"Step {n + 1} ", tag("span", step.kind,
                                                           class_=f"badge kind {step.kind}"))]
    if step.kind == "llm_error":
        parts.append(_field("LLM error", _pre(step.raw), "error"))
        return tag("li", *parts, class_="step")
    if step.thought:
        parts.append(_field("Thought", _pre(step.thought), "thought"))
    if step.action is not None:
        parts.append(_field("Action", _pre(step.action), "action"))
    if step.action_input is not None:
        parts.append(_field("Action Input", _pre(step.action_input), "action-input"))
    if step.final_answer is not None:
        parts.append(_field("Final Answer", _pre(step.final_answer), "final"))
    if step.observation is not None or step.kind in ("call", "feedback"):
        parts.append(_field(tag("span", "Observation ", _tool_badge(step)),
                            _pre(step.observation), "observation"))
    parts.append(tag("details", tag("summary", "the reply as written"), _pre(step.raw),
                     class_="raw"))
    return tag("li", *parts, class_="step", data_kind=step.kind)


def _memory(memory: list[TrialHead], shown: int, labels: bool) -> Markup:
    if shown == 0:
        return _field("Long-term memory", tag("p", "none shown", class_="note"), "memory")
    lines = [tag("li", tag("span", m.query, class_="q"), " ",
                 _yes_no(m.solved) if labels else None) for m in memory]
    more = shown - len(memory)
    return _field("Long-term memory", tag(
        "details", tag("summary", f"{shown:,} earlier {'query' if shown == 1 else 'queries'} "
                       "shown when this one was imagined"),
        tag("ol", *lines, class_="memory"),
        tag("p", f"{more:,} more not listed", class_="note") if more > 0 else None),
        "memory")


def _trial(trial: Trial, memory: list[TrialHead], labels: bool) -> Markup:
    readings = tag("span", "solved (ours) ", _yes_no(trial.solved), " · solved (study's "
                   "reading) ", _yes_no(trial.solved_reference), " · ",
                   "finished" if trial.finished else "no final answer", class_="readings")
    return tag(
        "section",
        tag("h2", f"Trial {trial.index + 1}", readings),
        _field("Query", _pre(trial.query, "text query"), "query"),
        _memory(memory, trial.memory_shown, labels),
        tag("ol", *(_step(n, s) for n, s in enumerate(trial.steps)), class_="steps"),
        _field("Reflection", _pre(trial.reflection) if trial.reflection is not None
               else tag("p", "not asked", class_="note"), "reflection"),
        class_="trial", id=f"trial-{trial.index}", data_trial=trial.index)


def _conversations(record: EpisodeRecord) -> Markup:
    blocks = []
    for n, messages in enumerate(record.conversations):
        items = [tag("li", tag("div", m.get("role", ""), class_="role"),
                     _pre(m.get("content", ""))) for m in messages]
        blocks.append(tag("details", tag("summary", f"conversation {n + 1}: "
                                                    f"{len(messages)} messages"),
                          tag("ol", *items, class_="conversation")))
    return tag("section", tag("h2", "What the model was sent"),
               tag("p", "The conversation as kept between trials (the long-term memory is "
                        "inserted only into the request that imagines a query).",
                   class_="note"), *blocks, class_="conversations")


def episode_page(run_name: str, record: EpisodeRecord, memories: list[list[TrialHead]],
                 labels: bool, before: str | None, after: str | None) -> Markup:
    nav = tag("p",
              tag("a", f"all episodes of {record.api}", href=_url("/episodes", api=record.api)),
              " · ",
              tag("a", "previous", href=episode_url(before), rel="prev") if before else None,
              " " if before and after else None,
              tag("a", "next", href=episode_url(after), rel="next") if after else None,
              tag("button", "expand all", type="button", id="toggle-all", hidden=True),
              class_="pager")
    facts = tag("p", f"API {record.api} · episode {record.episode} · "
                     f"{len(record.trials)} trials · {record.elapsed_s:.1f} s", class_="facts")
    stopped = tag("p", "stopped early: ", tag("span", record.stopped), class_="stopped") \
        if record.stopped else None
    trials = [_trial(t, memories[n] if n < len(memories) else [], labels)
              for n, t in enumerate(record.trials)]
    return _layout(f"Episode {record.id}", "episodes", facts, stopped, nav, *trials,
                   _conversations(record), run_name=run_name)


# -- distilled data and predictions -------------------------------------------------------

def _simple_pager(path: str, params: dict[str, object], start: int, shown: int,
                  total: int, size: int) -> Markup:
    return tag("p",
               f"{total:,} matching; showing {start + 1 if shown else 0:,}–{start + shown:,}",
               " ",
               tag("a", "First", href=_url(path, **params)) if start else None,
               " ",
               tag("a", "Next", href=_url(path, **params, start=start + size), rel="next")
               if start + size < total else None,
               class_="pager")


def _example(example: TrainExample) -> Markup:
    kind = "paraphrase" if example.paraphrase_of else "kept query"
    return tag("li", tag("span", kind, class_="badge"), " ", tag("span", example.query),
               class_="example")


def distilled_page(run_name: str, present: bool, rows: list[DistilledRow], total: int,
                   api: str, kept: str, start: int, size: int, apis: list[str],
                   notes: list[str]) -> Markup:
    if not present:
        return _layout("Distilled", "distilled", tag(
            "p", "This run has not been distilled: run ", tag("code", "ste-async distill RUN"),
            " to judge its trials and build training data.", class_="empty"),
            run_name=run_name)
    form = tag("form", _select("api", "API", [("", "all"), *((a, a) for a in apis)], api),
               _select("kept", "kept (ours)", (("", "any"), ("yes", "yes"), ("no", "no")),
                       kept),
               tag("button", "Filter", type="submit"),
               method="get", action="/distilled", class_="filters")
    items = []
    for row in rows:
        j = row.judgment
        items.append(tag(
            "section",
            tag("h2", tag("a", j.id, href=episode_url(j.id.rpartition("/")[0])),
                tag("span", "kept (ours) ", _yes_no(j.kept), " · kept (study's reading) ",
                    _yes_no(j.kept_reference), class_="readings")),
            _field("Query", _pre(j.query, "text query")),
            _field("The judge's reply", _pre(j.text or j.error or "")),
            _field("Examples made from it", tag("ol", *(_example(e) for e in row.examples))
                   if row.examples else tag("p", "none", class_="note")),
            class_="judged"))
    return _layout("Distilled", "distilled", form,
                   *(tag("p", n, class_="note") for n in notes),
                   _simple_pager("/distilled", {"api": api, "kept": kept}, start, len(rows),
                                 total, size),
                   *items, run_name=run_name)


def predictions_page(run_name: str, path: str | None, summary: Mapping[str, object],
                     rows: list[PredictionRow], total: int, api: str, verdict: str,
                     start: int, size: int, apis: list[str]) -> Markup:
    if path is None:
        return _layout("Predictions", "predictions", tag(
            "p", "No prediction file: start the viewer with ",
            tag("code", "--predictions FILE"), " to see one scored item by item.",
            class_="empty"), run_name=run_name)
    head = tag("table", *(tag("tr", tag("th", k), tag("td", v)) for k, v in summary.items()),
               class_="settings")
    form = tag("form", _select("api", "API", [("", "all"), *((a, a) for a in apis)], api),
               _select("verdict", "verdict", [("", "any"), *((v, v) for v in VERDICTS)],
                       verdict),
               tag("button", "Filter", type="submit"),
               method="get", action="/predictions", class_="filters")
    body = []
    for row in rows:
        body.append(tag("tr",
                        tag("td", row.api), tag("td", row.index, class_="num"),
                        tag("td", _pre(row.query)), tag("td", _pre(row.model_output)),
                        tag("td", _pre(f"{row.gold_action}\n{row.gold_input}")),
                        tag("td", tag("span", row.verdict,
                                      class_="badge " + ("yes" if row.verdict == "correct"
                                                         else "no")))))
    table = tag("table", tag("thead", tag("tr", *(tag("th", c) for c in (
        "API", "#", "query", "model output", "gold call", "verdict")))),
        tag("tbody", *body), class_="grid predictions")
    return _layout("Predictions", "predictions", tag("p", path, class_="facts"), head, form,
                   _simple_pager("/predictions", {"api": api, "verdict": verdict}, start,
                                 len(rows), total, size),
                   table, run_name=run_name)


def error_page(status: int, message: str) -> Markup:
    return _layout(f"{status}", "", tag("p", message, class_="empty"))
