"""`agent web` in a real browser: Debian's Chromium, headless, its fake microphone fed from a WAV
of a bundled scenario's user lines, the page driven with Playwright. What is checked is what a
person would notice: the words were understood, the turn ended once, the bot answered and its
voice reached the page; when they cut in, the bot's voice at the page stops and the timeline
keeps the words they heard. Never skipped: without Chromium these tests fail (``.ci/run``
installs it)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

from agent.media import SAMPLE_RATE
from agent.replay.assemble import text_clip
from agent.replay.scenario import load_scenario

from .conftest import ROOT
from .test_phone import free_port

SCENARIO = ROOT / "scenarios" / "11_barge_in.yaml"
ARTIFACTS = Path(os.environ.get("AGENT_TEST_ARTIFACTS", ROOT / "test-artifacts"))
QUIET, LOUD = 0.005, 0.05  # the page's received audio level (0..1): silence, a voice


@dataclass
class Web:
    url: str
    out: Path


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    out = tmp_path_factory.mktemp("web")
    port = free_port()
    command = [sys.executable, "-m", "pipelines.cli", "web", "--port", str(port), "--out", str(out)]
    command += ["--scripted-replies", str(SCENARIO)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(url + "/", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "agent web did not come up"
        time.sleep(0.5)
    yield Web(url, out)
    process.send_signal(signal.SIGINT)
    process.wait(30)


@pytest.fixture(scope="module")
def lines(voice) -> list[np.ndarray]:
    """The scenario's user lines, as the bundled voice says them."""
    scenario = load_scenario(SCENARIO)
    return [text_clip(step.user, voice, "user").audio for step in scenario.turns if step.user]


def fake_mic(path: Path, pieces: list[np.ndarray | float]) -> Path:
    """A WAV for Chromium's fake microphone: audio pieces and silences (seconds), in order."""
    audio = [p if isinstance(p, np.ndarray) else np.zeros(round(p * SAMPLE_RATE), np.float32) for p in pieces]
    sf.write(path, np.concatenate(audio), SAMPLE_RATE, subtype="PCM_16")
    return path


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("the browser tests need Debian's Chromium: apt-get install chromium (.ci/run does)")
    return found


def launch(playwright: Any, wav: Path) -> Any:
    return playwright.chromium.launch(
        executable_path=chromium(),
        headless=True,
        args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}%noloop",
            "--autoplay-policy=no-user-gesture-required",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
        ],
    )  # fmt: skip


def wait_for(page: Any, condition: str, timeout_s: float) -> dict[str, Any]:
    """Waits until ``condition`` (JS, on ``view``: the page's latest session view) holds."""
    page.wait_for_function(
        f"(() => {{ const view = window.demo.view; return view !== null && ({condition}); }})()",
        timeout=timeout_s * 1000,
        polling=100,
    )
    return dict(page.evaluate("window.demo.view"))


def end_session(page: Any, web: Web) -> dict[str, Any]:
    """Presses "End session"; the session's timeline.json, once the page links its report."""
    page.click("#end")
    page.wait_for_function("window.demo.report !== null", timeout=60_000)
    name = page.evaluate("window.demo.session")
    report = httpx.get(web.url + page.evaluate("window.demo.report"), timeout=10)
    assert report.status_code == 200 and "<html" in report.text.lower()
    return dict(json.loads((web.out / name / "timeline.json").read_text()))


def levels(page: Any) -> list[tuple[float, float]]:
    """(page seconds, received audio level) every 100 ms since the session started."""
    return [(x["t"] / 1000, x["level"]) for x in page.evaluate("window.demo.levels")]


def bursts(samples: list[tuple[float, float]], gap_s: float = 1.0) -> list[tuple[float, float]]:
    """Stretches of bot voice at the page: level above LOUD, split by >= gap_s below QUIET."""
    out: list[tuple[float, float]] = []
    start = last = quiet_since = None
    for t, level in samples:
        if level >= LOUD:
            start = t if start is None else start
            last, quiet_since = t, None
        elif level < QUIET and start is not None:
            quiet_since = t if quiet_since is None else quiet_since
            if t - quiet_since >= gap_s:
                out.append((start, last or start))
                start = last = quiet_since = None
    if start is not None:
        out.append((start, last or start))
    return out


def of_type(record: dict[str, Any], *types: str) -> list[dict[str, Any]]:
    return [e for e in record["events"] if e["type"] in types]


def test_a_spoken_turn_is_answered_and_the_answer_reaches_the_page(web, lines, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    wav = fake_mic(tmp_path / "turn.wav", [1.0, lines[0], 14.0])
    with sync_playwright() as p:
        browser = launch(p, wav)
        page = browser.new_page()
        page.goto(web.url + "/?autostart=1")
        view = wait_for(page, "view.lines.some(l => l.who === 'bot') && view.state === 'listening'", 60)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-after-a-turn.png"))
        heard = levels(page)
        record = end_session(page, web)
        browser.close()
    user = view["lines"][0]
    assert user["who"] == "user" and "opening hours" in user["text"].lower()
    assert user["eot_ms"] >= 0 and user["voice_to_voice_ms"] >= user["eot_ms"]
    assert [line["who"] for line in view["lines"]] == ["user", "bot"]
    assert len(of_type(record, "turn_end")) == 1, "the turn ended more than once"
    assert "opening hours" in of_type(record, "turn_end")[0]["text"].lower()
    start, stop = of_type(record, "bot_audio_start")[0], of_type(record, "bot_audio_stop")[0]
    assert not stop["interrupted"]
    assert not record["problems"]
    played = [b for b in bursts(heard, gap_s=1.5)]
    assert len(played) == 1, played  # the one reply, whole
    sent_s = stop["t"] - start["t"]
    assert abs((played[0][1] - played[0][0]) - sent_s) < 1.5, (played, sent_s)


def test_cutting_in_stops_the_bot_at_the_page_and_keeps_the_heard_words(web, lines, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    # The first question, then the second said over the bot's long answer (which starts about a
    # second after the question ends).
    wav = fake_mic(tmp_path / "barge.wav", [1.0, lines[0], 3.0, lines[1], 10.0])
    with sync_playwright() as p:
        browser = launch(p, wav)
        page = browser.new_page()
        page.goto(web.url + "/?autostart=1")
        view = wait_for(
            page, "view.lines.filter(l => l.who === 'bot').length >= 2 && view.state === 'listening'", 60
        )
        heard = levels(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-after-a-barge-in.png"))
        page_text = {"unheard": page.inner_text(".line.bot .unheard")}
        record = end_session(page, web)
        browser.close()
    full = load_scenario(SCENARIO).replies[0]
    cut = of_type(record, "bot_interrupted")
    assert len(cut) == 1 and cut[0]["heard"], cut
    assert full.startswith(cut[0]["heard"]) and len(cut[0]["heard"]) < len(full) / 2
    stop = next(e for e in of_type(record, "bot_audio_stop") if e["interrupted"])
    assert stop["text"] == cut[0]["heard"]
    said = [m["content"] for m in record["context"] if m.get("role") == "assistant"]
    assert said and cut[0]["heard"] in said[0] and full not in said[0], said  # only the heard part
    assert view["lines"][1]["heard"] == cut[0]["heard"]
    assert page_text["unheard"] == full[len(cut[0]["heard"]) :]  # drawn struck out at the page
    assert "public holidays" in of_type(record, "turn_end")[1]["text"].lower()
    # At the page: the first answer's voice stops as soon as the server cut it, well before its
    # end, and after a silence the second answer plays.
    played = bursts(heard)
    assert len(played) == 2, played
    sent_s = stop["t"] - stop["started"]
    assert played[0][1] - played[0][0] < sent_s + 0.7, (played, sent_s)


def test_two_tabs_are_two_sessions_and_a_closed_tab_loses_nothing(web, lines, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    wav = fake_mic(tmp_path / "turn.wav", [1.0, lines[0], 10.0])
    with sync_playwright() as p:
        browser = launch(p, wav)
        pages = [browser.new_page() for _ in range(2)]
        for page in pages:
            page.goto(web.url + "/?autostart=1")
        for page in pages:
            wait_for(page, "view.lines.some(l => l.who === 'bot')", 60)
        names = [page.evaluate("window.demo.session") for page in pages]
        ended = end_session(pages[0], web)
        pages[1].close()  # no "End session": the tab just goes
        deadline = time.monotonic() + 30
        while not (view := httpx.get(f"{web.url}/api/sessions/{names[1]}", timeout=10).json())["report"]:
            assert time.monotonic() < deadline, "a closed tab's session was not ended and written"
            time.sleep(0.5)
        browser.close()
    closed = dict(json.loads((web.out / names[1] / "timeline.json").read_text()))
    assert len(set(names)) == 2
    assert ended["ended_by"] == "the page's End button"
    assert closed["ended_by"].startswith("the browser went away") and view["ended"]
    for record in (ended, closed):
        turns = of_type(record, "turn_end")
        assert len(turns) == 1 and "opening hours" in turns[0]["text"].lower()
        assert not record["problems"]


def test_the_api_answers_bad_requests_in_one_line(web) -> None:
    post = [
        ("not json", 400, "the body is not JSON"),
        ("[1]", 400, "the body must be a JSON object"),
        ('{"sdp": 5, "type": "offer"}', 400, "expected {'sdp'"),
        ('{"sdp": "v=0 garbage", "type": "offer"}', 400, "the offer was refused"),
    ]
    for body, status, says in post:
        r = httpx.post(web.url + "/api/offer", content=body, timeout=10)
        assert r.status_code == status and says in r.json()["detail"], (body, r.text)
    r = httpx.patch(web.url + "/api/offer", json={"pc_id": "nope", "candidates": []}, timeout=10)
    assert r.status_code == 404
    r = httpx.patch(web.url + "/api/offer", json={"candidates": []}, timeout=10)
    assert r.status_code == 400 and "pc_id" in r.json()["detail"]
    assert httpx.get(web.url + "/api/sessions/nope", timeout=10).status_code == 404
    assert httpx.get(web.url + "/sessions/nope/report.html", timeout=10).status_code == 404
    assert httpx.get(web.url + "/", timeout=10).headers["content-type"].startswith("text/html")
