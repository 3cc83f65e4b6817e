"""``ste-async``: the command line. The only place that starts an event loop."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio
import msgspec

from .cassette import CASSETTE_MODES
from .errors import ConfigError, SteError

__all__ = ("main",)

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130


def _run_async(fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Any:
    options: dict[str, Any] = {}
    try:
        import uvloop  # noqa: F401

        options["use_uvloop"] = True
    except ImportError:
        pass
    return anyio.run(fn, *args, backend="asyncio", backend_options=options)


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
        if text.lstrip().startswith("["):
            try:
                names = msgspec.json.decode(text, type=list[str])
            except msgspec.DecodeError as exc:
                raise ConfigError(f"API list {path}: {exc}") from None
        else:
            names = [line.strip() for line in text.splitlines() if line.strip()]
        return tuple(names)
    # API names may contain commas? none of the catalog's do; "%%" and spaces are fine
    return tuple(n.strip() for n in value.split(",") if n.strip())


def _add_explore(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("explore", help="run STE exploration episodes",
                       description="Run STE exploration: imagine, act, reflect, per API.")
    p.add_argument("--config", type=Path, help="TOML file ([explore] table or top level)")
    p.add_argument("--apis", help="all (default), comma-separated names, or @FILE")
    p.add_argument("--catalog", help="catalog file (ToolBench/STE JSON or ste_async list)")
    p.add_argument("--episodes", type=int, help="episodes per API (study: 15)")
    p.add_argument("--trials", type=int, help="trials per episode (study: 4)")
    p.add_argument("--max-turn", type=int, dest="max_turn", help="tool rounds per trial (study: 4)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--max-tokens", type=int, dest="max_tokens")
    p.add_argument("--lanes", type=int, help="episodes of one API at once (study: 1)")
    p.add_argument("--max-episodes", type=int, dest="max_episodes", help="episodes in flight")
    p.add_argument("--llm-concurrency", type=int, dest="llm_concurrency")
    p.add_argument("--tool-concurrency", type=int, dest="tool_concurrency")
    p.add_argument("--llm", choices=["mock"], help="mock: the scripted LLM, in-process")
    p.add_argument("--llm-url", action="append", dest="llm_urls", help="OpenAI-compatible base URL (repeatable)")
    p.add_argument("--model")
    p.add_argument("--tools-url", dest="tools_url", help="tool server (default: in-process mocks)")
    p.add_argument("--out", type=Path, default=Path("runs/explore"), help="run directory")
    p.add_argument("--seed", type=int)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--no-ltm", dest="ltm", action="store_false", default=None)
    p.add_argument("--no-stm", dest="stm", action="store_false", default=None)
    p.add_argument("--no-reflection", dest="reflection", action="store_false", default=None)
    p.add_argument("--mock-latency-ms", type=float, default=0.0)
    p.add_argument("--mock-error-rate", type=float, default=0.2)
    p.add_argument("--cassette", choices=CASSETTE_MODES, default="record",
                   help="record every exchange (default; --resume then replays them), "
                        "replay offline, or off")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=_cmd_explore)


def _cmd_explore(args: argparse.Namespace) -> int:
    from .config import load_explore_config
    from .explore.runner import explore

    overrides = {k: getattr(args, k) for k in (
        "catalog", "episodes", "trials", "max_turn", "temperature", "max_tokens", "lanes",
        "max_episodes", "llm_concurrency", "tool_concurrency", "model", "tools_url", "seed",
        "ltm", "stm", "reflection")}
    overrides["apis"] = _api_list(args.apis)
    overrides["llm_urls"] = tuple(args.llm_urls) if args.llm_urls else None
    config = load_explore_config(args.config, **overrides)
    mock = None
    if args.llm == "mock":
        from tool_mocks.llm import MockLlmConfig

        try:
            mock = MockLlmConfig(latency_ms=args.mock_latency_ms, error_rate=args.mock_error_rate)
        except ValueError as exc:
            raise ConfigError(f"--mock-*: {exc}") from None
    elif not config.llm_urls:
        raise ConfigError(
            "no LLM given: pass --llm-url URL for an OpenAI-compatible server (e.g. vLLM), "
            "or --llm mock for the scripted test LLM"
        )
    n_apis = len(config.apis) if config.apis else "all"
    print(f"exploring {n_apis} APIs x {config.episodes} episodes x {config.trials} trials "
          f"-> {args.out}", file=sys.stderr)
    outcome = _run_async(lambda: explore(config, args.out, resume=args.resume, mock_llm=mock,
                                         cassette=args.cassette, display=not args.quiet))
    print(outcome.metrics.summary())
    print(f"run directory: {outcome.run_dir}")
    if outcome.interrupted:
        print("interrupted: partial results kept; continue with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if outcome.metrics.failed == 0 else 1


def _add_export(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("export", help="export a run directory")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--format", choices=["ste"], default="ste")
    p.add_argument("--out", type=Path, help="output file (default RUN_DIR/data_dict.json)")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_ste

    path, n_apis, n_eps = export_ste(args.run_dir, args.out)
    print(f"wrote {path}: {n_apis} APIs, {n_eps} episodes")
    return EXIT_OK


def _add_serve_tools(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from tool_mocks.cli import add_arguments

    p = sub.add_parser("serve-tools", help="run the mock tool server (the 50 STE APIs)")
    add_arguments(p)
    p.set_defaults(func=_cmd_serve_tools)


def _cmd_serve_tools(args: argparse.Namespace) -> int:
    from tool_mocks.cli import config_from_args, run

    _run_async(run, config_from_args(args))
    return EXIT_OK


def _add_serve_llm(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve-llm", help="run an OpenAI-compatible server")
    p.add_argument("--backend", choices=["mock"], default="mock")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--per-token-ms", type=float, default=0.0)
    p.add_argument("--load-ms", type=float, default=0.0)
    p.add_argument("--error-rate", type=float, default=0.2)
    p.set_defaults(func=_cmd_serve_llm)


def _cmd_serve_llm(args: argparse.Namespace) -> int:
    from tool_mocks.llm import MockLlmConfig, serve_mock_llm

    try:
        config = MockLlmConfig(host=args.host, port=args.port, latency_ms=args.latency_ms,
                               per_token_ms=args.per_token_ms, load_ms=args.load_ms,
                               error_rate=args.error_rate)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None

    async def serve() -> None:
        async with serve_mock_llm(config) as url:
            print(f"scripted mock LLM listening on {url}/v1", flush=True)
            await anyio.sleep_forever()

    _run_async(serve)
    return EXIT_OK


def _add_score(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from .evaluate.score_cli import add_arguments

    p = sub.add_parser("score", help="score a prediction file the way the study does")
    add_arguments(p)
    p.set_defaults(func=_cmd_score)


def _cmd_score(args: argparse.Namespace) -> int:
    from .evaluate.score_cli import run

    return run(args)


def _add_replay(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("replay", help="re-run a recorded run offline and compare trajectories")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, help="where the replay writes (default RUN_DIR/replay)")
    p.set_defaults(func=_cmd_replay)


def _cmd_replay(args: argparse.Namespace) -> int:
    from .replay import replay_run

    report = _run_async(replay_run, args.run_dir, args.out)
    print(f"replayed {report.episodes} episodes offline into {report.out}: "
          f"{report.identical} identical, {len(report.different)} different, "
          f"{len(report.missing)} missing")
    for episode in (report.different + report.missing)[:20]:
        print(f"  not reproduced: {episode}")
    return EXIT_OK if report.identical == report.episodes else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ste-async",
        description="Simulated Trial and Error: high-throughput tool-learning exploration.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_explore, _add_export, _add_replay, _add_serve_tools, _add_serve_llm,
                _add_score):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except SteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BaseExceptionGroup as group:
        # a task group reports the error of one episode wrapped; show ours plainly
        ours = _first_ste_error(group)
        if ours is None:
            raise
        print(f"error: {ours}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _first_ste_error(group: BaseExceptionGroup) -> SteError | None:
    for exc in group.exceptions:
        if isinstance(exc, SteError):
            return exc
        if isinstance(exc, BaseExceptionGroup) and (found := _first_ste_error(exc)):
            return found
    return None


if __name__ == "__main__":
    sys.exit(main())
