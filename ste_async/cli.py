"""``ste-async``: the command line. The only place that starts an event loop."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import msgspec

from ._runtime import EXIT_INTERRUPTED, EXIT_OK, EXIT_PIPE_CLOSED, explain, run_async
from .cassette import CASSETTE_MODES
from .errors import ConfigError
from .services import LlmChoice, llm_servers, mock_llm_config

if TYPE_CHECKING:
    from .distill.runner import DistillReport
    from .evaluate.infer import InferMeta
    from .explore.runner import RunOutcome
    from .progress import ProgressSettings
    from .protocol import Protocol
    from .replay import ReplayReport

__all__ = ("build_parser", "main")


def _api_list(value: str | None) -> tuple[str, ...] | None:
    """``all`` (None), a comma list, or @FILE / a file path with one name per line or JSON."""
    if value is None or value == "all":
        return None
    path = Path(value.removeprefix("@"))
    if value.startswith("@") or (path.suffix in (".json", ".txt") and path.exists()):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read API list {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"API list {path} is not UTF-8 text (byte {exc.start}: "
                              f"{exc.reason})") from None
        if text.lstrip().startswith("["):
            try:
                names = msgspec.json.decode(text, type=list[str])
            except msgspec.DecodeError as exc:
                raise ConfigError(f"API list {path}: {exc}") from None
        else:
            names = [line.strip() for line in text.splitlines() if line.strip()]
        if not names:
            raise ConfigError(f"API list {path} names no API (use --apis all for every API)")
        return tuple(names)
    # API names may contain commas? none of the catalog's do; "%%" and spaces are fine
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"--apis {value!r} names no API (use --apis all for every API)")
    return tuple(names)


async def _until_signalled() -> None:
    """Wait for Ctrl-C or SIGTERM, so servers are stopped (and their children) either way."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            return


def _llm_choice(args: argparse.Namespace, urls: tuple[str, ...] | None = None,
                **mock_settings: float) -> LlmChoice:
    """The LLM a command asks: the scripted one with ``--llm mock``, the servers of
    ``--llm-url`` (or ``urls``), else the embedded model, started for the command."""
    mock = mock_llm_config(**mock_settings) if args.llm == "mock" else None
    given = tuple(args.llm_urls or ()) if urls is None else urls
    return LlmChoice(urls=given, mock=mock, embedded_default=True)


def _int_or_auto(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {value!r}") from None


class _HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default after its help, unless the help already says it or there
    is none to show (a flag, or a value decided elsewhere, which the help then names)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default is None or default is False
                or default is argparse.SUPPRESS or action.nargs == 0
                or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)"


def _add_quiet(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress display (warnings and errors still print)")


def _progress(args: argparse.Namespace) -> ProgressSettings | None:
    """How the command shows its progress: on standard error, unless ``--quiet``."""
    from .progress import ProgressSettings

    return None if args.quiet else ProgressSettings()


def _add_protocol_options(parser: argparse.ArgumentParser, points: tuple[str, ...]) -> None:
    """``--protocol`` and the single points it sets that matter to this command."""
    from .protocol import CHOICES

    group = parser.add_argument_group(
        "fidelity (where the study's code and this product differ; see the README's "
        "protocol table)")
    group.add_argument("--protocol", choices=["study", "improved"],
                       help="every point below the study's way or this product's (default: "
                            "improved; a resume or a later step keeps the run's, and a later "
                            "step's --protocol sets only its own points)")
    helps = {
        "parse": "study: Action Input rewritten as '{' + text.strip('{}') + '}' and sent "
                 "undecoded; json: decoded, parser feedback when it is not JSON",
        "reflection_reading": "which reading of the reflection labels the memory; study: any "
                              "'No' substring; first-word: the first standalone yes/no",
        "descriptions": "study: a description file's text byte for byte; rendered: rebuilt "
                        "from the parsed spec",
        "judge_rule": "study: rejected when 'No.' appears anywhere; all-yes: kept when all "
                      "three verdicts read Yes",
        "paraphrase_cleanup": "study: the study's wording, replies raw; clean: cleaned and "
                              "de-duplicated",
        "replay": "study: 10%% of each earlier batch, seeded by its id; pooled: ratio x new "
                  "from all earlier batches",
    }
    for point in points:
        group.add_argument(f"--{point.replace('_', '-')}", dest=f"protocol_{point}",
                           choices=CHOICES[point], help=helps[point])


def _protocol_given(args: argparse.Namespace) -> dict[str, str] | None:
    """The protocol options given, as ``{"mode": ..., point: value}``; None when none was."""
    from .protocol import POINTS

    given = {p: getattr(args, f"protocol_{p}", None) for p in POINTS}
    table = {k: v for k, v in given.items() if v is not None}
    if args.protocol is not None:
        table["mode"] = args.protocol
    return table or None


def _resolved_protocol(args: argparse.Namespace, base: Protocol, points: tuple[str, ...]
                       ) -> Protocol | None:
    """``base`` (what the run recorded) changed by the options given; None when none was.
    ``--protocol`` sets only this command's ``points`` (the others were decided by an earlier
    step) and becomes the recorded mode."""
    import msgspec

    from .protocol import resolve_protocol

    table = _protocol_given(args)
    if table is None:
        return None
    mode = table.pop("mode", None)
    try:
        changes: dict[str, str] = {}
        if mode is not None:
            preset = resolve_protocol(mode)
            changes = {p: getattr(preset, p) for p in points}
        changes.update(table)
        resolved = resolve_protocol(base=base, **changes)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return msgspec.structs.replace(resolved, mode=mode) if mode is not None else resolved


def _add_explore(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from .config import (
        DEFAULT_EPISODES,
        DEFAULT_MAX_TOKENS,
        DEFAULT_MAX_TURN,
        DEFAULT_TRIALS,
        ExploreConfig,
    )
    from .config import DEFAULT_TEMPERATURE as TEMPERATURE

    d = ExploreConfig()
    p = sub.add_parser("explore", help="run STE exploration episodes",
                       formatter_class=_HelpFormatter,
                       description="Run STE exploration: imagine, act, reflect, per API. "
                                   "Settings not given come from --config, else the study's "
                                   "defaults; with --resume, from the run's run.json.")
    p.add_argument("--config", type=Path, help="TOML file ([explore] table or top level; "
                   "the LLM settings in [explore.llm])")

    what = p.add_argument_group("what to explore")
    what.add_argument("--apis", help="all (default), comma-separated names, or @FILE (a JSON "
                      "list, or one name per line)")
    what.add_argument("--catalog", help="the APIs: a ToolBench tool file or a tree of them "
                      "(data/toolenv/tools), the study's API_descriptions.json, or an "
                      "ste_async list (default: the built-in 50)")

    protocol = p.add_argument_group("protocol (the study's defaults)")
    protocol.add_argument("--episodes", type=int,
                          help=f"episodes per API (default: {DEFAULT_EPISODES})")
    protocol.add_argument("--trials", type=int,
                          help=f"trials per episode (default: {DEFAULT_TRIALS})")
    protocol.add_argument("--max-turn", type=int, dest="max_turn",
                          help=f"tool rounds per trial (default: {DEFAULT_MAX_TURN})")
    protocol.add_argument("--lanes", type=int, help=f"episodes of one API at once, more is "
                          f"faster with staler memory (default: {d.lanes})")
    protocol.add_argument("--no-ltm", dest="ltm", action="store_false", default=None,
                          help="ablation: no long-term memory (no earlier queries shown)")
    protocol.add_argument("--no-stm", dest="stm", action="store_false", default=None,
                          help="ablation: no short-term memory (each trial a fresh "
                               "conversation)")
    protocol.add_argument("--no-reflection", dest="reflection", action="store_false",
                          default=None, help="ablation: no self-assessment; memory lists "
                                             "queries without a solved label")
    protocol.add_argument("--seed", type=int, help="run seed; every request's seed derives "
                          f"from (seed, api, episode, trial, step) (default: {d.seed})")

    sampling = p.add_argument_group("sampling")
    sampling.add_argument("--temperature", type=float,
                          help=f"sampling temperature (default: {TEMPERATURE})")
    sampling.add_argument("--max-tokens", type=int, dest="max_tokens",
                          help=f"tokens per model call (default: {DEFAULT_MAX_TOKENS})")
    sampling.add_argument("--constrain-actions", dest="constrain_actions",
                          action=argparse.BooleanOptionalAction, default=None,
                          help="limit Action to the offered APIs and Action Input to JSON "
                               "with a grammar (default: on for the embedded model, off "
                               "otherwise, as the study ran)")

    _add_protocol_options(p, ("parse", "reflection_reading", "descriptions", "judge_rule",
                              "paraphrase_cleanup", "replay"))

    llm = p.add_argument_group("LLM (default: the embedded model, started for the run)")
    llm.add_argument("--llm-url", action="append", dest="llm_urls", metavar="URL",
                     help="OpenAI-compatible base URL, with or without /v1 (repeatable: "
                          "load-balanced with episode affinity)")
    llm.add_argument("--model", help="the model to ask (default: the first the server offers)")
    llm.add_argument("--llm", choices=["mock"], help="mock: the scripted test LLM, in-process")
    llm.add_argument("--mock-latency-ms", type=float, default=0.0,
                     help="--llm mock: milliseconds per reply")
    llm.add_argument("--mock-error-rate", type=float, default=0.2,
                     help="--llm mock: chance that a trial's first step holds a mistake")

    tools = p.add_argument_group("tools")
    tools.add_argument("--tools-url", dest="tools_url", metavar="URL",
                       help="a running tool server (default: the mock tool server, "
                            "in-process)")

    limits = p.add_argument_group("concurrency")
    limits.add_argument("--max-episodes", type=int, dest="max_episodes",
                        help=f"episodes in flight, all APIs together (default: "
                             f"{d.max_episodes})")
    limits.add_argument("--llm-concurrency", type=_int_or_auto, dest="llm_concurrency",
                        help="LLM requests in flight, or 'auto' to follow the server's load "
                             f"(default: {d.llm.concurrency})")
    limits.add_argument("--tool-concurrency", type=int, dest="tool_concurrency",
                        help=f"tool requests in flight (default: {d.tool_concurrency})")
    limits.add_argument("--workers", type=int,
                        help="processes, the APIs partitioned among them (for when one "
                             "process saturates a core); with --ray, actors (default: one "
                             "per CPU of the cluster)")
    limits.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                        help="run the workers as Ray actors (extra [ray]): on a local "
                             "cluster started for the run, or on the cluster at ADDRESS "
                             "('auto', 'HOST:PORT' or 'ray://HOST:PORT')")

    output = p.add_argument_group("output and recording")
    output.add_argument("--out", type=Path, default=Path("runs/explore"), help="run directory")
    output.add_argument("--resume", action="store_true",
                        help="continue the run in --out with its recorded settings")
    output.add_argument("--cassette", choices=CASSETTE_MODES, default=None,
                        help="record every exchange (default: record; a --resume keeps the "
                             "run's choice and replays what was recorded), replay offline, "
                             "or off")
    _add_quiet(output)
    p.set_defaults(func=_cmd_explore)


def _cmd_explore(args: argparse.Namespace) -> int:
    from .config import load_explore_config
    from .explore.runner import explore, resolve
    from .services import open_services
    from .session import Endpoints, check_resume, read_run_meta

    overrides = {k: getattr(args, k) for k in (
        "catalog", "episodes", "trials", "max_turn", "temperature", "max_tokens", "lanes",
        "max_episodes", "llm_concurrency", "tool_concurrency", "model", "tools_url", "seed",
        "ltm", "stm", "reflection", "constrain_actions")}
    overrides["apis"] = _api_list(args.apis)
    overrides["llm_urls"] = tuple(args.llm_urls) if args.llm_urls else None
    overrides["protocol"] = _protocol_given(args)
    # a resume continues the recorded settings: what is given here changes them (and
    # changing one that decides the episodes is refused below)
    old = read_run_meta(args.out)
    recorded = old if args.resume else None
    config = load_explore_config(args.config, base=recorded.config if recorded else None,
                                 **overrides)
    cassette = args.cassette or (recorded.cassette if recorded else "record")
    choice = _llm_choice(args, config.llm.urls, latency_ms=args.mock_latency_ms,
                         error_rate=args.mock_error_rate)
    # refuse a directory that cannot be continued before any server is started
    will_embed = choice.mock is None and not choice.urls
    check_resume(old, resolve(config, Endpoints(llm_urls=(), embedded=will_embed)), args.out,
                 args.resume, cassette)
    n_apis = len(config.apis) if config.apis else "all"
    print(f"exploring {n_apis} APIs x {config.episodes} episodes x {config.trials} trials "
          f"-> {args.out} (protocol {config.protocol.describe()})", file=sys.stderr)

    async def run() -> RunOutcome:
        async with open_services(choice, tools_url=config.tools_url, catalog=config.catalog,
                                 seed=config.seed) as endpoints:
            if args.ray is not None:
                from .explore.ray_actors import explore_on_ray

                return await explore_on_ray(
                    config, args.out, endpoints, address=args.ray or None,
                    actors=args.workers, resume=args.resume, cassette=cassette,
                    progress=_progress(args))
            if args.workers not in (None, 1):
                from .explore.workers import explore_in_workers

                return await explore_in_workers(
                    config, args.out, args.workers, endpoints, resume=args.resume,
                    cassette=cassette, progress=_progress(args))
            return await explore(config, args.out, endpoints, resume=args.resume,
                                 cassette=cassette, progress=_progress(args))

    outcome = run_async(run)
    _print_summary(outcome)
    if outcome.interrupted:
        print("interrupted: partial results kept; continue with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    if outcome.metrics.failed:
        return 1
    print(f"next: ste-async report {outcome.run_dir}   (coverage, errors, query diversity)")
    print(f"next: ste-async distill {outcome.run_dir}{_llm_options(args)}   (judge and "
          "paraphrase the trials into training data)")
    return EXIT_OK


def _print_summary(outcome: RunOutcome) -> None:
    """The report's short form, read from the store (so a resumed run, even one with nothing
    left to do, shows all of its episodes), then what this command did."""
    from .report import build_report, render_short

    print(render_short(build_report(outcome.run_dir, detail=False)))
    print(outcome.metrics.summary())
    print(f"run directory: {outcome.run_dir}")


def _llm_options(args: argparse.Namespace) -> str:
    """The LLM options of this command, to repeat in the next one."""
    if args.llm == "mock":
        return " --llm mock"
    return "".join(f" --llm-url {url}" for url in args.llm_urls or ())


def _add_report(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "report", help="what a run holds: per API, parameter coverage, errors, query diversity",
        description="Report on an explored run from its store, at any time (a run still "
                    "being written, by one process or several, is reported as far as it "
                    "got): per API episodes, trials, solved rates, calls and cost; for each "
                    "parameter whether the calls exercised it, with which values, and how "
                    "often the API rejected it; errors by kind; query diversity and the "
                    "long-term memory shown; latency percentiles and throughput.")
    p.add_argument("run_dir", type=Path, help="a run directory (the --out of explore)")
    p.add_argument("--json", action="store_true",
                   help="print the report as JSON instead (schema: docs/REPORT.md)")
    p.add_argument("--html", type=Path, metavar="FILE",
                   help="also write the report as one self-contained HTML page")
    p.set_defaults(func=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from ._atomic import write_atomic
    from .report import build_report, render_html, render_text

    report = build_report(args.run_dir)
    if args.html is not None:
        write_atomic(args.html, render_html(report).encode())
        print(f"wrote {args.html}", file=sys.stderr)
    if args.json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(report)).decode() + "\n")
        return EXIT_OK
    print(render_text(report))
    if report.totals.episodes < report.totals.planned:
        print(f"next: ste-async explore --out {args.run_dir} --resume   (finish the "
              f"{report.totals.planned - report.totals.episodes:,} episodes not done yet)")
    else:
        print(f"next: ste-async distill {args.run_dir}   (judge and paraphrase the trials "
              "into training data)")
    return EXIT_OK


def _add_export(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "export", help="export a run directory",
        description="ste: the explored episodes in the study's data_dict layout. ste-train, "
                    "openai, sharegpt: the distilled training data (run `ste-async distill` "
                    "first), optionally one continual-learning round.")
    p.add_argument("run_dir", type=Path, help="an explored run directory")
    p.add_argument("--format", choices=["ste", "ste-train", "openai", "sharegpt"],
                   default="ste", help="ste: the explored episodes (data_dict.json); the "
                                       "others: the distilled training data")
    p.add_argument("--out", type=Path, help="output file (default: in RUN_DIR, data_dict.json "
                   "for ste, tool_data_train.json for ste-train, CL_round_K[_no_replay].json "
                   "for a round, train_openai.jsonl, train_sharegpt.jsonl)")
    p.add_argument("--with-observation", action="store_true",
                   help="openai/sharegpt: add the observation (user) and the final answer "
                        "(assistant) after the call")
    p.add_argument("--batches", type=Path, metavar="FILE",
                   help="continual learning: a JSON list of batches of API names "
                        "(the study's CL_batches.json); needs --round")
    p.add_argument("--round", type=int, dest="cl_round", metavar="K",
                   help="the 0-based round K: batch K's examples plus a replay sample")
    replay = p.add_mutually_exclusive_group()
    replay.add_argument("--replay-ratio", type=float, default=0.1, metavar="RATIO",
                        help="replayed examples per new example of the round (default 0.1): "
                             "RATIO x (the examples of batch K), rounded half up, drawn "
                             "without replacement from all examples of batches 0..K-1 "
                             "(capped at their number); replayed examples are then "
                             "RATIO/(1+RATIO) of the round")
    replay.add_argument("--no-replay", action="store_true",
                        help="the ablation: batch K's examples only")
    p.add_argument("--seed", type=int, default=0, help="seed of the replay sample (the "
                   "study's replay rule adds each batch's id to it)")
    general = p.add_mutually_exclusive_group()
    general.add_argument("--general", type=Path, metavar="FILE",
                         help="openai/sharegpt: mix general instruction data in the study's "
                              "layout (its flan_v2_2k.json) after the tool examples, under "
                              "the study's normal-mode system message")
    general.add_argument("--no-general", action="store_true",
                         help="a round under the study's replay rule without general data "
                              "(the study's --no_general)")
    _add_protocol_options(p, ("replay",))
    p.add_argument("--keep-duplicates", action="store_true",
                   help="training formats: keep rows identical to one already written "
                        "(they are left out and counted by default)")
    p.add_argument("--wait", action="store_true",
                   help="when the run is being written (explore or distill running), wait "
                        "for it to end instead of exporting what is finished so far")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from .errors import RunBusyError
    from .session import load_run_meta, locked

    load_run_meta(args.run_dir)  # a run directory, readable, before anything else
    if not os.access(args.run_dir, os.W_OK):
        return _export(args)  # an archived, read-only run: no one can be writing it
    try:
        with locked(args.run_dir, wait=args.wait):
            return _export(args)
    except RunBusyError:
        pass
    print(f"warning: {args.run_dir} is being written; exporting what is finished so far "
          "(--wait waits for the run to end)", file=sys.stderr)
    return _export(args)


def _export(args: argparse.Namespace) -> int:
    from .export import export_ste, export_train, run_protocol

    if args.format == "ste":
        if args.batches is not None or args.cl_round is not None:
            raise ConfigError("--batches/--round apply to the training formats "
                              "(ste-train, openai, sharegpt), not to ste")
        path, n_apis, n_eps = export_ste(args.run_dir, args.out)
        print(f"wrote {path}: {n_apis} APIs, {n_eps} episodes")
        return EXIT_OK
    done = export_train(args.run_dir, args.format, args.out,
                        with_observation=args.with_observation, batches=args.batches,
                        cl_round=args.cl_round,
                        replay_ratio=0.0 if args.no_replay else args.replay_ratio,
                        seed=args.seed, keep_duplicates=args.keep_duplicates,
                        protocol=_resolved_protocol(args, run_protocol(args.run_dir),
                                                    ("replay",)),
                        general=args.general, no_general=args.no_general)
    if done.round is not None:
        for warning in done.round.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        per_batch = ", ".join(f"batch {i}: {n}" for i, n in done.round.replay_per_batch.items())
        print(f"round {done.round.round}: {len(done.round.new)} examples of "
              f"{len(done.round.apis)} APIs + {len(done.round.replay)} replayed "
              f"(of {done.round.replay_pool} earlier"
              + (f"; {per_batch}" if per_batch else "") + ")"
              + (f" + {done.general} general" if done.general else ""))
    dropped = (f" ({done.duplicates} exact duplicate rows left out; --keep-duplicates keeps "
               "them)" if done.duplicates else "")
    print(f"wrote {done.path}: {done.examples} examples{dropped}, {done.apis} APIs, "
          f"protocol {done.protocol.describe()}")
    return EXIT_OK


def _add_distill(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "distill", help="judge explored trials and paraphrase the good ones into training data",
        description="Filter a run's trials with an LLM judge (informative, faithful, "
                    "appropriate use), paraphrase the kept queries, and write "
                    "RUN_DIR/distill/dataset.json.")
    p.add_argument("run_dir", type=Path, help="an explored run directory")
    p.add_argument("--llm", choices=["mock"], help="mock: the scripted LLM, in-process")
    p.add_argument("--llm-url", action="append", dest="llm_urls",
                   help="OpenAI-compatible base URL (repeatable)")
    p.add_argument("--model", default="default", help="judge and paraphrase model "
                   "(default: the first the server offers)")
    p.add_argument("--target", type=int, default=150,
                   help="examples per API the paraphrases aim at (study: 150)")
    p.add_argument("--max-paraphrases", type=int, default=6, dest="max_paraphrases",
                   help="most paraphrases per kept example (study: 6)")
    p.add_argument("--llm-concurrency", "--concurrency", type=int, default=64,
                   dest="concurrency", help="items, and LLM requests, in flight")
    p.add_argument("--seed", type=int, default=0,
                   help="every request's sampling seed derives from it and the trial")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted distillation without redoing finished items")
    p.add_argument("--cassette", choices=["off", "record", "replay-then-live"],
                   default="record", help="record every LLM exchange (default; --resume then "
                   "replays them), or off")
    _add_quiet(p)
    _add_protocol_options(p, ("judge_rule", "paraphrase_cleanup"))
    p.set_defaults(func=_cmd_distill)


def _cmd_distill(args: argparse.Namespace) -> int:
    from .config import LlmSettings
    from .distill.runner import DistillConfig, distill
    from .session import load_run_meta

    choice = _llm_choice(args)
    protocol = _resolved_protocol(args, load_run_meta(args.run_dir).config.protocol,
                                  ("judge_rule", "paraphrase_cleanup"))
    try:
        config = DistillConfig(
            llm=LlmSettings(urls=choice.urls, model=args.model, concurrency=args.concurrency),
            target=args.target, max_paraphrases=args.max_paraphrases, seed=args.seed,
            protocol=protocol)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None

    async def run() -> DistillReport:
        async with llm_servers(choice) as (urls, _):
            return await distill(args.run_dir, config, urls, resume=args.resume,
                                 cassette=args.cassette, progress=_progress(args))

    report = run_async(run)
    print(report.summary())
    print(f"next: ste-async export --format openai {args.run_dir}   (chat fine-tuning data), or "
          f"ste-async infer --test tool_test.json --setting icl --demos {args.run_dir}"
          f"{_llm_options(args)}   (demonstrations)")
    return EXIT_OK


def _add_serve_tools(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from tool_mocks.cli import add_arguments

    p = sub.add_parser("serve-tools", help="run the mock tool server (the 50 STE APIs, or --catalog)")
    add_arguments(p)
    p.set_defaults(func=_cmd_serve_tools)


def _cmd_serve_tools(args: argparse.Namespace) -> int:
    from tool_mocks.cli import config_from_args, run

    run_async(run, config_from_args(args))
    return EXIT_INTERRUPTED  # a server runs until it is interrupted, like any command


def _add_serve_llm(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve-llm", help="run an OpenAI-compatible server",
        description="Start OpenAI-compatible LLM servers, wait until they answer, print their "
                    "URLs, and stop them on Ctrl-C. Arguments after -- go to the server "
                    "unchanged (for example: -- --max-model-len 16384).")
    p.add_argument("--backend", choices=["embedded", "vllm", "mock"], default="embedded",
                   help="embedded: llama.cpp with a packaged model; vllm: vLLM on the GPU; "
                        "mock: the scripted LLM")
    p.add_argument("--model", help="embedded: a GGUF file (default: the packaged model); "
                                   "vllm: a hub id or local model directory (required)")
    p.add_argument("--replicas", type=int, default=1,
                   help="servers to start, on ports PORT, PORT+1, ...; vLLM replicas go "
                        "round-robin over --gpus")
    p.add_argument("--gpus", help="vllm: comma list of GPU ids for the replicas "
                                  "(default: $CUDA_VISIBLE_DEVICES, else the default device)")
    p.add_argument("--gpu-memory", type=float, default=0.9,
                   help="vllm: fraction of each GPU's memory, split among its replicas")
    p.add_argument("--slots", type=int, default=0,
                   help="requests served at once (embedded default: 4 per core; vllm: its "
                        "--max-num-seqs, default vLLM's own; mock: 0 = no limit, the rest queue)")
    p.add_argument("--startup-timeout", type=float, default=0.0,
                   help="seconds to wait for health (default: 180 embedded, 900 vllm)")
    p.add_argument("--port", type=int, default=8000,
                   help="port of the first server (0: free ports)")
    p.add_argument("--host", default="127.0.0.1", help="bind address")
    p.add_argument("--mock-latency-ms", "--latency-ms", type=float, default=0.0,
                   dest="latency_ms", help="mock: milliseconds per reply")
    p.add_argument("--latency-spread", type=float, default=0.0,
                   help="uniform +-fraction around --latency-ms")
    p.add_argument("--per-token-ms", type=float, default=0.0,
                   help="mock: milliseconds per generated token")
    p.add_argument("--load-ms", type=float, default=0.0,
                   help="mock: milliseconds added per request already in flight")
    p.add_argument("--mock-error-rate", "--error-rate", type=float, default=0.2,
                   dest="error_rate",
                   help="mock: chance that a trial's first step holds a mistake")
    p.add_argument("--lora", type=Path, metavar="DIR",
                   help="serve a `finetune` output directory as it is: embedded, its LoRA "
                        "adapter over the base GGUF or its merged GGUF; vllm, its merged model")
    p.add_argument("server_args", nargs="*", metavar="-- SERVER_ARGS",
                   help="passed to llama-server or vllm serve")
    p.set_defaults(func=_cmd_serve_llm)


def _cmd_serve_llm(args: argparse.Namespace) -> int:
    if args.backend != "mock":
        return _serve_local(args)
    if args.replicas != 1 or args.server_args or args.lora:
        raise ConfigError("the mock backend takes neither --replicas, --lora nor server "
                          "arguments")
    config = mock_llm_config(host=args.host, port=args.port, latency_ms=args.latency_ms,
                             latency_spread=args.latency_spread, per_token_ms=args.per_token_ms,
                             load_ms=args.load_ms, slots=args.slots, error_rate=args.error_rate)

    async def serve() -> None:
        async with llm_servers(LlmChoice(mock=config)) as (urls, _):
            print(f"scripted mock LLM listening on {urls[0]}/v1", flush=True)
            await _until_signalled()

    run_async(serve)
    return EXIT_INTERRUPTED  # a server runs until it is interrupted, like any command


def _serve_local(args: argparse.Namespace) -> int:
    from .llm.local import serve_all
    from .services import local_servers

    servers = local_servers(
        args.backend, model=args.model, replicas=args.replicas, port=args.port, host=args.host,
        slots=args.slots, gpus=args.gpus, gpu_memory=args.gpu_memory,
        startup_timeout=args.startup_timeout, extra_args=args.server_args, lora=args.lora)

    async def serve() -> None:
        async with serve_all(servers) as urls:
            for url in urls:
                print(f"{servers[0].kind} serving at {url}/v1", flush=True)
            print("explore with: ste-async explore " + " ".join(f"--llm-url {u}" for u in urls),
                  flush=True)
            await _until_signalled()

    run_async(serve)
    return EXIT_INTERRUPTED  # a server runs until it is interrupted, like any command


def _add_score(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from .evaluate.score_cli import add_arguments

    p = sub.add_parser("score", help="score a prediction file the way the study does")
    add_arguments(p)
    p.set_defaults(func=_cmd_score)


def _cmd_score(args: argparse.Namespace) -> int:
    from .evaluate.score_cli import judge_labels, run

    labels = None
    if args.judge == "llm":
        choice = _llm_choice(args)

        async def judge() -> dict[tuple[str, int], bool] | None:
            async with llm_servers(choice) as (urls, _):
                return await judge_labels(args, urls)

        labels = run_async(judge)
    return run(args, llm_labels=labels)


def _add_infer(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from .evaluate.retrieval import RETRIEVERS

    p = sub.add_parser("infer", help="run a model on the STE test set; write predictions",
                       description="Run a model on the study's test prompts (all APIs offered, "
                                   "one call, stop at Observation:) and write a prediction "
                                   "file for `ste-async score`.")
    p.add_argument("--test", required=True, help="test file in the study's layout "
                   "(tool_test.json: {api: [{query, action, action_input}]})")
    p.add_argument("--setting", choices=["zero-shot", "icl"], default="zero-shot",
                   help="icl: show the k explored examples nearest each query")
    p.add_argument("--demos", help="ICL: examples JSON or a run directory (its "
                   "distill/dataset.json); default: the items' own 'demo' lists")
    p.add_argument("--k", type=int, default=8, help="ICL demonstrations per query (study: 8)")
    p.add_argument("--retriever", choices=RETRIEVERS, default="auto",
                   help="auto: embeddings when the 'retrieval' extra is installed, else bm25")
    p.add_argument("--catalog", help="API descriptions (e.g. the study's API_descriptions.json; "
                   "default: the built-in catalog)")
    p.add_argument("--neighbors", help="{api: [offered APIs]} file (the study's "
                   "api2neighbors.json): offer those instead of every API")
    p.add_argument("--order", choices=["study", "per-item"], default="study",
                   help="study: one seeded shuffle for all items (the study's); per-item: one "
                        "shuffle per item")
    p.add_argument("--system", choices=["plain", "tool"], default="plain",
                   help="system message: plain (the study's chat-model runs) or tool (its "
                        "fine-tuned runs)")
    p.add_argument("--prompt", choices=["tools", "query"], default="tools",
                   help="tools: the instructions with the offered APIs described; query: the "
                        "query alone, for a model fine-tuned in the study's layout (with "
                        "--system tool, as it was taught)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="sampling temperature (the study's)")
    p.add_argument("--max-tokens", type=int, default=256, dest="max_tokens",
                   help="tokens per reply (the study's)")
    p.add_argument("--llm", choices=["mock"], help="mock: the scripted LLM, in-process")
    p.add_argument("--llm-url", action="append", dest="llm_urls",
                   help="OpenAI-compatible base URL (repeatable)")
    p.add_argument("--model", default="default",
                   help="the model to ask ('default': the first the server offers)")
    p.add_argument("--out", type=Path, default=Path("predictions.json"),
                   help="prediction file (its cassette and meta file are written beside it)")
    p.add_argument("--llm-concurrency", "--concurrency", type=int, default=64,
                   dest="concurrency", help="LLM requests in flight")
    p.add_argument("--seed", type=int, default=0, help="API order seed (0: the study's) and "
                   "root of every request's seed")
    p.add_argument("--apis", help="evaluate only these gold APIs: comma list or @FILE "
                   "(the prompt still offers all)")
    p.add_argument("--cassette", choices=["off", "record"], default="record",
                   help="record every exchange in OUT_STEM.cassette/ (default record)")
    _add_quiet(p)
    p.set_defaults(func=_cmd_infer)


def _cmd_infer(args: argparse.Namespace) -> int:
    from .config import LlmSettings
    from .evaluate.infer import InferConfig, infer

    choice = _llm_choice(args)
    try:
        config = InferConfig(
            test=args.test, setting=args.setting, demos=args.demos, k=args.k,
            retriever=args.retriever, catalog=args.catalog, neighbors=args.neighbors,
            order=args.order, system=args.system, prompt=args.prompt,
            apis=_api_list(args.apis) or (),
            temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed,
            llm=LlmSettings(urls=choice.urls, model=args.model, concurrency=args.concurrency),
            cassette=args.cassette)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None

    async def run() -> InferMeta:
        async with llm_servers(choice) as (urls, _):
            return await infer(config, args.out, urls, progress=_progress(args))

    meta = run_async(run)
    print(f"wrote {args.out}: {meta.items} items over {meta.apis} APIs, {args.setting}"
          + (f" (k={args.k}, retriever {meta.retriever})" if args.setting == "icl" else "")
          + f", model {meta.model}, {meta.llm_errors} failed requests, {meta.elapsed_s:.1f}s")
    print(f"score it: ste-async score {args.out} --judge string")
    return EXIT_OK if meta.llm_errors == 0 else 1


def _add_replay(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("replay", help="re-run a recorded run offline and compare trajectories")
    p.add_argument("run_dir", type=Path, help="a run recorded with --cassette record")
    p.add_argument("--out", type=Path, help="where the replay writes (default RUN_DIR/replay)")
    _add_quiet(p)
    p.set_defaults(func=_cmd_replay)


def _cmd_replay(args: argparse.Namespace) -> int:
    from .replay import replay_run

    async def run() -> ReplayReport:
        return await replay_run(args.run_dir, args.out, progress=_progress(args))

    report = run_async(run)
    redone = f", {len(report.redone)} redone on resume" if report.redone else ""
    print(f"replayed {report.episodes} episodes offline into {report.out}: "
          f"{report.identical} identical, {len(report.different)} different, "
          f"{len(report.missing)} missing{redone}")
    for episode, why in list(report.redone.items())[:20]:
        print(f"  redone: {episode}: {why}")
    for episode in (report.different + report.missing)[:20]:
        print(f"  not reproduced: {episode}")
    return EXIT_OK if not report.different and not report.missing else 1


def _add_view(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "view", help="a local web page over a run: episodes step by step, filters, tables",
        description="Serve a web page over a run directory on 127.0.0.1 (also while the run "
                    "is still being written): the run's settings and per-API table, the "
                    "episodes with filters, each trial step by step, the distilled data, and "
                    "a prediction file scored item by item. Ctrl-C stops it.")
    p.add_argument("run_dir", type=Path, help="a run directory (it holds run.json)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    p.add_argument("--predictions", type=Path, metavar="FILE",
                   help="a prediction file (ste-async infer's output, or the study's layout) "
                        "to show scored item by item")
    p.set_defaults(func=_cmd_view)


def _cmd_view(args: argparse.Namespace) -> int:
    from .view.app import Viewer, serve

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, got {args.port}")
    if not args.run_dir.is_dir():
        raise ConfigError(f"{args.run_dir} is not a directory")
    viewer = Viewer(args.run_dir, args.predictions)  # input errors surface before serving

    async def run() -> None:
        async with serve(viewer, args.port) as url:
            print(f"viewing {args.run_dir} at {url}  (Ctrl-C stops)", flush=True)
            await _until_signalled()

    run_async(run)
    return EXIT_INTERRUPTED  # a server runs until it is interrupted, like any command

def _add_finetune(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from .finetune.card import DEFAULTS, STUDY

    d = DEFAULTS
    p = sub.add_parser(
        "finetune", help="fine-tune a model with LoRA on distilled data (extra [train])",
        description="Supervised fine-tuning with LoRA (TRL's SFT trainer, PEFT, transformers) "
                    "on a distilled run or an exported training file; writes a GGUF that "
                    "`serve-llm --lora OUT` serves, the PEFT adapter and the merged model, "
                    "and the run card OUT/finetune.json.")
    p.add_argument("data", type=Path, help="a distilled run directory, a ste-train JSON file, "
                                           "or an openai/sharegpt JSONL export")
    p.add_argument("--base", help="base model: a GGUF file (default: the packaged embedded "
                                  "model) or a transformers model directory")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    fmt = p.add_argument_group("what the model learns")
    fmt.add_argument("--format", choices=["study", "prompted"], default="study", dest="layout",
                     help="study: tool-mode system message and the query alone, answered "
                          "with Action/Action Input, plus the Observation -> Final Answer "
                          "turn; prompted: the candidate-API prompt of `export --format openai`")
    fmt.add_argument("--api-names", choices=["text", "toolkens"], default=None,
                     help="toolkens: each API name becomes one new token <tool_NAME> (the "
                          "study's; default with --format study); text: names as written")
    hp = p.add_argument_group("training (defaults for LoRA on a small model and a few cores)")
    hp.add_argument("--study", action="store_true",
                    help=f"the study's values: {STUDY.epochs:g} epochs, lr {STUDY.learning_rate:g}, "
                         f"warmup {STUDY.warmup_ratio:g}, batch {STUDY.batch_size}, seed "
                         f"{STUDY.seed} (flags given still win)")
    hp.add_argument("--epochs", type=float, help=f"passes over the data (default {d.epochs:g})")
    hp.add_argument("--max-steps", type=int, dest="max_steps",
                    help="stop after this many optimiser steps (quick checks)")
    hp.add_argument("--lr", type=float, dest="learning_rate",
                    help=f"peak learning rate (default {d.learning_rate:g})")
    hp.add_argument("--warmup", type=float, dest="warmup_ratio",
                    help=f"share of the steps spent warming up (default {d.warmup_ratio:g})")
    hp.add_argument("--batch-size", type=int, dest="batch_size",
                    help=f"sequences per optimiser step (default {d.batch_size})")
    hp.add_argument("--grad-accum", type=int, dest="grad_accum",
                    help="steps over which a batch is accumulated (default 1)")
    hp.add_argument("--max-length", type=int, dest="max_length",
                    help=f"tokens per sequence (default {d.max_length})")
    hp.add_argument("--rank", type=int, help=f"LoRA rank (default {d.rank})")
    hp.add_argument("--alpha", type=float, help=f"LoRA alpha (default {d.alpha:g})")
    hp.add_argument("--dropout", type=float, help=f"LoRA dropout (default {d.dropout:g})")
    hp.add_argument("--seed", type=int, help=f"seed of the data order and LoRA init "
                                             f"(default {d.seed})")
    run = p.add_argument_group("run")
    run.add_argument("--save-steps", type=int, dest="save_steps",
                     help=f"checkpoint every N steps (default {d.save_steps}; Ctrl-C also "
                          "checkpoints)")
    run.add_argument("--resume", action="store_true",
                     help="continue OUT from its last checkpoint after a crash or Ctrl-C")
    run.add_argument("--merge", action="store_true", default=None,
                     help="write the merged GGUF model even where a LoRA adapter would do")
    run.add_argument("--threads", type=int, help="CPU threads for torch (default: all cores)")
    p.set_defaults(func=_cmd_finetune)


_FINETUNE_FIELDS = ("layout", "api_names", "epochs", "max_steps", "learning_rate",
                    "warmup_ratio", "batch_size", "grad_accum", "max_length", "rank", "alpha",
                    "dropout", "seed", "save_steps", "merge")


def _cmd_finetune(args: argparse.Namespace) -> int:
    from .finetune import DEFAULTS, STUDY, finetune, load_rows

    if args.api_names is None:
        args.api_names = "toolkens" if args.layout == "study" else "text"
    given = {k: getattr(args, k) for k in _FINETUNE_FIELDS if getattr(args, k) is not None}
    settings = msgspec.structs.replace(STUDY if args.study else DEFAULTS, **given)
    data = load_rows(args.data, layout=settings.layout, api_names=settings.api_names)
    print(f"fine-tuning on {data.source}: {data.examples} examples -> {len(data.rows)} rows "
          f"({settings.layout} format, API names as {settings.api_names})", flush=True)
    result = finetune(data, args.out, settings, base=args.base, resume=args.resume,
                      threads=args.threads, progress=lambda line: print(line, flush=True))
    if result.interrupted:
        return EXIT_INTERRUPTED
    card = result.card
    losses = card.get("losses") or []
    if losses:
        print(f"loss {losses[0]['loss']:.4f} -> {losses[-1]['loss']:.4f} over "
              f"{card['steps']['done']} steps; timings {card['timings']}")
    print(f"run card: {args.out / 'finetune.json'}")
    print(f"serve with: ste-async serve-llm --lora {args.out}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="ste-async",
        description="Simulated Trial and Error: high-throughput tool-learning exploration.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log at INFO level, and show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_explore, _add_report, _add_view, _add_export, _add_replay, _add_serve_tools,
                _add_serve_llm, _add_score, _add_infer, _add_distill, _add_finetune):
        add(sub)
    for command in sub.choices.values():  # -v after the command name too
        command.formatter_class = _HelpFormatter
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="log at INFO level, and show the traceback of an error")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; every expected failure is one line on stderr and an exit code (1: the
    environment, 2: the input), with the traceback under ``-v``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # here, so a reader that went away is met below
        return code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BaseException as exc:
        if isinstance(exc, BrokenPipeError) or (
                isinstance(exc, BaseExceptionGroup) and exc.subgroup(BrokenPipeError)):
            return _reader_gone()
        known = explain(exc)
        if known is None:
            raise
        if args.verbose:
            traceback.print_exception(exc)
        code, message = known
        print(f"ste-async {args.command}: error: {message}", file=sys.stderr)
        return code


def _reader_gone() -> int:
    """The reader of stdout closed it (``| head``): stop without a word, as a tool in a pipe
    does. What is still buffered goes to devnull, so the exit flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE_CLOSED


if __name__ == "__main__":
    sys.exit(main())
