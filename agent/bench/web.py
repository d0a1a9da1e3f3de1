"""``agent bench web``: the browser path against the replay, on the same microphone tracks.

Each scenario is replayed first (its microphone track and ground truth); then that track plays
through Chromium's fake microphone into an ``agent web`` server, once per setting of the browser's
audio processing (echo canceller, noise suppressor, gain control), and each session's timeline is
scored against the replay's truth::

    scenario ─► replay ─► mic.wav + truth ─┬─► figures (replay)
                                           └─► Chromium (fake mic, processing P) ─► WebRTC/Opus ─►
                                               agent web ─► timeline ─► figures (web, P)

The web session's media clock starts with the first audio that crossed the connection, not with
the track: the offset is found by cross-correlating what the session heard (its ``mic.wav``) with
the track, and the truth is shifted by it. A fixed track cannot answer the bot, so scenarios whose
user talks over the bot or hears its echo are left out (named). The server answers with each
scenario's own agent lines (``--scripted-replies`` on the scenarios' folder, ``?scenario=NAME``),
so the bot talks when and as long as it did in the replay.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from agent.media import SAMPLE_RATE
from agent.replay.metrics import pool, score
from agent.replay.player import TruthStep
from agent.replay.scenario import Scenario, find_scenarios, load_scenario
from agent.settings import Settings

_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required", "--disable-features=WebRtcHideLocalIpsWithMdns",
]  # fmt: skip
_TAIL_S = 3.0  # silence after each track, so that the last turn can end


class BenchError(RuntimeError):
    """Something the bench needs is missing (Chromium, Playwright) or did not come up."""


def playable(scenario: Scenario) -> str | None:
    """Why a fixed track cannot stand for this scenario live (None when it can)."""
    if scenario.echo is not None:
        return "the bot's echo is baked into its track"
    if any(step.start.after_bot_start is not None for step in scenario.turns):
        return "its user talks at times set by the bot (barge-in)"
    return None


def offset_s(heard: np.ndarray, track: np.ndarray, max_s: float = 5.0) -> float:
    """Seconds of ``track`` that played before ``heard`` began (where the two line up best)."""
    max_lag = max(0, min(round(max_s * SAMPLE_RATE), len(track) - SAMPLE_RATE))
    n = min(len(heard), len(track) - max_lag, 20 * SAMPLE_RATE)
    a = heard[:n].astype(np.float64)
    seg = track[: n + max_lag].astype(np.float64)
    size = 1 << (len(seg) + n).bit_length()
    fit = np.fft.irfft(np.fft.rfft(seg, size) * np.conj(np.fft.rfft(a, size)), size)[: max_lag + 1]
    return int(np.argmax(fit)) / SAMPLE_RATE


def shifted(truth: Sequence[dict[str, Any]], by: float) -> list[TruthStep]:
    """The replay's truth (its ``timeline.json``) in the web session's media time."""
    return [
        TruthStep(
            index=int(s["step"]),
            kind=str(s["kind"]),
            text=str(s.get("text", "")),
            start=float(s["start"]) - by,
            end=float(s["end"]) - by,
            pauses=tuple((float(a) - by, float(b) - by) for a, b in s.get("pauses", [])),
            clip_start=float(s.get("clip_start", s["start"])) - by,
            clip_end=float(s.get("clip_end", s["end"])) - by,
        )
        for s in truth
    ]


def run(paths: Sequence[Path], modes: Sequence[str], settings: Settings) -> dict[str, Any]:
    """Figures of the replay and of each browser processing mode, pooled over the scenarios."""
    from agent.replay.batch import run_replay

    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise BenchError("bench web drives Debian's Chromium: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        raise BenchError("bench web drives Chromium with Playwright: pip install -e '.[dev]'") from e
    scenarios = [load_scenario(f) for p in paths for f in find_scenarios(p)]
    left_out = {s.name: why for s in scenarios if (why := playable(s))}
    kept = [s for s in scenarios if s.name not in left_out]
    if not kept:
        raise BenchError("no scenario here can be played as a fixed track (all talk over the bot)")
    work = Path(tempfile.mkdtemp(prefix="bench-web-"))
    try:
        run_replay([s.path for s in kept if s.path], work / "replay", settings, "scripted", False)
        replayed = {s.name: _replayed(work / "replay" / s.name) for s in kept}
        result: dict[str, Any] = {"scenarios": [s.name for s in kept], "left_out": left_out}
        result["replay"] = _pooled([score(ev, shifted(truth, 0.0)) for ev, truth, _ in replayed.values()])
        folder = _one_folder(kept, work)
        with _web_server(work / "sessions", folder) as url, sync_playwright() as playwright:
            result["web"] = {}
            for mode in modes:
                figures = []
                for name, (_, truth, track) in replayed.items():
                    record = _session(playwright, chromium, f"{url}/?scenario={name}&", mode, track, work)
                    heard, _ = sf.read(work / "sessions" / record["session"] / "mic.wav", dtype="float32")
                    by = offset_s(heard, track)
                    figures.append(score(record["events"], shifted(truth, by)))
                    print(f"bench web: {mode}: {name} (track offset {by:.3f} s)", file=sys.stderr, flush=True)
                result["web"][mode] = _pooled(figures)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _one_folder(scenarios: Sequence[Scenario], work: Path) -> Path:
    """A folder holding every scenario as NAME.yaml (what --scripted-replies DIR reads): their own
    folder when they share one, else copies (which must not name recordings of their own)."""
    folders = {s.path.parent for s in scenarios if s.path is not None}
    named = all(s.path is not None and s.path.name == f"{s.name}.yaml" for s in scenarios)
    if len(folders) == 1 and named:
        return folders.pop()
    folder = work / "scenarios"
    folder.mkdir()
    for s in scenarios:
        assert s.path is not None
        (folder / f"{s.name}.yaml").write_text(s.path.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def _replayed(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], np.ndarray]:
    """A replayed scenario's events, truth (as its timeline.json has it) and microphone track."""
    record = json.loads((folder / "timeline.json").read_text())
    track, _ = sf.read(folder / "mic.wav", dtype="float32")
    return record["events"], record["truth"], track


def _pooled(figures: list[dict[str, Any]]) -> dict[str, Any]:
    pooled = pool(figures)
    keys = ("asr_wer", "turns", "turn_ends", "premature_cutoffs", "missed_turns", "spurious_turn_ends")
    return {k: pooled[k] for k in (*keys, "eot_latency_media_ms", "voice_to_voice_ms") if k in pooled}


class _web_server:
    """``agent web`` in a subprocess on a free port, for as long as the ``with`` lasts."""

    def __init__(self, out: Path, scenarios: Path) -> None:
        self._out = out
        self._scenarios = scenarios
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        import httpx

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        command = [sys.executable, "-m", "pipelines.cli", "web", "--port", str(port), "--out", str(self._out)]
        command += ["--scripted-replies", str(self._scenarios)]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                httpx.get(url + "/", timeout=2)
                return url
            except httpx.HTTPError:
                time.sleep(0.5)
        raise BenchError("agent web did not come up")

    def __exit__(self, *_: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            self._process.wait(60)


def _session(
    playwright: Any, chromium: str, url: str, mode: str, track: np.ndarray, work: Path
) -> dict[str, Any]:
    """One session: the track (and a tail of silence) through the page; its timeline.json."""
    wav = work / "track.wav"
    sf.write(wav, np.concatenate([track, np.zeros(round(_TAIL_S * SAMPLE_RATE), np.float32)]), SAMPLE_RATE)
    until = len(track) / SAMPLE_RATE + _TAIL_S - 0.5
    browser = playwright.chromium.launch(
        executable_path=chromium,
        headless=True,
        args=[*_FLAGS, f"--use-file-for-fake-audio-capture={wav}%noloop"],
    )
    try:
        page = browser.new_page()
        page.goto(f"{url}autostart=1&processing={mode}")
        page.wait_for_function(
            f"window.demo.view !== null && window.demo.view.t >= {until}",
            timeout=(until + 60) * 1000,
            polling=200,
        )
        name = page.evaluate("window.demo.session")
        page.click("#end")
        page.wait_for_function("window.demo.report !== null", timeout=60_000)
    finally:
        browser.close()
    return dict(json.loads((work / "sessions" / name / "timeline.json").read_text()))


def table(result: dict[str, Any]) -> str:
    """The figures side by side, one row per run."""
    head = "| run | WER | turn ends | cutoffs | missed | spurious | end of turn p50 / p95 (media ms) |"
    rows = [head, "|---|---|---|---|---|---|---|"]
    runs = {"replay": result["replay"], **{f"web, processing={m}": f for m, f in result["web"].items()}}
    for name, f in runs.items():
        eot = f["eot_latency_media_ms"]
        wer = f"{100 * f['asr_wer']:.1f} %" if f.get("asr_wer") is not None else "-"
        rows.append(
            f"| {name} | {wer} | {f['turn_ends']} | {f['premature_cutoffs']} | {f['missed_turns']} | "
            f"{f['spurious_turn_ends']} | {eot['p50']} / {eot['p95']} |"
        )
    return "\n".join(rows)
