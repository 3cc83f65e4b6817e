"""The terminal side of the progress display (:mod:`ste_async.progress`): rich's Progress
with the bar row's cells chosen for the terminal's width and the display's lines below it.

Apart so that rich is imported only when a display is shown on a terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, ProgressColumn, Task
from rich.text import Text

__all__ = ("Board",)

_MIN_BAR = 10  # a narrower bar says nothing; below this the bar goes before the numbers
_MAX_BAR = 50
# the row's cells, most important first: what is kept when the terminal is narrow
_KEEP_ORDER = ("count", "eta", "bar", "percent", "title", "elapsed")
_ROW_ORDER = ("title", "bar", "count", "percent", "elapsed", "eta")


class _Cell(ProgressColumn):
    """One of the bar row's texts, computed by the display and kept in the task's fields."""

    def __init__(self, key: str, style: str = ""):
        super().__init__()
        self.key = key
        self.style = style

    def render(self, task: Task) -> Text:
        return Text(str(task.fields.get(self.key, "")), style=self.style, no_wrap=True)


class Board(Progress):
    """rich's Progress, its row's cells chosen for the width, the display's lines (text and
    style, already fitted to the width they are asked for) below."""

    def __init__(self, console: Console, clock: Callable[[], float], redirect: bool,
                 lines: Callable[[int], list[tuple[str, str]]]):
        self._cells = {"title": _Cell("title", "bold"), "count": _Cell("count"),
                       "percent": _Cell("percent"), "elapsed": _Cell("elapsed", "dim"),
                       "eta": _Cell("eta", "cyan")}
        self._bar = BarColumn(bar_width=_MIN_BAR)
        self._lines = lines
        self._screen = console  # rich asks for a first frame before its own is set
        super().__init__(console=console, auto_refresh=False, transient=False,
                         redirect_stdout=False, redirect_stderr=redirect, get_time=clock)

    def _columns(self, width: int) -> tuple[ProgressColumn, ...]:
        sizes = {key: max((cell_len(str(t.fields.get(key, ""))) for t in self.tasks),
                          default=0) for key in self._cells}
        sizes["bar"] = _MIN_BAR
        keep = list(_KEEP_ORDER)
        while len(keep) > 1 and sum(sizes[k] for k in keep) + len(keep) - 1 > width:
            keep.pop()
        if "bar" in keep:
            spare = width - sum(sizes[k] for k in keep) - (len(keep) - 1)
            self._bar.bar_width = min(_MAX_BAR, _MIN_BAR + spare)
        return tuple(self._bar if k == "bar" else self._cells[k]
                     for k in _ROW_ORDER if k in keep)

    def get_renderables(self) -> Iterable[RenderableType]:
        width = self._screen.width
        self.columns = self._columns(width)
        yield self.make_tasks_table(self.tasks)
        for text, style in self._lines(width):
            yield Text(text, style=style, no_wrap=True, overflow="ellipsis")
