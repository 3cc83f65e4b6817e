"""``ste-async score``: score a prediction file by the STE study's rules.

``add_arguments`` and ``run`` plug into the package's command line; ``main`` runs the command
on its own (``python -m ste_async.evaluate.score_cli PREDICTIONS.json --json``). Exit codes:
0 on success, 2 on any input error, reported as one line on stderr.

``--judge llm`` needs the labels of an LLM judge: ``ste-async score`` starts or names the
judge's server, gets the labels with :func:`judge_labels` (the only part that talks to a
server, run in the CLI's event loop) and hands them to :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ..errors import ConfigError
from .score import (
    JUDGES,
    ScoreCounts,
    ScoreInputError,
    ScoreReport,
    load_batches,
    load_predictions,
    score,
    score_batches,
    unlabelled_calls,
)

__all__ = ("add_arguments", "judge_labels", "main", "run")

_PROG = "ste-async score"
_EXIT_INPUT = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``score`` command's arguments on ``parser``."""
    parser.add_argument("predictions", metavar="PREDICTIONS.json",
                        help="prediction file: {api: [{model_output, action, action_input, "
                             "...}, ...]}")
    parser.add_argument("--judge", choices=JUDGES, default=None,
                        help="how API-matched calls are judged: 'stored' sums the file's "
                             "args_correct labels (the published figures); 'string' recomputes "
                             "the string-match APIs (stored labels elsewhere, string rule where "
                             "there are none); 'llm' asks an LLM judge (default: stored when "
                             "every item carries a label, as the study's files do, else string, "
                             "saying so)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of a table")
    parser.add_argument("--per-api", action="store_true",
                        help="add a breakdown by gold API")
    parser.add_argument("--batches", metavar="CL_batches.json",
                        help="also score each continual-learning batch of this file")
    judge = parser.add_argument_group("LLM judge (--judge llm)")
    judge.add_argument("--llm", choices=["mock"], help="mock: the scripted LLM, in-process")
    judge.add_argument("--llm-url", action="append", dest="llm_urls", metavar="URL",
                       help="OpenAI-compatible base URL of the judge (repeatable)")
    judge.add_argument("--model", default="default", help="the judge model (default: the "
                       "first one the server offers; the study used gpt-3.5-turbo-16k)")
    judge.add_argument("--llm-concurrency", "--judge-concurrency", type=int, default=64,
                       metavar="N", dest="judge_concurrency",
                       help="judge requests in flight (default 64)")
    judge.add_argument("--cassette", choices=["off", "record"], default="record",
                       help="record every judge exchange beside the predictions, in "
                            "PREDICTIONS.judge.cassette/ (default record)")


def _block(counts: ScoreCounts) -> dict[str, Any]:
    """One JSON block: the three percentages, the item count and the raw counts."""
    return {
        "total": counts.total,
        "wellformed": counts.wellformed_pct,
        "api_match": counts.api_match_pct,
        "correct": counts.correct_pct,
        "counts": {field: getattr(counts, field) for field in counts.__struct_fields__},
    }


def _as_json(path: str, report: ScoreReport, per_api: bool,
             batches: list[tuple[list[str], ScoreReport]] | None) -> dict[str, Any]:
    """The whole result as one JSON-ready object."""
    out: dict[str, Any] = {"file": path, "judge": report.judge, **_block(report.counts),
                           "judged_by": report.judged_by}
    if per_api:
        out["per_api"] = {api: _block(counts) for api, counts in report.per_api.items()}
    if batches is not None:
        out["batches"] = [{"batch": number, "apis": apis, **_block(batch.counts)}
                          for number, (apis, batch) in enumerate(batches)]
    return out


def _table(rows: list[tuple[str, ScoreCounts]]) -> str:
    """Rows of counts and percentages, columns aligned."""
    header = ("", "items", "no call", "err", "wellformed %", "api match %", "correct %")
    cells = [header] + [
        (label, str(c.total), str(c.no_call), str(c.err), f"{c.wellformed_pct:.3f}",
         f"{c.api_match_pct:.3f}", f"{c.correct_pct:.3f}")
        for label, c in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join([row[0].ljust(widths[0])]
                       + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:],
                                                                   strict=True)]).rstrip()
             for row in cells]
    return "\n".join(lines)


def _as_text(path: str, report: ScoreReport, per_api: bool,
             batches: list[tuple[list[str], ScoreReport]] | None) -> str:
    """The result as a readable report with aligned tables."""
    judged = ", ".join(f"{n} by {how}" for how, n in report.judged_by.items()) or "none"
    parts = [f"{path}  (judge: {report.judge}; API-matched items judged: {judged})", "",
             _table([("all", report.counts)])]
    if batches is not None:
        parts += ["", _table([(f"batch {number}", batch.counts)
                              for number, (_, batch) in enumerate(batches)])]
    if per_api:
        parts += ["", _table(list(report.per_api.items()))]
    return "\n".join(parts)


async def judge_labels(args: argparse.Namespace, llm_urls: Sequence[str]
                       ) -> dict[tuple[str, int], bool] | None:
    """Ask the LLM judge at ``llm_urls`` about the file's items; None when the file cannot be
    read (:func:`run` then reports the problem in one line)."""
    from ..config import LlmSettings
    from .judge import judge_llm

    try:
        data = load_predictions(args.predictions)
    except ScoreInputError:
        return None
    path = Path(args.predictions)
    outcome = await judge_llm(
        data, llm_urls,
        llm=LlmSettings(urls=tuple(llm_urls), model=args.model,
                        concurrency=max(1, args.judge_concurrency)),
        cassette_dir=None if args.cassette == "off" else path.parent / f"{path.stem}.judge.cassette")
    if outcome.errors:
        print(f"{_PROG}: warning: {len(outcome.errors)} judge request(s) failed and count as "
              f"wrong, e.g. {outcome.errors[0]}", file=sys.stderr)
    return outcome.labels


def run(args: argparse.Namespace,
        llm_labels: dict[tuple[str, int], bool] | None = None) -> int:
    """Run ``ste-async score`` with parsed arguments; return the exit code.

    ``llm_labels`` are the judge's verdicts for ``--judge llm`` (see :func:`judge_labels`).
    """
    if args.judge == "llm" and llm_labels is None:
        how = ("run it as `ste-async score`" if getattr(args, "llm", None)
               or getattr(args, "llm_urls", None)
               else "pass --llm-url URL (an OpenAI-compatible server) or --llm mock")
        print(f"{_PROG}: error: the LLM judge needs an LLM endpoint: {how}; or use --judge "
              "stored or --judge string", file=sys.stderr)
        return _EXIT_INPUT
    try:
        data = load_predictions(args.predictions)
        if args.judge is None:
            missing = unlabelled_calls(data)
            args.judge = "string" if missing else "stored"
            if missing:
                print(f"{_PROG}: note: {missing} API-matched call(s) in {args.predictions} "
                      "carry no stored args_correct label (infer writes none): judged by the "
                      "string rule (--judge string); --judge llm asks a model",
                      file=sys.stderr)
        report = score(data, judge=args.judge, llm_labels=llm_labels)
        batches = None
        if args.batches is not None:
            groups = load_batches(args.batches)
            batches = list(zip(groups, score_batches(data, groups, judge=args.judge,
                                                     llm_labels=llm_labels),
                               strict=True))
    except ConfigError as exc:  # ScoreInputError and the batch file's errors
        message = " ".join(str(exc).split())  # one line, whatever the message held
        print(f"{_PROG}: error: {message}", file=sys.stderr)
        return _EXIT_INPUT
    if args.json:
        print(json.dumps(_as_json(args.predictions, report, args.per_api, batches)))
    else:
        print(_as_text(args.predictions, report, args.per_api, batches))
    return 0


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(_EXIT_INPUT, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the process's arguments) and run the command."""
    parser = _OneLineParser(prog=_PROG, description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
