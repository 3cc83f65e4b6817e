"""``ste-async view`` in a real browser: headless Chromium (Debian's ``chromium`` package)
driven by Playwright's Python API, against the command started as a user starts it.

Playwright's own browser download cannot work offline, so the browser is the system's,
given by ``executable_path``. The tests skip, saying why, where either is missing
(``pip install -e '.[view]'``; ``apt-get install chromium``).

Set ``STE_VIEW_SCREENSHOT=docs/viewer-episode.png`` to write the README's screenshot.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from viewrun import APIS, HOSTILE_ID, PAYLOADS, build_run, records

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("STE_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(sync_playwright is None,
                       reason="playwright is not installed (pip install -e '.[view]')"),
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_run(tmp_path_factory.mktemp("browsed"))


@pytest.fixture(scope="module")
def base_url(run: Path) -> Iterator[str]:
    """The viewer, started as ``ste-async view RUN`` (port 0), stopped with Ctrl-C."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen([sys.executable, "-m", "ste_async.cli", "view", run.name],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, cwd=run.parent) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert " at http://127.0.0.1:" in line, line + (proc.stderr.read()
                                                           if proc.stderr else "")
            yield line.split(" at ", 1)[1].split()[0].rstrip("/")
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=20)
            assert proc.returncode == 130
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Browser]:
    # after the run is built: Playwright's sync API keeps an event loop running in this
    # thread, where no other can start
    assert sync_playwright is not None
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    try:
        yield tab
    finally:
        context.close()


def test_filter_to_one_api_then_read_an_episode_step_by_step(page: Page, base_url: str,
                                                             run: Path) -> None:
    page.goto(base_url + "/")
    page.get_by_role("link", name="Episodes", exact=True).click()
    page.wait_for_url("**/episodes")
    page.select_option("select[name=api]", "forecast_weather")  # applies on change
    page.wait_for_url("**/episodes?api=forecast_weather")
    shown = page.locator("table.episodes tbody tr td:first-child").all_inner_texts()
    expected = [r.id for r in records(run) if r.api == "forecast_weather"]
    assert shown == expected
    assert page.locator("#count").inner_text().startswith(
        f"{len(expected)} matching of {len(expected)} episodes of forecast_weather")

    record = next(r for r in records(run) if r.id == "forecast_weather#0")
    page.get_by_role("link", name=record.id, exact=True).click()
    page.wait_for_url("**/episode?id=forecast_weather%230")
    for trial in record.trials:
        section = page.locator(f"#trial-{trial.index}")
        assert section.locator(".field.query pre").inner_text() == trial.query
        steps = section.locator("li.step")
        assert steps.count() == len(trial.steps)
        for n, step in enumerate(trial.steps):
            shown_step = steps.nth(n)
            assert shown_step.get_attribute("data-kind") == step.kind
            for field, value in (("thought", step.thought), ("action", step.action),
                                 ("action-input", step.action_input),
                                 ("final", step.final_answer),
                                 ("observation", step.observation)):
                if value:
                    assert shown_step.locator(f".field.{field} pre").inner_text() == value
            if step.tool_kind is not None:
                badge = shown_step.locator(".field.observation .badge").inner_text()
                assert badge == f"{step.tool_status} {step.tool_kind}"
            if step.kind == "feedback":
                badge = shown_step.locator(".field.observation .badge").inner_text()
                assert badge == f"parser feedback: {step.feedback}"
        readings = section.locator("h2 .readings").inner_text()
        assert readings.startswith(f"solved (ours) {'yes' if trial.solved else 'no'}")


def test_model_text_with_markup_is_shown_and_never_run(page: Page, base_url: str,
                                                       run: Path) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(base_url + "/episode?id=" + HOSTILE_ID.replace("#", "%23"))
    page.locator("#toggle-all").click()  # open every folded block (raw replies too)
    assert page.locator("main details[open]").count() == page.locator("main details").count()
    record = next(r for r in records(run) if r.id == HOSTILE_ID)
    assert page.locator("#trial-0 .field.query pre").inner_text() == record.trials[0].query
    assert page.locator("#trial-0 .field.reflection pre").inner_text() == \
        record.trials[0].reflection
    text = page.locator("main").inner_text()
    for payload in PAYLOADS:
        assert payload in text
    # the list, searched for the markup itself
    page.goto(base_url + "/episodes")
    page.fill("input[name=text]", "<script>")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/episodes?**text=%3Cscript%3E**")
    assert page.locator("table.episodes tbody tr td:first-child").all_inner_texts() == \
        [HOSTILE_ID]
    for url in ("/episode?id=" + HOSTILE_ID.replace("#", "%23"), "/episodes"):
        page.goto(base_url + url)
        flags: Any = page.evaluate("[window.__pwned, document.querySelectorAll("
                                   "'main img, main svg, main script').length, "
                                   "document.scripts.length]")
        assert flags == [None, 0, 1]
    assert dialogs == []


def test_a_screenshot_of_an_episode(page: Page, base_url: str, tmp_path: Path) -> None:
    page.set_viewport_size({"width": 1180, "height": 1300})
    # the third episode: its memory holds the first two's queries, and its first step
    # met the parser's feedback
    page.goto(base_url + "/episode?id=add_date%232")
    page.locator("#trial-0 .field.memory summary").click()
    assert page.locator("#trial-0 ol.memory li").count() == 4
    out = tmp_path / "viewer-episode.png"
    page.screenshot(path=str(out))
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1180  # the IHDR width
    wanted = os.environ.get("STE_VIEW_SCREENSHOT")
    if wanted:
        shutil.copyfile(out, ROOT / wanted)


def test_every_api_of_the_run_is_offered(page: Page, base_url: str) -> None:
    page.goto(base_url + "/episodes")
    options = page.locator("select[name=api] option").all_inner_texts()
    assert options == ["all", *APIS]
