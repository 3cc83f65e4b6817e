"""The README's first command, timed step by step, as a newcomer runs it on a fresh machine.

A fresh clone of this checkout, a fresh HOME and an empty pip cache; the first command of the
README's first code block is split at ``&&`` and each step timed in one shell (so the
virtual environment it activates stays active). The figures go to
``bench/results/install.json``.

    python -m bench.install
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ._common import write_result

ROOT = Path(__file__).resolve().parents[1]


def first_command(readme: str) -> str:
    """The first command line of the README's first ``bash`` block."""
    block = re.search(r"```bash\n(.*?)```", readme, re.S)
    if block is None:
        raise SystemExit("README.md has no ```bash block")
    for line in block.group(1).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()
    raise SystemExit("the README's first bash block holds no command")


def _script(steps: list[str], log: Path) -> str:
    lines = ["set -e"]
    for i, step in enumerate(steps):
        lines += ["t0=$(date +%s.%N)", f"{step} >> {shlex.quote(str(log))} 2>&1",
                  f'echo "step {i} $(date +%s.%N) $t0"']
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.parse_args()
    command = first_command((ROOT / "README.md").read_text(encoding="utf-8"))
    steps = [s.strip() for s in command.split(" && ")]
    with tempfile.TemporaryDirectory(prefix="ste-install-") as tmp:
        home, clone = Path(tmp) / "home", Path(tmp) / "ste_async"
        home.mkdir()
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        # this machine's tools (PATH, and where pyenv keeps its Pythons), nothing of its HOME
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "PYENV_ROOT", "LANG")}
        env = {**keep, "HOME": str(home), "PIP_CACHE_DIR": str(home / "pip-cache")}
        log = Path(tmp) / "install.log"
        started = time.monotonic()
        done = subprocess.run(["bash", "-c", _script(steps, log)], cwd=clone, env=env,
                              capture_output=True, text=True, check=False)
        total = time.monotonic() - started
        timings: list[dict[str, Any]] = []
        for line in done.stdout.splitlines():
            _, index, end, start = line.split()
            timings.append({"step": steps[int(index)], "seconds": round(float(end) - float(start), 1)})
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else done.stderr
            raise SystemExit(f"step {len(timings)} failed: {steps[len(timings)]}\n{tail}")
    for t in timings:
        print(f"{t['seconds']:8.1f} s  {t['step'][:100]}")
    print(f"{total:8.1f} s  in all")
    write_result("install", {"command": command, "steps": timings,
                             "total_s": round(total, 1)})


if __name__ == "__main__":
    main()
