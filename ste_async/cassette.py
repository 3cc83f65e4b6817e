"""Record and replay every LLM and tool exchange of a run.

Two append-only files per run directory, ``cassettes/llm.jsonl`` and ``cassettes/tools.jsonl``,
one line per exchange, written as it happens. A line holds the hash of the canonical request
and the reply, never the prompt itself (the episode record already has the conversation).

- LLM key: the hash of the encoded request (model, messages, sampling parameters, seed),
  computed once from the very bytes that are sent.
- Tool key: the call's place in the protocol (episode, trial, turn), the API and the canonical
  arguments, so two identical calls whose answers differed (a retry that ran out, say) replay
  exactly as they happened.

Modes: ``off``; ``record``; ``replay`` (a miss raises :class:`ReplayMissError` naming the
request; no server is contacted); ``replay-then-live`` (hits replay, misses go to the server
and are recorded: what a resumed run uses, so an interrupted episode repeats no LLM work).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Literal

import anyio
import msgspec

from .errors import ReplayMissError
from .llm import Completion, Message, encode_chat_request
from .tools import ToolOutcome

__all__ = (
    "CASSETTE_MODES",
    "Cassette",
    "CassetteMode",
    "RecordedLlm",
    "RecordedTools",
    "llm_key",
    "recordings",
    "tool_key",
)

log = logging.getLogger("ste_async.cassette")

CassetteMode = Literal["off", "record", "replay", "replay-then-live"]
CASSETTE_MODES: tuple[CassetteMode, ...] = ("off", "record", "replay", "replay-then-live")

_ENCODER = msgspec.json.Encoder(order="sorted")


def _hash(value: Any) -> str:
    return hashlib.blake2b(_ENCODER.encode(value), digest_size=16).hexdigest()


def llm_key(body: bytes) -> str:
    """The key of an encoded chat request: its hash (the encoding is canonical by design)."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def tool_key(context: str, api: str, args: dict[str, Any] | str) -> str:
    return _hash(["tool", context, api, args])


class _LlmLine(msgspec.Struct, kw_only=True):
    key: str
    at: str  # which request: episode id and seed, for people reading the file
    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # how many tries the reply took when it was recorded: a replayed call reports them, so a
    # resumed run's retry counts are those of the exchanges its episodes are made of
    attempts: int = 1


class _ToolLine(msgspec.Struct, kw_only=True):
    key: str
    at: str
    api: str
    kind: Literal["ok", "api_error", "unavailable"]
    status: int
    body: str
    attempts: int = 1


def recordings(run_dir: str | Path, kind: Literal["llm", "tools"]) -> list[Path]:
    """The cassette files of one kind in a run: the run's own, then its workers' parts."""
    folder = Path(run_dir) / "cassettes"
    whole = folder / f"{kind}.jsonl"
    return [*([whole] if whole.exists() else []), *sorted(folder.glob(f"{kind}.*.jsonl"))]


class _KeyOnly(msgspec.Struct):
    key: str


_KEY_ONLY = msgspec.json.Decoder(_KeyOnly)


def _read_recordings(run_dir: str | Path, kind: Literal["llm", "tools"]
                     ) -> tuple[dict[str, bytes], int]:
    """Every readable line of the run's recordings of ``kind`` by key, the first line of a key
    winning, and the number of unreadable lines skipped. Blocking: run it in a thread."""
    lines: dict[str, bytes] = {}
    total = 0
    for path in recordings(run_dir, kind):
        corrupt = 0
        try:
            f = path.open("rb")
        except FileNotFoundError:
            continue  # removed since it was listed
        with f:
            for line in f:
                if not line.endswith(b"\n"):
                    corrupt += 1
                    continue
                try:
                    key = _KEY_ONLY.decode(line).key
                except msgspec.DecodeError:
                    corrupt += 1
                    continue
                lines.setdefault(key, line)
        if corrupt:
            total += corrupt
            log.warning("skipped %d unreadable line(s) in %s", corrupt, path)
    return lines, total


class Cassette:
    """The recorded exchanges of one kind, loaded once, appended as the run goes.

    Make one with :meth:`open`, which reads the recordings in a worker thread (a long run's
    cassette is large, and the event loop must keep serving while it loads); the constructor
    itself reads nothing.
    """

    def __init__(self, kind: Literal["llm", "tools"], mode: CassetteMode, *,
                 append: Any = None, part: str | None = None):
        # a run's workers record into parts of their own (llm.w0.jsonl, ...); replay reads all
        self.name = f"cassettes/{kind}.jsonl" if part is None else f"cassettes/{kind}.{part}.jsonl"
        self.mode = mode
        self._append = append  # async (name, line) -> None; the run store's writer
        self._lines: dict[str, bytes] = {}
        self.hits = self.misses = self.recorded = self.corrupt = 0

    @classmethod
    async def open(cls, run_dir: str | Path, kind: Literal["llm", "tools"], mode: CassetteMode,
                   append: Any = None, part: str | None = None) -> Cassette:
        """The cassette of ``kind`` in ``run_dir``; when ``mode`` replays, every recording of
        the run (its own and its workers' parts) is loaded, off the event loop."""
        cassette = cls(kind, mode, append=append, part=part)
        if cassette.replaying:
            lines, corrupt = await anyio.to_thread.run_sync(_read_recordings, run_dir, kind)
            cassette._lines.update(lines)
            cassette.corrupt = corrupt
        return cassette

    @property
    def replaying(self) -> bool:
        return self.mode in ("replay", "replay-then-live")

    @property
    def recording(self) -> bool:
        return self.mode in ("record", "replay-then-live")

    def lookup(self, key: str) -> bytes | None:
        line = self._lines.get(key)
        if line is None:
            self.misses += 1
        else:
            self.hits += 1
        return line

    async def record(self, key: str, line: msgspec.Struct) -> None:
        raw = msgspec.json.encode(line) + b"\n"
        self._lines.setdefault(key, raw)
        if self._append is not None:
            await self._append(self.name, raw)
        self.recorded += 1


class RecordedLlm:
    """Wraps an LLM client (or nothing, for a pure replay) with a cassette."""

    def __init__(self, inner: Any | None, cassette: Cassette, model: str):
        self.inner = inner
        self.cassette = cassette
        self.model = model

    async def complete(self, messages: list[Message], *, stop: Any, seed: int,
                       temperature: float, max_tokens: int, affinity: str | None = None,
                       extra: dict[str, Any] | None = None) -> Completion:
        body = encode_chat_request(self.model, messages, stop=stop, seed=seed,
                                   temperature=temperature, max_tokens=max_tokens, extra=extra)
        key = llm_key(body)
        at = f"{affinity} seed {seed}"
        if self.cassette.replaying:
            raw = self.cassette.lookup(key)
            if raw is not None:
                line = msgspec.json.decode(raw, type=_LlmLine)
                return Completion(text=line.text, finish_reason=line.finish_reason,
                                  prompt_tokens=line.prompt_tokens,
                                  completion_tokens=line.completion_tokens, latency_s=0.0,
                                  attempts=line.attempts, endpoint="cassette")
            if self.inner is None:
                raise ReplayMissError(
                    f"the cassette holds no reply to the LLM request of {at} "
                    f"({len(messages)} messages); the run cannot be replayed offline"
                )
        assert self.inner is not None
        c: Completion = await self.inner.send(body, affinity=affinity)
        if self.cassette.recording:
            await self.cassette.record(key, _LlmLine(
                key=key, at=at, text=c.text, finish_reason=c.finish_reason,
                prompt_tokens=c.prompt_tokens, completion_tokens=c.completion_tokens,
                attempts=c.attempts))
        return c


class RecordedTools:
    """Wraps a tool client (or nothing, for a pure replay) with a cassette."""

    def __init__(self, inner: Any | None, cassette: Cassette):
        self.inner = inner
        self.cassette = cassette

    async def call(self, api: str, args: dict[str, Any] | str, context: str = ""
                   ) -> ToolOutcome:
        key = tool_key(context, api, args)
        if self.cassette.replaying:
            raw = self.cassette.lookup(key)
            if raw is not None:
                line = msgspec.json.decode(raw, type=_ToolLine)
                return ToolOutcome(kind=line.kind, status=line.status, body=line.body,
                                   attempts=line.attempts, latency_s=0.0)
            if self.inner is None:
                raise ReplayMissError(
                    f"the cassette holds no answer to the {api!r} call at {context}; "
                    "the run cannot be replayed offline"
                )
        assert self.inner is not None
        outcome: ToolOutcome = await self.inner.call(api, args)
        if self.cassette.recording:
            await self.cassette.record(key, _ToolLine(
                key=key, at=context, api=api, kind=outcome.kind, status=outcome.status,
                body=outcome.body, attempts=outcome.attempts))
        return outcome
