"""How fast ``ste-async view`` opens a 100,000-episode run, as a browser sees it.

Builds the run that ``bench.resume`` builds (real records of a scripted run, renumbered, 50
API shards of 2,000 episodes, 2.4 GB) and gives it a run card, starts ``ste-async view`` on
it as a child process, and opens pages in headless Chromium (Debian's ``chromium``, driven by
Playwright's Python API). For each page, the viewer is started afresh (it reads the shard
indexes before it prints its URL) and the page is opened the moment the URL is printed:
"start->page" is the command's start to the page's load event. The browser's Navigation
Timing gives that first visit's time to the first byte and to the end of the load event
(the HTML, the stylesheet and the script all in), and "server CPU" is the viewer's CPU time
for it; "warm" is the median of five more visits.

    python -m bench.viewer [--episodes 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from ste_async.catalog import builtin_catalog
from ste_async.session import load_run_meta, write_run_meta

from ._common import write_result
from .resume import build

CHROMIUM = os.environ.get("STE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
_TIMING = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  return [n.responseStart - n.requestStart, n.loadEventEnd - n.startTime, n.transferSize];
}"""


def make_run(folder: Path, episodes: int) -> Path:
    """The benchmark run with a card naming its 50 APIs."""
    build(folder, episodes)
    run = folder / "big"
    seed = load_run_meta(folder / "seed")
    apis = list(builtin_catalog())
    config = msgspec.structs.replace(seed.config, episodes=episodes // len(apis))
    write_run_meta(run, msgspec.structs.replace(seed, config=config, apis=apis))
    return run


def _cpu_s(pid: int) -> float:
    """User and system CPU time of a process so far (Linux), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(run: Path, name: str, path: str, warm_rounds: int = 5) -> dict[str, Any]:
    """Start the viewer, open ``path`` once as soon as the URL is printed, then
    ``warm_rounds`` times more."""
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page()
        tab.goto("about:blank")
        started = time.perf_counter()
        with subprocess.Popen([sys.executable, "-m", "ste_async.cli", "view", str(run)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) as proc:
            try:
                assert proc.stdout is not None
                line = proc.stdout.readline()
                ready = time.perf_counter() - started
                ready_cpu = _cpu_s(proc.pid)
                url = line.split(" at ", 1)[1].split()[0].rstrip("/")
                rounds = []
                cpu = opened = 0.0
                for n in range(1 + warm_rounds):
                    before = _cpu_s(proc.pid)
                    tab.goto(url + path, wait_until="load")
                    if n == 0:
                        opened = time.perf_counter() - started
                        cpu = _cpu_s(proc.pid) - before
                    ttfb, load, size = tab.evaluate(_TIMING)
                    rounds.append((ttfb / 1000, load / 1000, size))
            finally:
                proc.terminate()
                proc.communicate(timeout=20)
        browser.close()
    first, warm = rounds[0], rounds[1:]
    return {"path": path, "bytes": first[2], "start_to_url_s": ready,
            "start_to_url_cpu_s": ready_cpu,
            "start_to_page_s": opened, "first_ttfb_s": first[0], "first_load_s": first[1],
            "first_server_cpu_s": cpu,
            "warm_ttfb_s": statistics.median(r[0] for r in warm),
            "warm_load_s": statistics.median(r[1] for r in warm)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=100_000)
    p.add_argument("--keep", type=Path, help="build the run here and keep it (reused when "
                   "it is already there)")
    args = p.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ste-viewer-"))
    try:
        run = folder / "big"
        if not (run / "run.json").exists():
            folder.mkdir(parents=True, exist_ok=True)
            make_run(folder, args.episodes)
        apis = list(builtin_catalog())
        middle = apis[len(apis) // 2]
        per_api = args.episodes // len(apis)
        episode = f"{middle}#{per_api // 2}".replace("%", "%25").replace("#", "%23")
        pages = {"overview (first page)": "/", "episode list": "/episodes",
                 "one API's list": "/episodes?api=" + middle.replace("%", "%25"),
                 "an episode": "/episode?id=" + episode}
        # each page is the first one opened after its own start of the command
        result: dict[str, Any] = {"episodes": args.episodes, "pages": {
            name: measure(run, name, path) for name, path in pages.items()}}
        size = sum(f.stat().st_size for f in (run / "episodes").glob("*.jsonl"))
        result["bytes"] = size
        result["load_average"] = os.getloadavg()[0]
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    path = write_result("viewer", result)
    print(f"ste-async view on {args.episodes:,} episodes ({size / 1e9:.1f} GB), headless "
          "Chromium, seconds:")
    print(f"{'page':<24}{'start->URL':>11}{'start->page':>12}{'TTFB':>7}{'load':>7}"
          f"{'server CPU':>11}{'warm TTFB':>10}{'warm load':>10}")
    for name, r in result["pages"].items():
        print(f"{name:<24}{r['start_to_url_s']:>11.2f}{r['start_to_page_s']:>12.2f}"
              f"{r['first_ttfb_s']:>7.3f}{r['first_load_s']:>7.3f}"
              f"{r['first_server_cpu_s']:>11.2f}{r['warm_ttfb_s']:>10.3f}"
              f"{r['warm_load_s']:>10.3f}")
    cpu = [r["start_to_url_cpu_s"] for r in result["pages"].values()]
    print(f"the viewer's CPU time from its start to its URL: {min(cpu):.2f}-{max(cpu):.2f}s; "
          f"load average {result['load_average']:.1f} on {os.cpu_count()} cores")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
