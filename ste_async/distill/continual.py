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
from .examples import TrainExample

__all__ = ("RoundData", "load_batches", "select_round")


class RoundData(msgspec.Struct, kw_only=True):
    """The examples of one round and how they were made."""

    round: int
    apis: list[str]  # batch k
    new: list[TrainExample]
    replay: list[TrainExample]
    replay_pool: int  # examples of the earlier batches
    warnings: list[str]

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


def select_round(examples: list[TrainExample], batches: list[list[str]], k: int, *,
                 run_apis: list[str], replay_ratio: float = 0.1, seed: int = 0
                 ) -> RoundData:
    """Round ``k``'s data; ``replay_ratio=0`` is the no-replay ablation."""
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
    size = min(len(pool), int(replay_ratio * len(new) + 0.5))
    rng = random.Random(f"cl-replay|{seed}|{k}")
    replay = [pool[i] for i in sorted(rng.sample(range(len(pool)), size))]
    return RoundData(round=k, apis=list(batches[k]), new=new, replay=replay,
                     replay_pool=len(pool), warnings=warnings)
