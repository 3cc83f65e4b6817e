"""Prompt texts shipped with the package, loaded once at import."""

from __future__ import annotations

from importlib import resources

__all__ = ("load_prompt",)


def load_prompt(package: str, *path: str, marker: str | None = None) -> str:
    """The text file at ``path`` inside ``package``, stripped of surrounding whitespace.

    ``marker`` is a phrase (see :mod:`ste_async.markers`) the text must keep: the scripted
    mock LLM tells the prompt kinds apart by these phrases, so a rewording that drops one is
    an error at import rather than a mock that silently answers the wrong phase.
    """
    text = resources.files(package).joinpath(*path).read_text(encoding="utf-8").strip()
    if marker is not None and marker not in text:
        raise RuntimeError(f"{package}/{'/'.join(path)} no longer contains {marker!r}")
    return text
