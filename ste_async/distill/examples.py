"""A training example: one kept (or paraphrased) query with the call that served it.

Fields follow the study's training layout (``query, API_name_list, api_descriptions, action,
action_input, observation, final_ans``) so the ``ste-train`` export is a plain dump; ``api``,
``source`` and ``paraphrase_of`` say where an example came from.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from .._atomic import write_atomic
from ..errors import ConfigError

__all__ = ("TrainExample", "load_examples", "write_examples")


class TrainExample(msgspec.Struct, kw_only=True, omit_defaults=True):
    query: str
    API_name_list: list[str]
    api_descriptions: str
    action: str
    action_input: str
    observation: str
    final_ans: str
    api: str = ""
    source: str = ""  # the episode trial it was distilled from, "API#N/trial"
    paraphrase_of: str | None = None  # the original query, for paraphrases


_DECODER = msgspec.json.Decoder(list[TrainExample])


def load_examples(path: str | Path) -> list[TrainExample]:
    """Examples from a JSON file (a list), or from a run directory's distilled data."""
    path = Path(path)
    if path.is_dir():
        path = path / "distill" / "dataset.json"
    try:
        return _DECODER.decode(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read examples {path}: {exc.strerror}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path} is not a list of training examples: {exc}") from None


def write_examples(path: str | Path, examples: list[TrainExample]) -> None:
    path = Path(path)
    write_atomic(path, msgspec.json.encode(examples))
