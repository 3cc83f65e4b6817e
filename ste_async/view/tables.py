"""The tables of the overview page, and the one place that decides what they hold.

:func:`overview_tables` is the seam: the page renders whatever list of :class:`Table` it
returns, as HTML and as JSON, without knowing where the numbers came from. Today they come
from the shard indexes alone (episodes, trials, our solved reading), which costs a tenth of a
second on 100,000 episodes; a fuller report of the run (the study's reading, errors by kind,
calls, tokens, coverage) plugs in here by turning its rows into tables.
"""

from __future__ import annotations

import msgspec

from .runindex import RunIndex

__all__ = ("Cell", "Table", "overview_tables")

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
