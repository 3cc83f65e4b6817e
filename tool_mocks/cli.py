"""Command line of the tool server, shared by ``python -m tool_mocks`` and ``ste-async serve-tools``."""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
from pathlib import Path

import anyio
import msgspec

from ste_async.errors import ConfigError, SteError

from .config import (
    FaultConfig,
    LatencyConfig,
    LlmBackendConfig,
    RateLimit,
    ToolServerConfig,
    load_tool_server_config,
)

__all__ = ("add_arguments", "config_from_args", "main", "run")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML file (a [tools] table or top level)")
    parser.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (0 = pick a free one)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the simulators and the fault draws (default 0)")
    parser.add_argument("--today", default=None, help="the fixed date answered as today (YYYY-MM-DD)")
    parser.add_argument("--catalog", default=None,
                        help="APIs to serve: a ToolBench tool file or a tree of them "
                             "(data/toolenv/tools), the study's API_descriptions.json, or an "
                             "ste_async list (default: the built-in 50)")
    parser.add_argument("--cache", dest="cache_path", default=None, help="SQLite response cache file")
    parser.add_argument("--rate", type=float, default=None, help="calls/s per API (0 = unlimited)")
    parser.add_argument("--burst", type=int, default=None, help="burst per API")
    parser.add_argument("--latency-ms", type=float, default=None, help="added latency per call")
    parser.add_argument("--llm-url", default=None,
                        help="an OpenAI-compatible server that writes the answers of APIs with "
                             "no simulator (the [llm] section's url)")
    parser.add_argument("--llm-model", default=None,
                        help="the model it is asked for (default: the first it serves)")
    parser.add_argument("--fault-rate", type=float, default=None,
                        help="probability of an injected fault, split evenly over 5xx, reset, "
                             "malformed body and slow reply")


def config_from_args(args: argparse.Namespace) -> ToolServerConfig:
    base = (
        load_tool_server_config(args.config) if args.config else ToolServerConfig()
    )
    changes: dict[str, object] = {}
    for name in ("host", "port", "seed", "catalog", "cache_path"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    try:
        if args.today is not None:
            changes["today"] = dt.date.fromisoformat(args.today)
        if args.rate is not None or args.burst is not None:
            rate = args.rate if args.rate is not None else base.rate_limit.rate
            burst = args.burst if args.burst is not None else max(1, base.rate_limit.burst)
            changes["rate_limit"] = RateLimit(rate=rate, burst=burst)
        if args.llm_url is not None or args.llm_model is not None:
            if args.llm_url is None and base.llm is None:
                raise ValueError("--llm-model needs --llm-url (or an [llm] section)")
            llm = base.llm or LlmBackendConfig(url=args.llm_url)
            changes["llm"] = msgspec.structs.replace(
                llm, **({"url": args.llm_url} if args.llm_url is not None else {}),
                **({"model": args.llm_model} if args.llm_model is not None else {}))
        if args.latency_ms is not None:
            changes["latency"] = LatencyConfig(ms=args.latency_ms)
        if args.fault_rate is not None:
            share = args.fault_rate / 4
            changes["faults"] = FaultConfig(
                server_error=share, reset=share, malformed=share, slow=share, slow_ms=200.0
            )
        return msgspec.structs.replace(base, **changes)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


async def run(config: ToolServerConfig) -> None:
    from .server import serve_tools

    async with serve_tools(config) as url:
        print(f"tool server listening on {url}  (GET {url}/apis, POST {url}/call)", flush=True)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tool_mocks", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        backend = "asyncio"
        options: dict[str, object] = {}
        try:
            import uvloop  # noqa: F401

            options = {"use_uvloop": True}
        except ImportError:
            pass
        anyio.run(run, config, backend=backend, backend_options=options)
    except SteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
