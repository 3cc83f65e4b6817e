"""The same run under ``--protocol study`` and ``--protocol improved``: what each point changes.

Explores, distils and exports one set of APIs twice against one LLM server (the scripted mock
by default; ``--real`` starts the embedded llama.cpp model), the protocol the only difference,
and counts at every stage: parsed calls and parser feedback, what the tools answered, the
reflection labels the memory showed, candidates, kept items under each judge reading,
paraphrases, examples, and the replay of every continual-learning round.

    python -m bench.fidelity                       # scripted LLM, 50 APIs x 3 episodes
    python -m bench.fidelity --real --apis 3 --episodes 1 --trials 2    # the embedded model
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import msgspec

from ste_async.catalog import load_catalog
from ste_async.config import ExploreConfig, LlmSettings
from ste_async.distill.candidates import Judgment, ParaphraseSet, read_journal
from ste_async.distill.continual import load_batches
from ste_async.distill.runner import DistillConfig, distill
from ste_async.explore.runner import explore
from ste_async.export import export_train
from ste_async.parsing import Call, parse_react
from ste_async.protocol import IMPROVED, STUDY, Protocol
from ste_async.services import LlmChoice, llm_servers, tool_server
from ste_async.session import Endpoints
from ste_async.store import iter_records
from tool_mocks.llm import MockLlmConfig

from ._common import write_result

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ste"


def _published() -> dict[str, Any] | None:
    """Both parse rules over the study's published zero-shot outputs (750 replies of
    Llama-2-7B-chat written after a ReAct prompt like the exploration's)."""
    path = REFERENCE / "saved_results_llama-7Bf.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    names = list(data)
    counts: Counter[str] = Counter()
    for items in data.values():
        for item in items:
            text = item["model_output"].strip()
            study = parse_react(text, names, rule="study")
            plain = parse_react(text, names)
            counts["replies"] += 1
            counts["calls_study"] += isinstance(study, Call)
            counts["calls_json"] += isinstance(plain, Call)
            counts["study_calls_not_an_object"] += isinstance(study, Call) and study.args is None
            counts["study_calls_repaired"] += (isinstance(study, Call) and study.args is not None
                                               and not isinstance(plain, Call))
            counts["nested_inputs_broken_by_study"] += (
                isinstance(plain, Call) and isinstance(study, Call) and study.args is None)
    return {"file": path.name, **counts}


def _explored(run: Path) -> dict[str, Any]:
    steps: Counter[str] = Counter()
    feedback: Counter[str] = Counter()
    tools: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    trials = disagree = 0
    for record in iter_records(run):
        for trial in record.trials:
            trials += 1
            disagree += trial.reflection is not None and trial.solved != trial.solved_reference
            for label, value in (("first-word", trial.solved), ("study", trial.solved_reference)):
                word = "pending" if value is None else ("yes" if value else "no")
                labels[f"{label}:{word}"] += trial.reflection is not None
            for step in trial.steps:
                steps[step.kind] += 1
                if step.kind == "feedback":
                    feedback[step.feedback or "?"] += 1
                if step.tool_kind is not None:
                    tools[step.tool_kind] += 1
                    tools["undecodable_input"] += step.kind == "call" and step.args is None
    return {"trials": trials, "steps": dict(steps), "feedback": dict(feedback),
            "tool_answers": dict(tools), "reflection_labels": dict(labels),
            "readings_disagree": disagree}


def _distilled(run: Path, report: Any) -> dict[str, Any]:
    judged, _ = read_journal(run / "distill" / "judgments.jsonl", Judgment)
    paras, _ = read_journal(run / "distill" / "paraphrases.jsonl", ParaphraseSet)
    return {"candidates": report.candidates, "kept": report.kept,
            "kept_all_yes": sum(j.kept for j in judged.values()),
            "kept_study_reading": sum(j.kept_reference for j in judged.values()),
            "paraphrase_requests": sum(len(p.replies) for p in paras.values()),
            "paraphrases_used": sum(len(p.paraphrases) for p in paras.values()),
            "examples": report.examples, "llm_requests": report.llm_requests}


def _rounds(run: Path, batches: Path, out: Path) -> list[dict[str, Any]]:
    rounds = []
    out.mkdir(parents=True, exist_ok=True)
    for k in range(len(load_batches(batches))):
        done = export_train(run, "openai", out / f"round{k}.jsonl", batches=batches,
                            cl_round=k, no_general=True)
        assert done.round is not None
        rounds.append({"round": k, "new": len(done.round.new),
                       "replay": len(done.round.replay),
                       "replay_per_batch": done.round.replay_per_batch,
                       "earlier_pool": done.round.replay_pool})
    return rounds


async def _one(protocol: Protocol, base: ExploreConfig, urls: tuple[str, ...], embedded: bool,
               root: Path, batches: Path) -> dict[str, Any]:
    run = root / protocol.mode
    config = msgspec.structs.replace(base, protocol=protocol)
    started = time.monotonic()
    async with tool_server(None, None, catalog=config.catalog, seed=config.seed) as tools_url:
        outcome = await explore(config, run, Endpoints(llm_urls=urls, tools_url=tools_url,
                                                       embedded=embedded),
                                handle_signals=False)
    explored_s = time.monotonic() - started
    report = await distill(run, DistillConfig(llm=LlmSettings(urls=urls, concurrency=64),
                                              target=20), urls)
    return {"protocol": protocol.describe(), "explore_s": round(explored_s, 1),
            "llm_calls": outcome.metrics.llm_calls,
            "explore": _explored(run), "distill": _distilled(run, report),
            "rounds": _rounds(run, batches, root / f"{protocol.mode}-export")}


def _batches(apis: list[str], where: Path) -> Path:
    """The study's batches when its file is at hand and covers the run, else four even ones."""
    study = REFERENCE / "CL_batches.json"
    if study.exists():
        chosen = [[a for a in batch if a in apis] for batch in load_batches(study)]
        if all(chosen):
            path = where / "batches.json"
            path.write_text(json.dumps(chosen))
            return path
    size = max(1, -(-len(apis) // 4))
    path = where / "batches.json"
    path.write_text(json.dumps([apis[i:i + size]
                                              for i in range(0, len(apis), size)]))
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--apis", type=int, default=50, help="the first N APIs of the catalog")
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--catalog", help="e.g. the study's API_descriptions.json")
    p.add_argument("--real", action="store_true", help="the embedded model instead of the mock")
    p.add_argument("--name", default=None, help="result file name (default fidelity[_real])")
    args = p.parse_args()
    apis = list(load_catalog(None))[: args.apis]
    base = ExploreConfig(apis=tuple(apis), episodes=args.episodes, trials=args.trials,
                         catalog=args.catalog, constrain_actions=False)
    choice = (LlmChoice(embedded_default=True) if args.real
              else LlmChoice(mock=MockLlmConfig()))
    root = Path(tempfile.mkdtemp(prefix="fidelity-"))

    async def run() -> dict[str, Any]:
        batches = _batches(apis, root)
        out: dict[str, Any] = {"apis": len(apis), "episodes": args.episodes,
                               "trials": args.trials, "catalog": args.catalog,
                               "llm": "embedded" if args.real else "mock",
                               "constrain_actions": False}
        async with llm_servers(choice) as (urls, embedded):
            for protocol in (STUDY, IMPROVED):
                out[protocol.mode] = await _one(protocol, base, urls, embedded, root, batches)
        out["published_outputs"] = _published()
        return out

    try:
        result = anyio.run(run)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    path = write_result(args.name or ("fidelity_real" if args.real else "fidelity"), result)
    _print(result)
    print(f"-> {path}")


def _print(result: dict[str, Any]) -> None:
    s, i = result["study"], result["improved"]

    def row(label: str, a: Any, b: Any) -> None:
        print(f"{label:<44} {a!s:>12} {b!s:>12}")

    row("", "study", "improved")
    row("trials", s["explore"]["trials"], i["explore"]["trials"])
    for kind in ("call", "feedback", "final", "llm_error"):
        row(f"steps: {kind}", s["explore"]["steps"].get(kind, 0),
            i["explore"]["steps"].get(kind, 0))
    row("calls whose input is not a JSON object", s["explore"]["tool_answers"].get(
        "undecodable_input", 0), i["explore"]["tool_answers"].get("undecodable_input", 0))
    row("tool answers: ok / api_error", "{ok}/{api_error}".format(
        ok=s["explore"]["tool_answers"].get("ok", 0),
        api_error=s["explore"]["tool_answers"].get("api_error", 0)),
        "{ok}/{api_error}".format(ok=i["explore"]["tool_answers"].get("ok", 0),
                                 api_error=i["explore"]["tool_answers"].get("api_error", 0)))
    row("reflections where the readings disagree", s["explore"]["readings_disagree"],
        i["explore"]["readings_disagree"])
    for key in ("candidates", "kept", "kept_all_yes", "kept_study_reading",
                "paraphrase_requests", "paraphrases_used", "examples"):
        row(key, s["distill"][key], i["distill"][key])
    for a, b in zip(s["rounds"], i["rounds"], strict=True):
        row(f"round {a['round']}: new + replay", f"{a['new']}+{a['replay']}",
            f"{b['new']}+{b['replay']}")
    published = result.get("published_outputs")
    if published:
        print(f"the study's published outputs ({published['file']}, {published['replies']} "
              f"replies): calls {published['calls_study']} by the study's parse, "
              f"{published['calls_json']} by the json rule; of the study's, "
              f"{published['study_calls_not_an_object']} are not a JSON object, "
              f"{published['study_calls_repaired']} were repaired by the brace strip, "
              f"{published['nested_inputs_broken_by_study']} valid nested inputs were broken")


if __name__ == "__main__":
    main()
