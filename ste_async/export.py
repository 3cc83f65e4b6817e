"""Exports of a run directory into other layouts.

``ste``: the study's ``data_dict.json``: ``{api: [episode, ...]}`` where an episode is
``{"item_list": [{"query", "chains"}, ...], "messages": [...]}`` and a chain entry has the
fields of the study's parser output (``parse_successful``, ``finish``, ``action``,
``action_input``, ``observation``, ``final_ans``, ``parse_error_msg``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec
import orjson

from . import prompts
from .catalog import load_catalog
from .errors import StoreError
from .records import EpisodeRecord, Step
from .store import iter_records

__all__ = ("export_ste", "ste_layout")


def _chain(step: Step, api_names: list[str], descriptions: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"API_name_list": api_names, "api_descriptions": descriptions}
    if step.kind == "final":
        entry.update(parse_successful=True, finish=True, final_ans=step.final_answer or "")
        return entry
    if step.kind == "call":
        entry.update(parse_successful=True, finish=False, action=step.action,
                     action_input=step.action_input)
    else:
        entry.update(parse_successful=False, finish=False,
                     parse_error_msg=step.observation if step.kind == "feedback" else step.raw)
    if step.observation is not None:
        entry["observation"] = step.observation
    return entry


def ste_layout(records: list[EpisodeRecord], api_order: list[str],
               descriptions: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The study's data_dict layout, APIs in ``api_order`` and episodes by number."""
    by_api: dict[str, list[EpisodeRecord]] = {api: [] for api in api_order}
    for r in records:
        by_api.setdefault(r.api, []).append(r)
    out: dict[str, list[dict[str, Any]]] = {}
    for api, episodes in by_api.items():
        if not episodes:
            continue
        desc = descriptions.get(api, "")
        sessions = []
        for r in sorted(episodes, key=lambda e: e.episode):
            items = [
                {"query": t.query, "chains": [_chain(s, [api], desc) for s in t.steps]}
                for t in r.trials
            ]
            messages = [m for conv in r.conversations for m in conv]
            sessions.append({"item_list": items, "messages": messages})
        out[api] = sessions
    return out


def export_ste(run_dir: str | Path, out: str | Path | None = None) -> tuple[Path, int, int]:
    """Write ``data_dict.json`` for ``run_dir``; returns (path, APIs, episodes)."""
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    if not meta_path.exists():
        raise StoreError(f"{run_dir} is not a run directory (no run.json)")
    meta = msgspec.json.decode(meta_path.read_bytes())
    config = meta.get("config", {})
    catalog = load_catalog(config.get("catalog"))
    api_order = list(meta.get("apis", []))
    descriptions = {
        api: prompts.api_block([(api, catalog[api].prompt_description())])
        for api in api_order if api in catalog
    }
    records = list(iter_records(run_dir))
    layout = ste_layout(records, api_order, descriptions)
    path = Path(out) if out is not None else run_dir / "data_dict.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(layout))
    os.replace(tmp, path)
    return path, len(layout), len(records)
