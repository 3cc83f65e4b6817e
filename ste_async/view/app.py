"""The viewer's web app: HTML pages and the same content as JSON, over one run directory.

Routes (GET only)::

    /                   overview: run settings and the per-API table      /api/overview
    /report             the full report of ``ste-async report``           /api/report
    /episodes           the episode list: filters, paging                 /api/episodes
    /episode?id=ID      one episode, trial by trial, step by step         /api/episode?id=ID
    /distilled          judged trials, the judge's replies, examples      /api/distilled
    /predictions        a prediction file, scored item by item            /api/predictions
    /static/NAME        the stylesheet and the script (package data)

Every response carries a strict Content-Security-Policy: scripts and styles from this server
only, nothing inline, no frames, no requests elsewhere; with the escaping in :mod:`.pages`,
model text that holds markup is shown and never run. Reading the run happens in a worker
thread, one request at a time, so the event loop never waits on the disk.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import anyio
import msgspec
from aiohttp import web

from ..config import ExploreConfig
from ..records import EpisodeRecord
from ..report import Report, build_report
from . import pages
from .extras import Distilled, Predictions
from .runindex import Filters, RunIndex, TrialHead
from .tables import overview_tables, report_tables

__all__ = ("CSP", "Viewer", "make_app", "serve")

T = TypeVar("T")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}
PAGE_SIZE = 50
_MAX_PAGE = 500


class _BadRequest(Exception):
    pass


def _static_files() -> dict[str, tuple[bytes, str]]:
    folder = resources.files(__package__ or "ste_async.view") / "static"
    out = {}
    for item in folder.iterdir():
        suffix = Path(item.name).suffix
        if suffix in _STATIC_TYPES:
            out[item.name] = (item.read_bytes(), _STATIC_TYPES[suffix])
    return out


class Viewer:
    """What the app serves: the run, its distilled data, an optional prediction file."""

    def __init__(self, run_dir: str | Path, predictions: str | Path | None = None):
        self.run = RunIndex(run_dir)  # a directory without run.json is a StoreError here
        self.distilled = Distilled(self.run.dir)
        self.predictions = Predictions(predictions) if predictions is not None else None
        self.name = str(run_dir)
        self._lock = anyio.Lock()
        self._report_lock = anyio.Lock()
        self._report: tuple[tuple[tuple[str, int, int], ...], Report] | None = None

    async def read(self, fn: Callable[[], T]) -> T:
        """``fn()`` in a worker thread after catching up with the writer, one at a time."""
        def job() -> T:
            self.run.refresh()
            return fn()

        async with self._lock:
            return await anyio.to_thread.run_sync(job)

    async def report(self) -> Report:
        """The run's full report, built again only when ``run.json`` or a shard changed since
        the last build (it reads every record: seconds for a large run)."""
        def files() -> tuple[tuple[str, int, int], ...]:
            paths = [self.run.dir / "run.json",
                     *sorted((self.run.dir / "episodes").glob("*.jsonl"))]
            stats = [(p.name, p.stat()) for p in paths if p.exists()]
            return tuple((name, st.st_size, st.st_mtime_ns) for name, st in stats)

        async with self._report_lock:  # one build at a time; a second opener waits for it
            key = await anyio.to_thread.run_sync(files)
            if self._report is None or self._report[0] != key:
                built = await anyio.to_thread.run_sync(build_report, self.run.dir)
                self._report = (key, built)
            return self._report[1]

    # -- what the pages show ---------------------------------------------------------------

    def settings(self) -> dict[str, object]:
        meta = self.run.meta
        c: ExploreConfig = meta.config
        return {
            "model": meta.model,
            "APIs": f"{len(meta.apis)}",
            "episodes per API": c.episodes,
            "trials per episode": c.trials,
            "max turns": c.max_turn,
            "temperature": c.temperature,
            "max tokens": c.max_tokens,
            "lanes": c.lanes,
            "long-term memory": "on" if c.ltm else "off",
            "short-term memory": "on" if c.stm else "off",
            "reflection": "on" if c.reflection else "off",
            "constrained actions": {True: "on", False: "off", None: "—"}[c.constrain_actions],
            "seed": c.seed,
            "catalog": c.catalog or "built-in",
            "recording": meta.cassette,
            "workers": meta.workers or 1,
            "episodes written": f"{self.run.total:,}",
            "torn last lines (being written)": self.run.torn(),
            "unreadable lines at the last start": meta.corrupt_lines_skipped,
        }

    def memories(self, record: EpisodeRecord) -> list[list[TrialHead]]:
        return [self.run.memory_before(record.api, t.memory_shown) if self.run.meta.config.ltm
                else [] for t in record.trials]


def _filters(query: Any) -> Filters:
    try:
        return msgspec.convert({k: query.get(k, "") for k in Filters.__struct_fields__},
                               Filters)
    except msgspec.ValidationError as exc:
        raise _BadRequest(f"bad filter: {exc}") from None


def _int(query: Any, name: str, default: int, top: int | None = None) -> int:
    raw = query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0 or (top is not None and value > top):
        raise _BadRequest(f"{name} must be between 0 and {top}, got {value}")
    return value


def _html(markup: str, status: int = 200) -> web.Response:
    return web.Response(text=markup, content_type="text/html", charset="utf-8", status=status)


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(value), content_type="application/json",
                        status=status)


def make_app(viewer: Viewer) -> web.Application:
    """The aiohttp application over ``viewer``."""
    static = _static_files()
    app = web.Application()

    async def headers(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(_HEADERS)

    app.on_response_prepare.append(headers)

    def wants_json(request: web.Request) -> bool:
        return request.path.startswith("/api/")

    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

    def guarded(handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except _BadRequest as exc:
                if wants_json(request):
                    return _json({"error": str(exc)}, 400)
                return _html(pages.error_page(400, str(exc)), 400)
        return run

    async def overview(request: web.Request) -> web.Response:
        tables, settings = await viewer.read(lambda: (overview_tables(viewer.run),
                                                      viewer.settings()))
        if wants_json(request):
            return _json({"run": viewer.name, "settings": settings, "tables": tables,
                          "distilled": viewer.distilled.present,
                          "predictions": str(viewer.predictions.path)
                          if viewer.predictions else None})
        extras = {}
        if viewer.distilled.present:
            extras["distilled trials and the judge's replies"] = "/distilled"
        if viewer.predictions is not None:
            extras[f"predictions: {viewer.predictions.path.name}"] = "/predictions"
        return _html(pages.overview_page(viewer.name, settings, tables, extras))

    async def report(request: web.Request) -> web.Response:
        # every record is read, in a thread of its own, so the other pages stay served
        done = await viewer.report()
        if wants_json(request):
            return _json(done)
        return _html(pages.report_page(viewer.name, report_tables(done), done.notes))

    async def episodes(request: web.Request) -> web.Response:
        f = _filters(request.query)
        start = _int(request.query, "start", 0)
        size = _int(request.query, "size", PAGE_SIZE, _MAX_PAGE) or PAGE_SIZE
        page = await viewer.read(lambda: viewer.run.page(f, start=start, size=size))
        if wants_json(request):
            return _json({"filters": f, **msgspec.to_builtins(page)})
        apis = await viewer.read(viewer.run.apis)
        return _html(pages.episodes_page(viewer.name, f, page, apis))

    async def episode(request: web.Request) -> web.Response:
        episode_id = request.query.get("id", "")
        if not episode_id:
            raise _BadRequest("which episode? give ?id=API#N")

        def load() -> tuple[EpisodeRecord | None, list[list[TrialHead]],
                            tuple[str | None, str | None]]:
            record = viewer.run.episode(episode_id)
            if record is None:
                return None, [], (None, None)
            return record, viewer.memories(record), viewer.run.neighbours(episode_id)

        record, memories, (before, after) = await viewer.read(load)
        if record is None:
            message = f"no episode {episode_id!r} in this run"
            if wants_json(request):
                return _json({"error": message}, 404)
            return _html(pages.error_page(404, message), 404)
        if wants_json(request):
            return _json({"record": record, "memory_shown": memories,
                          "previous": before, "next": after})
        return _html(pages.episode_page(viewer.name, record, memories,
                                        viewer.run.meta.config.reflection, before, after))

    async def distilled(request: web.Request) -> web.Response:
        api = request.query.get("api", "")
        kept = request.query.get("kept", "")
        if kept not in ("", "yes", "no"):
            raise _BadRequest(f"kept must be yes or no, got {kept!r}")
        start = _int(request.query, "start", 0)
        rows, total = await viewer.read(lambda: viewer.distilled.page(
            api=api, kept=kept, start=start, size=PAGE_SIZE))
        d = viewer.distilled
        if wants_json(request):
            return _json({"present": d.present, "total": total, "start": start,
                          "rows": rows, "unreadable_lines": d.unreadable})
        notes = [n for n in (
            f"{d.unreadable} unreadable line(s) skipped" if d.unreadable else "",
            d.dataset_error) if n]
        apis = await viewer.read(viewer.run.apis)
        return _html(pages.distilled_page(viewer.name, d.present, rows, total, api, kept,
                                          start, PAGE_SIZE, apis, notes))

    async def predictions(request: web.Request) -> web.Response:
        p = viewer.predictions
        api = request.query.get("api", "")
        verdict = request.query.get("verdict", "")
        start = _int(request.query, "start", 0)
        rows, total = p.page(api=api, verdict=verdict, start=start, size=PAGE_SIZE) \
            if p else ([], 0)
        summary: dict[str, object] = {}
        if p is not None:
            r = p.report
            summary = {"judge": p.judge, "items": r.total, "well-formed %": r.wellformed,
                       "API match %": r.api_match, "correct %": r.correct}
        if wants_json(request):
            return _json({"file": str(p.path) if p else None, "summary": summary,
                          "total": total, "start": start,
                          "rows": [{**msgspec.to_builtins(row), "verdict": row.verdict}
                                   for row in rows]})
        return _html(pages.predictions_page(
            viewer.name, str(p.path) if p else None, summary, rows, total, api, verdict,
            start, PAGE_SIZE, list(p.report.per_api) if p else []))

    async def static_file(request: web.Request) -> web.Response:
        found = static.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, kind = found
        return web.Response(body=body, content_type=kind, charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    for path, handler in (("/", overview), ("/report", report), ("/episodes", episodes),
                          ("/episode", episode),
                          ("/distilled", distilled), ("/predictions", predictions)):
        app.router.add_get(path, guarded(handler))
        app.router.add_get("/api" + (path if path != "/" else "/overview"), guarded(handler))
    app.router.add_get("/static/{name}", static_file)

    async def no_icon(request: web.Request) -> web.Response:
        return web.Response(status=204)  # browsers ask; there is none, and that is no error

    app.router.add_get("/favicon.ico", no_icon)
    return app


@contextlib.asynccontextmanager
async def serve(viewer: Viewer, port: int = 0) -> AsyncIterator[str]:
    """Serve the viewer on 127.0.0.1 (``port`` 0: a free one); yields its URL once the
    shard indexes are read, so the first page a user opens is served from memory."""
    await viewer.read(viewer.run.shard_stats)
    runner = web.AppRunner(make_app(viewer), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        bound = runner.addresses[0][1]
        yield f"http://127.0.0.1:{bound}/"
    finally:
        with anyio.CancelScope(shield=True):
            await runner.cleanup()
