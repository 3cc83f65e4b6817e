"""What the viewer shows beside the episodes: the distilled data and a scored prediction file.

Both are read whole (they are a few megabytes where the episodes are gigabytes) and kept until
their files change, so a distillation that is still writing shows what it has written.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

from ..distill.candidates import Judgment, read_journal
from ..distill.examples import TrainExample, load_examples
from ..errors import ConfigError
from ..evaluate.score import (
    ItemOutcome,
    Judge,
    ScoreReport,
    load_predictions,
    score,
    unlabelled_calls,
)

__all__ = ("VERDICTS", "Distilled", "DistilledRow", "PredictionRow", "Predictions")

JUDGMENTS = Path("distill") / "judgments.jsonl"
DATASET = Path("distill") / "dataset.json"


class DistilledRow(msgspec.Struct, kw_only=True):
    """One judged trial: the judge's reply, both readings, and the examples made from it."""

    judgment: Judgment
    examples: list[TrainExample]  # the kept query first, then its paraphrases


def _stamp(*paths: Path) -> tuple[int, ...]:
    out = []
    for path in paths:
        try:
            out.append(path.stat().st_size)
        except OSError:
            out.append(-1)
    return tuple(out)


class Distilled:
    """The judged trials of a run's ``distill`` folder, reread when its files change."""

    def __init__(self, run_dir: Path):
        self.judgments_path = run_dir / JUDGMENTS
        self.dataset_path = run_dir / DATASET
        self._stamp: tuple[int, ...] = ()
        self._rows: list[DistilledRow] = []
        self.unreadable = 0
        self.dataset_error = ""

    @property
    def present(self) -> bool:
        return self.judgments_path.exists()

    def rows(self) -> list[DistilledRow]:
        stamp = _stamp(self.judgments_path, self.dataset_path)
        if stamp != self._stamp:
            self._load()
            self._stamp = stamp
        return self._rows

    def _load(self) -> None:
        judgments, self.unreadable = read_journal(self.judgments_path, Judgment)
        examples: dict[str, list[TrainExample]] = defaultdict(list)
        self.dataset_error = ""
        if self.dataset_path.exists():
            try:
                for example in load_examples(self.dataset_path):
                    examples[example.source].append(example)
            except ConfigError as exc:  # a dataset being rewritten, or damaged
                self.dataset_error = str(exc)
        self._rows = [DistilledRow(judgment=j, examples=examples.get(j.id, []))
                      for j in judgments.values()]

    def page(self, *, api: str = "", kept: str = "", start: int = 0,
             size: int = 50) -> tuple[list[DistilledRow], int]:
        """Rows of ``api`` (all when empty) kept or not by our reading ("yes", "no", or all),
        from ``start``; and how many match."""
        rows = [r for r in self.rows() if (not api or r.judgment.api == api)
                and (not kept or r.judgment.kept == (kept == "yes"))]
        return rows[start:start + size], len(rows)


class PredictionRow(msgspec.Struct, kw_only=True):
    """One test item with what the model wrote and how it scored."""

    api: str
    index: int
    query: str
    model_output: str
    gold_action: str
    gold_input: str
    outcome: ItemOutcome

    @property
    def verdict(self) -> str:
        o = self.outcome
        if o.no_call:
            return "no call"
        if o.err:
            return "malformed"
        if not o.api_match:
            return "wrong API"
        return "correct" if o.args_correct else "wrong arguments"


VERDICTS = ("correct", "wrong arguments", "wrong API", "malformed", "no call")


class Predictions:
    """A prediction file, scored once by the study's rules (the stored labels where every
    API-matched call carries one, else the string rule, as ``ste-async score`` decides)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        data: dict[str, list[dict[str, Any]]] = load_predictions(self.path)
        self.judge: Judge = "string" if unlabelled_calls(data) else "stored"
        self.report: ScoreReport = score(data, judge=self.judge)
        self.rows = [
            PredictionRow(api=o.api, index=o.index,
                          query=str(data[o.api][o.index].get("query", "")),
                          model_output=data[o.api][o.index]["model_output"],
                          gold_action=data[o.api][o.index]["action"],
                          gold_input=data[o.api][o.index]["action_input"], outcome=o)
            for o in self.report.items]

    def page(self, *, api: str = "", verdict: str = "", start: int = 0,
             size: int = 50) -> tuple[list[PredictionRow], int]:
        rows = [r for r in self.rows if (not api or r.api == api)
                and (not verdict or r.verdict == verdict)]
        return rows[start:start + size], len(rows)

