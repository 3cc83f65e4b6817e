"""Continual-learning rounds: the training data of round k of a batch schedule.

A batches file (the study's ``CL_batches.json``) is a JSON list of batches, each a list of API
names; round ``k`` (0-based) teaches batch ``k``. Its data is

* every example of batch ``k``'s APIs ("new" examples, in dataset order), plus
* unless replay is off, a replay sample: ``replay_ratio * new`` examples (rounded half up,
  capped at the pool's size) drawn without replacement, uniformly, from all examples of
  batches ``0 .. k-1``, by a random generator seeded with (seed, k). Round 0 has nothing to
  replay.

So ``replay_ratio`` is the number of replayed examples per new example of the round: 0.1 adds
one old example per ten new ones, and replayed examples then make up 0.1 / 1.1 of the round.

The study's rule (``rule="study"``) samples each earlier batch on its own instead: for batch
``i < k`` (the latest first, as the study appends them), ``round(replay_ratio * len(batch i))``
examples (Python's rounding, halves to even) drawn without replacement by numpy's legacy
generator seeded with ``seed + i`` (the study's ``np.random.seed(i)``; ``seed`` is 0 by
default), in the order that generator gives them. :func:`legacy_choice` reproduces that
generator in pure Python, so no numpy is needed.

General instruction data (the study mixes 2,000 FLAN examples into every round) is read by
:func:`load_general` from a file in the study's layout, ``[{"dialog_history": [{"role",
"content"}, ...], "response": "..."}, ...]``; the export puts each under the study's
normal-mode system message, :data:`NORMAL_SYSTEM`, with the response as a final answer.

Checks: a round outside the schedule, an API listed in two batches, or an API that the run
never explored is an error (the file and the run do not belong together). An explored API
whose examples were all filtered out is only a warning, since the judge may legitimately
reject everything; so are the run's APIs that no batch lists (they are left out).
"""

from __future__ import annotations

import random
from pathlib import Path

import msgspec

from ..errors import ConfigError
from ..protocol import ReplayRule
from .examples import TrainExample

__all__ = (
    "NORMAL_SYSTEM",
    "GeneralExample",
    "GeneralTurn",
    "RoundData",
    "legacy_choice",
    "load_batches",
    "load_general",
    "select_round",
)

# the system message the study gives general (non-tool) examples
NORMAL_SYSTEM = "You are a helpful assistant. You are in normal mode."


class RoundData(msgspec.Struct, kw_only=True):
    """The examples of one round and how they were made."""

    round: int
    apis: list[str]  # batch k
    new: list[TrainExample]
    replay: list[TrainExample]
    replay_pool: int  # examples of the earlier batches
    warnings: list[str]
    rule: ReplayRule = "pooled"
    replay_per_batch: dict[int, int] = {}  # batch -> examples replayed from it

    @property
    def examples(self) -> list[TrainExample]:
        """New examples first, then the replayed ones."""
        return self.new + self.replay


def load_batches(path: str | Path) -> list[list[str]]:
    """A batches file: a JSON list of lists of API names, no API in two batches."""
    path = Path(path)
    try:
        batches = msgspec.json.decode(path.read_bytes(), type=list[list[str]])
    except OSError as exc:
        raise ConfigError(f"cannot read batches file {path}: {exc.strerror}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path} is not a list of batches (a JSON list of lists of API "
                          f"names): {exc}") from None
    if not batches:
        raise ConfigError(f"{path} holds no batch")
    seen: dict[str, int] = {}
    for k, batch in enumerate(batches):
        for api in batch:
            if api in seen:
                raise ConfigError(f"{path}: API {api!r} is in batch {seen[api]} and batch {k}")
            seen[api] = k
    return batches


class GeneralTurn(msgspec.Struct, kw_only=True):
    role: str
    content: str


class GeneralExample(msgspec.Struct, kw_only=True):
    """One general instruction example in the study's layout."""

    dialog_history: list[GeneralTurn]
    response: str


def load_general(path: str | Path) -> list[GeneralExample]:
    """General instruction data from a file in the study's layout (``flan_v2_2k.json``)."""
    path = Path(path)
    try:
        items = msgspec.json.decode(path.read_bytes(), type=list[GeneralExample])
    except OSError as exc:
        raise ConfigError(f"cannot read general data {path}: {exc.strerror}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path} is not general instruction data (a JSON list of "
                          f'{{"dialog_history": [{{"role", "content"}}, ...], "response"}}): '
                          f"{exc}") from None
    if not items:
        raise ConfigError(f"{path} holds no general example")
    return items


class _Mt19937:
    """The Mersenne Twister as numpy's legacy ``RandomState`` seeds it from one integer."""

    def __init__(self, seed: int):
        mt = [seed & 0xFFFFFFFF]
        for i in range(1, 624):
            mt.append((1812433253 * (mt[-1] ^ (mt[-1] >> 30)) + i) & 0xFFFFFFFF)
        # Python's generator is the same twister: hand it this state and read 32-bit words
        self._rng = random.Random()
        self._rng.setstate((3, (*mt, 624), None))

    def interval(self, most: int) -> int:
        """A uniform integer in [0, most] by masked rejection, as numpy's legacy shuffle
        draws it (``most`` below 2**32)."""
        if most == 0:
            return 0
        mask = most
        for shift in (1, 2, 4, 8, 16):
            mask |= mask >> shift
        while True:
            value = self._rng.getrandbits(32) & mask
            if value <= most:
                return value


def legacy_choice(n: int, size: int, seed: int) -> list[int]:
    """``np.random.seed(seed); np.random.choice(n, size, replace=False)``: the first
    ``size`` entries of a legacy Fisher-Yates permutation of ``range(n)``."""
    if not 0 <= size <= n:
        raise ValueError(f"cannot draw {size} of {n} without replacement")
    if n >= 2**32:
        raise ValueError("batches this large are outside the legacy generator's 32-bit path")
    rng = _Mt19937(seed)
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.interval(i)
        order[i], order[j] = order[j], order[i]
    return order[:size]


def select_round(examples: list[TrainExample], batches: list[list[str]], k: int, *,
                 run_apis: list[str], replay_ratio: float = 0.1, seed: int = 0,
                 rule: ReplayRule = "pooled") -> RoundData:
    """Round ``k``'s data; ``replay_ratio=0`` is the no-replay ablation; ``rule`` says how
    the replay is drawn (see the module's docstring)."""
    if not 0 <= k < len(batches):
        raise ConfigError(f"round {k} is outside the schedule: the batches file has "
                          f"{len(batches)} batches, so rounds 0..{len(batches) - 1}")
    if replay_ratio < 0:
        raise ConfigError(f"the replay ratio must be >= 0, got {replay_ratio}")
    used = [api for batch in batches[: k + 1] for api in batch]
    explored = set(run_apis)
    missing = [api for api in used if api not in explored]
    if missing:
        raise ConfigError(
            f"{len(missing)} API(s) of batches 0..{k} were not explored in this run, e.g. "
            f"{missing[0]!r}; explore them first or use the batches file of this run")
    by_api: dict[str, list[TrainExample]] = {}
    for e in examples:
        by_api.setdefault(e.api or e.API_name_list[0], []).append(e)
    warnings = [f"API {api!r} has no distilled example (all its trials were filtered out)"
                for api in used if api not in by_api]
    listed = {api for batch in batches for api in batch}
    unlisted = [api for api in run_apis if api not in listed]
    if unlisted:
        warnings.append(f"{len(unlisted)} API(s) of the run are in no batch and are left "
                        f"out, e.g. {unlisted[0]!r}")
    new = [e for api in batches[k] for e in by_api.get(api, ())]
    pool = [e for batch in batches[:k] for api in batch for e in by_api.get(api, ())]
    per_batch: dict[int, int] = {}
    if rule == "study":
        replay = []
        if replay_ratio > 0:
            for i in range(k - 1, -1, -1):
                batch = [e for api in batches[i] for e in by_api.get(api, ())]
                picked = legacy_choice(len(batch), round(replay_ratio * len(batch)), seed + i)
                per_batch[i] = len(picked)
                replay += [batch[j] for j in picked]
    else:
        size = min(len(pool), int(replay_ratio * len(new) + 0.5))
        rng = random.Random(f"cl-replay|{seed}|{k}")
        replay = [pool[i] for i in sorted(rng.sample(range(len(pool)), size))]
    return RoundData(round=k, apis=list(batches[k]), new=new, replay=replay,
                     replay_pool=len(pool), warnings=warnings, rule=rule,
                     replay_per_batch=per_batch)
