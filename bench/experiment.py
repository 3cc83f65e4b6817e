"""The study's experiment in miniature, end to end, on the embedded model.

    python -m bench.experiment --out runs/experiment [--explorer-llm embedded|mock|URL]
                               [--judge-llm embedded|mock|URL] [--apis 6] [--items 5]
                               [--score-llm embedded|mock|URL]

The student is the embedded model (the packaged SmolLM2-135M on llama.cpp). Stages, each
reusing the commands' own functions and writing its artefact into the experiment directory:

    subset      a seeded, stratified subset of the test set: APIs spread over the catalog's
                tools, the same number of items from each           -> test.json
    zero-shot   the student on the subset, candidate-API prompt     -> zero-shot.json
    explore     the explorer LLM explores the subset's APIs         -> explore/
    distill     the judge LLM filters and paraphrases the trials    -> explore/distill/
    icl         the student with retrieved demonstrations (BM25)    -> icl.json
    finetune    LoRA on the distilled data, the student as base     -> finetune/
    fine-tuned  the fine-tuned output served by llama.cpp, asked    -> fine-tuned.json
    score       the string judge over the three prediction files,   -> results.json,
                and the LLM judge too with --score-llm                 results.txt, chart.png

``experiment.json`` records each stage's status, sizes and wall time, written atomically when
the stage ends; a stage recorded done whose artefact is there is skipped, so a crash or Ctrl-C
in any stage resumes from the stages already done (explore, distill and finetune continue
their own partial work too). The settings that decide the results are recorded; running
again with different ones into the same directory is refused.

This is a measurement, not a product command: it lives in ``bench/`` beside the other
measurements, needs the ``[train]`` extra, the embedded model and ``matplotlib`` (the
``[bench]`` extra) together, and its output is a table and a chart.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import msgspec

from ste_async._atomic import write_atomic, write_json_atomic
from ste_async._runtime import EXIT_INTERRUPTED, EXIT_OK, explain
from ste_async.errors import ConfigError

__all__ = ("STAGES", "Settings", "main", "run_experiment", "select_subset")

STAGES = ("subset", "zero-shot", "explore", "distill", "icl", "finetune", "fine-tuned",
          "score")
CARD = "experiment.json"
DEFAULT_TEST = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ste" / \
    "tool_test.json"
ROWS = (("zero-shot", "zero-shot"), ("icl", "ICL"), ("fine-tuned", "fine-tuned"))


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything that decides the experiment's results (recorded; a rerun must match)."""

    test: str
    apis: int = 6  # 0: every API of the test set
    items: int = 5  # test items per API; 0: all
    seed: int = 0
    explorer_llm: str = "mock"  # the scripted LLM: the 135M model cannot explore (README)
    judge_llm: str = "mock"
    episodes: int = 2
    trials: int = 3
    target: int = 10  # distilled examples per API the paraphrases aim at
    max_paraphrases: int = 3
    k: int = 4  # ICL demonstrations per query
    temperature: float = 0.0  # the student's sampling; the study's was 1.0
    max_tokens: int = 128
    ft_format: str = "study"  # study: the query alone; prompted: the candidate-API prompt
    api_names: str = "text"
    epochs: float = 3.0
    max_steps: int = -1
    learning_rate: float = 1e-3
    batch_size: int = 8
    max_length: int = 256
    score_llm: str = ""  # who judges the arguments besides the string rule; "": nobody

    def __post_init__(self) -> None:
        if self.apis < 0 or self.items < 0:
            raise ConfigError("--apis and --items must be >= 0 (0: all)")
        if self.episodes < 1 or self.trials < 1 or self.k < 1:
            raise ConfigError("--episodes, --trials and --k must be >= 1")
        for option, spec in (("--explorer-llm", self.explorer_llm),
                             ("--judge-llm", self.judge_llm), ("--score-llm", self.score_llm)):
            if option == "--score-llm" and not spec:
                continue  # nobody: the string rule alone
            try:
                _choice(spec)  # a name that is not an LLM is refused before any stage
            except ConfigError as exc:
                raise ConfigError(f"{option}: {exc}") from None
        if self.ft_format not in ("study", "prompted") or self.api_names not in ("text",
                                                                                 "toolkens"):
            raise ConfigError("--ft-format is study or prompted; --api-names text or toolkens")


# ---------------------------------------------------------------- the card


class _Card:
    """``experiment.json``: the settings and each stage's record, rewritten atomically."""

    def __init__(self, out: Path, settings: Settings):
        self.path = out / CARD
        self.data: dict[str, Any] = {"settings": msgspec.to_builtins(settings), "stages": {}}
        if self.path.exists():
            try:
                old = msgspec.json.decode(self.path.read_bytes())
            except msgspec.DecodeError as exc:
                raise ConfigError(f"{self.path} is not an experiment card: {exc}") from None
            if old.get("settings") != self.data["settings"]:
                changed = sorted(k for k, v in self.data["settings"].items()
                                 if old.get("settings", {}).get(k) != v)
                raise ConfigError(f"{out} holds an experiment with other settings "
                                  f"({', '.join(changed)} differ); give another --out")
            self.data = old
        out.mkdir(parents=True, exist_ok=True)
        self.save()

    def done(self, stage: str) -> bool:
        return bool(self.data["stages"].get(stage, {}).get("status") == "done")

    def record(self, stage: str, wall_s: float, sizes: dict[str, Any]) -> None:
        self.data["stages"][stage] = {
            "status": "done", "wall_s": round(wall_s, 1), "sizes": sizes,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.save()

    def save(self) -> None:
        write_json_atomic(self.path, self.data, pretty=True)


# ---------------------------------------------------------------- stages


def select_subset(test: dict[str, list[dict[str, Any]]], n_apis: int, n_items: int,
                  seed: int) -> dict[str, list[dict[str, Any]]]:
    """A seeded, stratified subset: the APIs drawn in turn from each of the catalog's tools
    (shuffled by ``seed``), so that no tool is over-represented, and ``n_items`` items of each
    API drawn without replacement (kept in their file order)."""
    from ste_async.catalog import builtin_catalog

    catalog = builtin_catalog()
    rng = random.Random(seed)
    groups: dict[str, list[str]] = {}
    for api in test:
        tool = catalog[api].tool if api in catalog else api
        groups.setdefault(tool or api, []).append(api)
    order = sorted(groups)
    rng.shuffle(order)
    for tool in order:
        rng.shuffle(groups[tool])
    picked: list[str] = []
    want = len(test) if n_apis == 0 else min(n_apis, len(test))
    while len(picked) < want:
        for tool in order:
            if groups[tool] and len(picked) < want:
                picked.append(groups[tool].pop())
    subset = {}
    for api in sorted(picked, key=list(test).index):
        items = test[api]
        keep = range(len(items)) if n_items == 0 or n_items >= len(items) else \
            sorted(rng.sample(range(len(items)), n_items))
        subset[api] = [items[i] for i in keep]
    return subset


def _choice(spec: str) -> Any:
    """An LLM named on the command line: mock, embedded, or a server's URL."""
    from ste_async.services import LlmChoice, mock_llm_config

    if spec == "mock":
        return LlmChoice(mock=mock_llm_config())
    if spec == "embedded":
        return LlmChoice(embedded_default=True)
    if spec.startswith(("http://", "https://")):
        return LlmChoice(urls=(spec,))
    raise ConfigError(f"an LLM is mock, embedded or an http(s) URL, got {spec!r}")


def _student() -> Any:
    from ste_async.services import LlmChoice

    return LlmChoice(embedded_default=True)


def _infer_config(s: Settings, out: Path, **changes: Any) -> Any:
    from ste_async.config import LlmSettings
    from ste_async.evaluate.infer import InferConfig

    return InferConfig(test=str(out / "test.json"), retriever="bm25", k=s.k,
                       temperature=s.temperature, max_tokens=s.max_tokens, seed=s.seed,
                       llm=LlmSettings(concurrency=8), **changes)


def _infer_with(choice: Any, config: Any, path: Path) -> dict[str, Any]:
    from ste_async.evaluate.infer import infer
    from ste_async.services import llm_servers

    async def run() -> Any:
        async with llm_servers(choice) as (urls, _):
            return await infer(config, path, urls)

    meta = anyio.run(run)
    return {"items": meta.items, "apis": meta.apis, "model": meta.model,
            "failed_requests": meta.llm_errors}


def _stage_subset(s: Settings, out: Path, say: Callable[[str], None]) -> dict[str, Any]:
    from ste_async.evaluate.infer import load_test_file

    path = Path(s.test)
    if not path.is_file():
        raise ConfigError(f"the test set {path} is not there (the study's tool_test.json); "
                          "pass --test FILE")
    subset = select_subset(load_test_file(path), s.apis, s.items, s.seed)
    write_json_atomic(out / "test.json", subset, pretty=True)
    write_atomic(out / "apis.txt", "".join(f"{a}\n" for a in subset).encode())
    return {"apis": len(subset), "items": sum(map(len, subset.values()))}


def _stage_zero_shot(s: Settings, out: Path, say: Callable[[str], None]) -> dict[str, Any]:
    return _infer_with(_student(), _infer_config(s, out), out / "zero-shot.json")


def _apis(out: Path) -> tuple[str, ...]:
    return tuple(msgspec.json.decode((out / "test.json").read_bytes()))


def _stage_explore(s: Settings, out: Path, say: Callable[[str], None]) -> dict[str, Any]:
    from ste_async.config import ExploreConfig
    from ste_async.explore.runner import explore
    from ste_async.services import open_services

    run_dir = out / "explore"
    config = ExploreConfig(apis=_apis(out), episodes=s.episodes, trials=s.trials, seed=s.seed)
    choice = _choice(s.explorer_llm)

    async def run() -> Any:
        async with open_services(choice, seed=config.seed) as endpoints:
            return await explore(config, run_dir, endpoints,
                                 resume=(run_dir / "run.json").exists(), handle_signals=False)

    outcome = anyio.run(run)
    m = outcome.metrics
    if outcome.interrupted or m.failed:
        raise ConfigError(f"exploration ended with {m.failed} failed episodes"
                          f"{' (interrupted)' if outcome.interrupted else ''}; run again to "
                          "resume it")
    from ste_async.report import build_report

    totals = build_report(run_dir, detail=False).totals
    return {"apis": len(config.apis), "episodes": totals.episodes, "trials": totals.trials}


def _stage_distill(s: Settings, out: Path, say: Callable[[str], None]) -> dict[str, Any]:
    from ste_async.config import LlmSettings
    from ste_async.distill.examples import load_examples
    from ste_async.distill.runner import DistillConfig, distill
    from ste_async.services import llm_servers

    run_dir = out / "explore"
    config = DistillConfig(llm=LlmSettings(concurrency=8), target=s.target,
                           max_paraphrases=s.max_paraphrases, seed=s.seed)
    choice = _choice(s.judge_llm)

    async def run() -> Any:
        async with llm_servers(choice) as (urls, _):
            return await distill(run_dir, config, urls,
                                 resume=(run_dir / "distill").exists())

    report = anyio.run(run)
    say(report.summary())
    examples = load_examples(run_dir)
    if not examples:
        raise ConfigError("the judge kept no explored trial: there is nothing to learn from "
                          "(a stronger --explorer-llm or more --episodes may help)")
    return {"examples": len(examples), "apis": len({e.action for e in examples})}


def _stage_icl(s: Settings, out: Path, say: Callable[[str], None]) -> dict[str, Any]:
    config = _infer_config(s, out, setting="icl", demos=str(out / "explore"))
    return _infer_with(_student(), config, out / "icl.json")


def _finetune_settings(s: Settings) -> Any:
    from ste_async.finetune import DEFAULTS

    return msgspec.structs.replace(
        DEFAULTS, layout=s.ft_format, api_names=s.api_names, epochs=s.epochs,
        max_steps=s.max_steps, learning_rate=s.learning_rate, batch_size=s.batch_size,
        max_length=s.max_length, seed=s.seed)


def _stage_finetune(s: Settings, out: Path, say: Callable[[str], None]) -> dict[str, Any]:
    from ste_async.finetune import finetune, load_rows

    settings = _finetune_settings(s)
    data = load_rows(out / "explore", layout=settings.layout, api_names=settings.api_names)
    ft = out / "finetune"
    result = finetune(data, ft, settings, resume=(ft / "finetune.json").exists(),
                      progress=say)
    if result.interrupted:
        raise KeyboardInterrupt
    card = result.card
    losses = card.get("losses") or []
    return {"examples": data.examples, "rows": len(data.rows),
            "steps": card.get("steps", {}).get("done"),
            "loss_first": losses[0]["loss"] if losses else None,
            "loss_last": losses[-1]["loss"] if losses else None}


def _stage_fine_tuned(s: Settings, out: Path, say: Callable[[str], None]) -> dict[str, Any]:
    from ste_async.llm.local import serve_all
    from ste_async.services import local_servers

    servers = local_servers("embedded", model=None, replicas=1, port=0, host="127.0.0.1",
                            slots=0, gpus=None, gpu_memory=0.9, startup_timeout=0.0,
                            extra_args=(), progress=say, lora=out / "finetune")
    # a model taught the study's layout is asked as it was taught: tool-mode system message
    # and the query alone; one taught the candidate-API prompt is asked with that prompt
    config = _infer_config(s, out, system="tool",
                           prompt="query" if s.ft_format == "study" else "tools")
    from ste_async.evaluate.infer import infer

    async def run() -> Any:
        async with serve_all(servers) as urls:
            return await infer(config, out / "fine-tuned.json", urls)

    meta = anyio.run(run)
    return {"items": meta.items, "apis": meta.apis, "model": meta.model,
            "failed_requests": meta.llm_errors}


def _stage_score(s: Settings, out: Path, say: Callable[[str], None]) -> dict[str, Any]:
    from ste_async.evaluate.score import load_predictions, score

    card = msgspec.json.decode((out / CARD).read_bytes())
    stages = card["stages"]
    rows = []
    predictions = {stage: load_predictions(out / f"{stage}.json") for stage, _ in ROWS}
    labels = _llm_labels(s, predictions, out) if s.score_llm else {}
    for stage, label in ROWS:
        report = score(predictions[stage], judge="string")
        row = {"setting": label, "items": report.total,
               "wellformed": round(report.wellformed, 1),
               "api_match": round(report.api_match, 1),
               "correct": round(report.correct, 1)}
        if s.score_llm:
            judged = score(predictions[stage], judge="llm", llm_labels=labels[stage])
            row["correct_llm"] = round(judged.correct, 1)
        rows.append(row)
    ft = stages["finetune"]["sizes"]
    who = {"student": "embedded (packaged SmolLM2-135M, llama.cpp)",
           "explorer": s.explorer_llm, "judge": s.judge_llm,
           "scored_by": "string judge" + (f" and LLM judge ({_label(s.score_llm)})"
                                           if s.score_llm else ""),
           "trained": f"LoRA on {ft['examples']} distilled examples ({ft['rows']} rows, "
                      f"{ft['steps']} steps at lr {s.learning_rate:g}, {s.ft_format} format, API "
                      f"names as {s.api_names})"}
    sizes = {"apis": stages["subset"]["sizes"]["apis"],
             "test_items": stages["subset"]["sizes"]["items"],
             "explored_episodes": stages["explore"]["sizes"]["episodes"],
             "explored_trials": stages["explore"]["sizes"]["trials"],
             "distilled_examples": stages["distill"]["sizes"]["examples"],
             "icl_k": s.k}
    wall = {k: v["wall_s"] for k, v in stages.items()}
    result = {"rows": rows, "sizes": sizes, "who": who, "stage_wall_s": wall,
              "settings": card["settings"]}
    write_json_atomic(out / "results.json", result, pretty=True)
    text = render_table(result)
    write_atomic(out / "results.txt", text.encode())
    _chart(rows, sizes, who, out / "chart.png")
    say(text)
    return {"rows": len(rows)}


def _llm_labels(s: Settings, predictions: dict[str, Any],
               out: Path) -> dict[str, dict[tuple[str, int], bool]]:
    """The LLM ``s.score_llm``'s verdicts on each prediction file's API-matched calls outside
    the study's string-match APIs (those stay with the string rule, as in the study); its
    exchanges are kept in ``STAGE.judge/``."""
    from ste_async.evaluate.judge import judge_llm
    from ste_async.services import llm_servers

    async def run() -> dict[str, dict[tuple[str, int], bool]]:
        labels = {}
        async with llm_servers(_choice(s.score_llm)) as (urls, _):
            for stage, data in predictions.items():
                outcome = await judge_llm(data, urls, seed=s.seed,
                                          cassette_dir=out / f"{stage}.judge")
                if outcome.errors:
                    raise ConfigError(f"the LLM judge failed on {len(outcome.errors)} items "
                                      f"of {stage} (first: {outcome.errors[0]}); run again "
                                      "to retry")
                labels[stage] = outcome.labels
        return labels

    return anyio.run(run)


def _label(spec: str) -> str:
    """How an LLM given on the command line reads in the table and the chart."""
    return {"mock": "scripted LLM", "embedded": "SmolLM2-135M"}.get(spec, spec)


def render_table(result: dict[str, Any]) -> str:
    """The results as a text table, with the sizes and who did what."""
    llm = any("correct_llm" in r for r in result["rows"])
    lines = [f"{'setting':<12}{'items':>7}{'wellformed %':>15}{'API match %':>14}"
             f"{'correct %':>12}" + (f"{'correct (LLM judge) %':>23}" if llm else "")]
    for r in result["rows"]:
        lines.append(f"{r['setting']:<12}{r['items']:>7}{r['wellformed']:>15.1f}"
                     f"{r['api_match']:>14.1f}{r['correct']:>12.1f}"
                     + (f"{r.get('correct_llm', 0.0):>23.1f}" if llm else ""))
    sz, who = result["sizes"], result["who"]
    lines.append(f"{sz['apis']} APIs, {sz['test_items']} test items; explored "
                 f"{sz['explored_episodes']} episodes ({sz['explored_trials']} trials); "
                 f"{sz['distilled_examples']} distilled examples; ICL k={sz['icl_k']}")
    lines.append(f"student: {who['student']}; explorer: {_label(who['explorer'])}; judge: "
                 f"{_label(who['judge'])}; scored by the {who['scored_by']}")
    lines.append(f"trained: {who['trained']}")
    return "\n".join(lines) + "\n"


def _chart(rows: list[dict[str, Any]], sizes: dict[str, Any], who: dict[str, Any],
           path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics: tuple[tuple[str, str], ...] = (
        ("wellformed", "well-formed"), ("api_match", "API match"), ("correct", "correct"))
    if all("correct_llm" in row for row in rows):
        metrics += (("correct_llm", "correct (LLM judge)"),)
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    width = 0.8 / len(rows)
    for i, row in enumerate(rows):
        xs = [m + (i - (len(rows) - 1) / 2) * width for m in range(len(metrics))]
        bars = ax.bar(xs, [row[key] for key, _ in metrics], width, label=row["setting"])
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_xticks(range(len(metrics)), [name for _, name in metrics])
    ax.set_ylim(0, 105)
    ax.set_ylabel("% (API match: of the well-formed calls)")
    ax.set_title(f"SmolLM2-135M student, {sizes['apis']} APIs, {sizes['test_items']} test "
                 f"items; explorer: {_label(who['explorer'])}, judge: {_label(who['judge'])}\n"
                 f"scored by the {who['scored_by']}", fontsize=9)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


_RUNNERS: dict[str, Callable[[Settings, Path, Callable[[str], None]], dict[str, Any]]] = {
    "subset": _stage_subset, "zero-shot": _stage_zero_shot, "explore": _stage_explore,
    "distill": _stage_distill, "icl": _stage_icl, "finetune": _stage_finetune,
    "fine-tuned": _stage_fine_tuned, "score": _stage_score,
}
_ARTEFACTS = {"subset": "test.json", "zero-shot": "zero-shot.json", "explore": "explore/run.json",
              "distill": "explore/distill/dataset.json", "icl": "icl.json",
              "finetune": "finetune/finetune.json", "fine-tuned": "fine-tuned.json",
              "score": "results.json"}


def run_experiment(settings: Settings, out: Path,
                   say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every stage not yet done into ``out``; return the card."""
    card = _Card(out, settings)
    redone = False  # once a stage runs, every later one runs too: its input may have changed
    for stage in STAGES:
        if not redone and card.done(stage) and (out / _ARTEFACTS[stage]).exists():
            say(f"[{stage}] done before ({card.data['stages'][stage]['wall_s']} s); skipped")
            continue
        say(f"[{stage}] running")
        redone = True
        started = time.monotonic()
        sizes = _RUNNERS[stage](settings, out, say)
        card.record(stage, time.monotonic() - started, sizes)
        say(f"[{stage}] done in {time.monotonic() - started:.1f} s: {sizes}")
    return card.data


def _parser() -> argparse.ArgumentParser:
    d = Settings(test=str(DEFAULT_TEST))
    p = argparse.ArgumentParser(
        prog="python -m bench.experiment",
        description="The study's experiment in miniature on the embedded model: zero-shot, "
                    "explore, distill, ICL, fine-tune, serve, infer, score. Resumes from the "
                    "stages already done in --out.")
    p.add_argument("--out", type=Path, default=Path("runs/experiment"),
                   help="experiment directory (default: %(default)s)")
    p.add_argument("--test", default=str(DEFAULT_TEST),
                   help="the study's tool_test.json (default: ../shared/reference/ste/)")
    p.add_argument("--explorer-llm", default=d.explorer_llm,
                   help="who explores: mock, embedded or a server URL (default: %(default)s)")
    p.add_argument("--judge-llm", default=d.judge_llm,
                   help="who judges and paraphrases: mock, embedded or a server URL "
                        "(default: %(default)s)")
    size = p.add_argument_group("size (the full study: --apis 0 --items 0 --episodes 15 "
                                "--target 150 --max-paraphrases 6 --k 8)")
    size.add_argument("--apis", type=int, default=d.apis, help="APIs (0: all; default %(default)s)")
    size.add_argument("--items", type=int, default=d.items,
                      help="test items per API (0: all; default %(default)s)")
    size.add_argument("--episodes", type=int, default=d.episodes,
                      help="episodes per API (default %(default)s)")
    size.add_argument("--trials", type=int, default=d.trials,
                      help="trials per episode (default %(default)s)")
    size.add_argument("--target", type=int, default=d.target,
                      help="distilled examples per API to aim at (default %(default)s)")
    size.add_argument("--max-paraphrases", type=int, default=d.max_paraphrases,
                      help="paraphrases per kept trial (default %(default)s)")
    size.add_argument("--k", type=int, default=d.k, help="ICL demonstrations (default %(default)s)")
    size.add_argument("--seed", type=int, default=d.seed, help="default %(default)s")
    p.add_argument("--score-llm", default=d.score_llm, metavar="LLM",
                   help="also judge the arguments with this LLM (mock, embedded or a URL), "
                        "as the study did outside its string-match APIs (default: the string "
                        "rule only)")
    student = p.add_argument_group("the student")
    student.add_argument("--temperature", type=float, default=d.temperature,
                         help="sampling (default %(default)s; the study's was 1.0)")
    student.add_argument("--max-tokens", type=int, default=d.max_tokens,
                         help="tokens per answer (default %(default)s)")
    student.add_argument("--ft-format", choices=["study", "prompted"], default=d.ft_format,
                         help="what fine-tuning teaches (default %(default)s)")
    student.add_argument("--api-names", choices=["text", "toolkens"], default=d.api_names,
                         help="default %(default)s: served as a LoRA adapter; toolkens serve "
                              "as a merged model")
    student.add_argument("--epochs", type=float, default=d.epochs, help="default %(default)s")
    student.add_argument("--max-steps", type=int, default=d.max_steps,
                         help="stop fine-tuning after N steps (default: the epochs)")
    student.add_argument("--lr", type=float, default=d.learning_rate, help="default %(default)s")
    student.add_argument("--batch-size", type=int, default=d.batch_size,
                         help="default %(default)s")
    student.add_argument("--max-length", type=int, default=d.max_length,
                         help="tokens per training sequence (default %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        settings = Settings(
            test=args.test, apis=args.apis, items=args.items, seed=args.seed,
            explorer_llm=args.explorer_llm, judge_llm=args.judge_llm,
            episodes=args.episodes, trials=args.trials, target=args.target,
            max_paraphrases=args.max_paraphrases, k=args.k, temperature=args.temperature,
            max_tokens=args.max_tokens, ft_format=args.ft_format, api_names=args.api_names,
            epochs=args.epochs, max_steps=args.max_steps, learning_rate=args.lr,
            batch_size=args.batch_size, max_length=args.max_length, score_llm=args.score_llm)
        run_experiment(settings, args.out, say)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # an expected failure reads as one line
        known = explain(exc)
        if known is None:
            raise
        print(f"python -m bench.experiment: error: {known[1]}", file=sys.stderr)
        return known[0]
    print(f"table: {args.out / 'results.txt'}; chart: {args.out / 'chart.png'}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
