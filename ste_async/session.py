"""One run session: the typed run card, the resume rules, and a command's LLM side.

Every command that writes or reads a run goes through here:

- :class:`RunMeta` is ``run.json``, written once per start (after every check passed) and
  read through :func:`read_run_meta` everywhere, with the first layout migrated on reading;
- :func:`check_resume` says whether a directory may be continued and with which settings;
- :func:`cassette_mode` is the one rule that turns a resumed ``record`` into a replay of what
  was already recorded;
- :func:`open_llm` checks the model against the servers and yields the pooled client, behind
  a cassette when one is given; explore, its workers, distill, infer and the LLM judge all
  open their LLM side with it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from ._appendlog import AppendLog
from ._atomic import write_json_atomic
from .cassette import Cassette, CassetteMode, RecordedLlm
from .config import ExploreConfig, LlmSettings, nest_llm_settings
from .errors import StoreError
from .llm import LlmClient
from .llm.preflight import checked_model
from .protocol import POINTS
from .store import lock_run

__all__ = (
    "PROTOCOL_SETTINGS",
    "RUN_SCHEMA",
    "Endpoints",
    "LlmSide",
    "RunMeta",
    "cassette_mode",
    "check_resume",
    "load_run_meta",
    "locked",
    "open_llm",
    "read_run_meta",
    "recording_policy",
    "write_run_meta",
)

RUN_SCHEMA = 2  # 1: the LLM settings at the top of "config"; 2: nested under "config.llm"

# settings that decide what an episode is, and which episodes the run holds: a resumed run
# must agree on every one (the README's resume table lists them, and what may change)
PROTOCOL_SETTINGS = ("apis", "catalog", "constrain_actions", "trials", "max_turn",
                     "temperature", "max_tokens", "ltm", "stm", "reflection", "lanes", "seed",
                     "observation_max_chars", "protocol")


class Endpoints(msgspec.Struct, frozen=True, kw_only=True):
    """Where a command's requests go, resolved by the edge (``services.py``): all the engine
    is told about servers."""

    llm_urls: tuple[str, ...]
    tools_url: str | None = None
    embedded: bool = False  # the LLM is the embedded model the command started


class RunMeta(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``run.json``: what a run directory holds and how it was made."""

    config: ExploreConfig  # resolved: constrain_actions is decided
    apis: list[str]  # the run's APIs, in order
    model: str  # the model the server answered to
    cassette: CassetteMode  # how the run's exchanges were recorded
    corrupt_lines_skipped: int = 0  # unreadable lines the last start found in the shards
    workers: int | None = None  # processes of an ``explore --workers`` start
    schema: int = RUN_SCHEMA


def _migrate(raw: dict[str, Any]) -> dict[str, Any]:
    if raw.get("schema") == 1 and isinstance(raw.get("config"), dict):
        raw = {**raw, "config": nest_llm_settings(raw["config"]), "schema": RUN_SCHEMA}
    return raw


def read_run_meta(run_dir: str | Path) -> RunMeta | None:
    """The run card of ``run_dir``; None when it has none. A card that cannot be read is a
    :class:`StoreError` naming the file and the problem."""
    path = Path(run_dir) / "run.json"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw = msgspec.json.decode(data)
        if not isinstance(raw, dict):
            raise StoreError(f"{path} is corrupt: not a JSON object")
        return msgspec.convert(_migrate(raw), RunMeta)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        raise StoreError(f"{path} is corrupt: {exc}") from None


def load_run_meta(run_dir: str | Path) -> RunMeta:
    """:func:`read_run_meta` for commands that need a run (export, replay, distill)."""
    meta = read_run_meta(run_dir)
    if meta is None:
        raise StoreError(f"{run_dir} is not a run directory (no run.json); explore it first")
    return meta


def write_run_meta(run_dir: str | Path, meta: RunMeta) -> None:
    write_json_atomic(Path(run_dir) / "run.json", meta, pretty=True)


def _holds_episodes(run_dir: Path) -> bool:
    folder = run_dir / "episodes"
    return folder.is_dir() and any(p.stat().st_size for p in folder.glob("*.jsonl"))


def recording_policy(mode: CassetteMode) -> CassetteMode:
    """What a run's card says of its recording: a resumed ``record`` run (which replays, then
    records) is still a recorded run."""
    return "record" if mode == "replay-then-live" else mode


def check_resume(old: RunMeta | None, config: ExploreConfig, run_dir: Path, resume: bool,
                 cassette: CassetteMode | None = None) -> None:
    """A directory that holds a run is continued only with ``resume``, and only with the
    protocol settings it was run with (the requested model and the recording included); the
    episodes per API may grow, never shrink. Episodes without a run card (a run that died
    before writing it, files copied in) are adopted only with ``resume``."""
    if old is None:
        if not resume and _holds_episodes(run_dir):
            raise StoreError(f"{run_dir} holds episodes but no run.json; pass --resume to "
                             "adopt them with this run's settings, or choose another --out")
        return
    if not resume:
        raise StoreError(f"{run_dir} already holds a run; pass --resume to continue it, "
                         "or choose another --out")
    pairs = [(key, getattr(old.config, key), getattr(config, key))
             for key in PROTOCOL_SETTINGS if key != "protocol"]
    # the protocol point by point, so the refusal names the one that changed
    pairs += [(f"protocol.{key}", getattr(old.config.protocol, key),
               getattr(config.protocol, key)) for key in ("mode", *POINTS)]
    pairs.append(("model", old.config.llm.model, config.llm.model))
    if cassette is not None:
        pairs.append(("cassette", recording_policy(old.cassette), recording_policy(cassette)))
    for key, was, now in pairs:
        if was != now:
            raise StoreError(
                f"{run_dir} was run with {key}={was!r}; this run has {key}={now!r}. "
                "Resume with the same settings, or write to another --out."
            )
    if config.episodes < old.config.episodes:
        raise StoreError(f"{run_dir} was run with episodes={old.config.episodes}; a resume "
                         f"may add episodes, not drop them (asked: {config.episodes})")


def cassette_mode(requested: CassetteMode, resume: bool) -> CassetteMode:
    """What a command records with: a resumed ``record`` replays what the interrupted run
    recorded and goes on live, so no finished exchange is sent again."""
    return "replay-then-live" if resume and requested == "record" else requested


@contextlib.contextmanager
def locked(run_dir: Path, name: str = ".lock", *, wait: bool = False) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the block, so no two processes write one run (an
    exploration, a distillation, a second of either). An exploration's workers each hold a
    lock of their own ``name``; their parent holds the run's. ``wait`` blocks until the
    writer holding it is done."""
    fd = lock_run(run_dir, name, wait=wait)
    try:
        yield
    finally:
        os.close(fd)


class LlmSide(NamedTuple):
    """A command's LLM: the pooled client (its counters) and what to call (the client, or the
    client behind a cassette), with the model name the servers answer to."""

    client: LlmClient
    llm: LlmClient | RecordedLlm
    model: str


@contextlib.asynccontextmanager
async def open_llm(settings: LlmSettings, urls: Sequence[str], *, seed: int,
                   cassette: Cassette | None = None, record_to: Path | None = None,
                   model: str | None = None) -> AsyncIterator[LlmSide]:
    """Check the model against ``urls`` (unless ``model`` was checked already) and yield the
    client, recorded by ``cassette`` when given, or into a cassette of its own in the folder
    ``record_to`` (a command without a run directory: infer, the LLM judge). Everything
    closes with the block."""
    if model is None:
        model = await checked_model(list(urls), settings.model, settings.timeouts.connect)
    async with contextlib.AsyncExitStack() as stack:
        if record_to is not None:
            log = await stack.enter_async_context(AppendLog(record_to, fsync=False))
            cassette = await Cassette.open(record_to, "llm", "record", log.append)
        client = await stack.enter_async_context(LlmClient(
            list(urls), model,
            concurrency=settings.concurrency,
            timeouts=settings.timeouts, retry=settings.retry, api_key_env=settings.api_key_env,
            seed=seed))
        llm: LlmClient | RecordedLlm = client
        if cassette is not None:
            llm = RecordedLlm(client, cassette, model)
        yield LlmSide(client, llm, model)
