"""Replays scenario files and writes ``summary.json``, ``timeline.json`` and ``report.html``.

Layout of the output folder::

    DIR/summary.json                 {"overall": {...}, "scenarios": {name: {...}}}
    DIR/<scenario>/timeline.json     {"events": [...], "truth": [...], "context": [...]}
    DIR/<scenario>/report.html       the timeline a person reads
    DIR/<scenario>/mic.wav           what the microphone heard
    DIR/eot_manifest.jsonl           the true pauses, for ``agent eot-eval``
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TextIO

from tqdm import tqdm

from agent.eot.manifest import Item, write_manifest
from agent.logs import about
from agent.media import write_pcm16
from agent.models import Models
from agent.replay.bargein_metrics import utterances
from agent.replay.metrics import check, pool, score
from agent.replay.runner import Replayer, ScenarioRun
from agent.replay.scenario import Scenario, load_scenario
from agent.report.html import render
from agent.settings import Settings


def write_run(run: ScenarioRun, out: Path, figures: dict[str, Any]) -> None:
    """The scenario's own folder: timeline and report."""
    folder = out / run.scenario.name
    folder.mkdir(parents=True, exist_ok=True)
    timeline = {**run.timeline.to_json(), "truth": [s.as_dict() for s in run.truth], "context": run.context}
    (folder / "timeline.json").write_text(json.dumps(timeline, indent=1))
    page = render(
        run.scenario.name,
        run.scenario.description,
        run.timeline.sorted_events(),
        run.truth,
        run.user_audio,
        run.bot_audio,
        figures,
    )
    (folder / "report.html").write_text(page, encoding="utf-8")
    write_pcm16(folder / "mic.wav", run.user_audio)  # the pipeline's input, bit for bit
    write_pcm16(folder / "heard.wav", run.heard_pcm)  # what its VAD, recogniser and detectors heard
    write_manifest(eot_items(run), folder / "eot_manifest.jsonl")


def eot_items(run: ScenarioRun) -> list[Item]:
    """The scenario's true pauses as ``agent eot-eval`` items (audio: the scenario's heard.wav,
    the microphone after the echo canceller): each pause inside a user turn is a hold, each
    turn's end an eot.

    The pauses are measured as the replay's detectors measured them: a pause starts where the
    VAD heard the speech end (the silence every detector counts from, as in manifests built from
    recordings), a few tens of ms after the synthesised words' true end, and ends where the truth
    says the next speech begins; a turn starts at the VAD's onset, and is a cut-in when the bot
    was talking during it. A hold the VAD never heard (it bridged the pause) is left out: no
    detector was asked about it."""
    items: list[Item] = []
    end_of_audio = run.audio_seconds
    events = run.timeline.events
    stops = [float(e["speech_end"]) for e in events if e["type"] == "vad_stop"]
    onsets = [float(e["onset"]) for e in events if e["type"] == "vad_start"]
    bot = utterances(run.timeline.sorted_events())
    for step in run.truth:
        if step.kind != "turn":
            continue
        start = min(onsets, key=lambda t: abs(t - step.start), default=step.start)
        start = round(start if abs(start - step.start) <= 0.3 else step.start, 3)

        spans: list[tuple[float, float, Literal["hold", "eot"]]] = []
        for a, b in step.pauses:
            heard = _heard_end(stops, a, b)
            if heard is not None:
                spans.append((heard, b, "hold"))
        following = min((s.start for s in run.truth if s.start > step.end), default=end_of_audio)
        spans.append((_heard_end(stops, step.end, following) or step.end, following, "eot"))
        for a, b, label in spans:
            cut_in = any(x < a and start < y for x, y in bot)
            items.append(Item("heard.wav", round(a, 3), round(b, 3), label, start, cut_in))
    return items


def _heard_end(stops: list[float], start: float, end: float) -> float | None:
    """The VAD's speech end nearest a true pause's start (within 0.15 s before it, 0.25 s after,
    and before the pause's end)."""
    near = [s for s in stops if start - 0.15 <= s <= min(end, start + 0.25)]
    return min(near, key=lambda s: abs(s - start)) if near else None


def scenario_figures(run: ScenarioRun) -> dict[str, Any]:
    events = run.timeline.sorted_events()
    figures = score(events, run.truth, transcribed=not any(s.audio for s in run.scenario.turns))
    figures["expectations_failed"] = check(run.scenario.expect, figures, events)
    if run.stopped:
        figures["expectations_failed"].append(run.stopped)
    figures["audio_seconds"] = round(run.audio_seconds, 3)
    figures["wall_seconds"] = round(run.wall_seconds, 3)
    figures["compute_seconds"] = run.compute_seconds
    return figures


async def replay_all(
    paths: Sequence[Path],
    out: Path,
    settings: Settings,
    llm: str = "scripted",
    realtime: bool = False,
    progress: TextIO | None = None,
    models: Models | None = None,
    allow_outside_audio: bool = False,
) -> dict[str, Any]:
    """Replay every scenario (all are validated first) and write the outputs; returns the summary.
    ``progress`` defaults to the current ``sys.stderr``; ``models`` (loaded once and shared by
    several calls) defaults to loading them here."""
    progress = progress or sys.stderr
    began = time.perf_counter()
    scenarios: list[Scenario] = [load_scenario(p, allow_outside_audio) for p in paths]
    _check_unique(scenarios)
    replayer = Replayer(settings, llm=llm, realtime=realtime, models=models)
    per: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    manifest: list[Item] = []
    bar = tqdm(total=len(scenarios), unit="scenario", file=progress, disable=not progress.isatty())
    not_run: list[str] = []
    with _stop_on_signals() as stop:
        for k, sc in enumerate(scenarios):
            bar.set_description(sc.name)
            try:
                if stop.requested:
                    raise asyncio.CancelledError
                with about(scenario=sc.name):
                    run = await replayer.run(sc)
                    if stop.requested:  # the cancel reached a part that finished quietly
                        raise asyncio.CancelledError
                    figures = scenario_figures(run)
                    write_run(run, out, figures)
            except asyncio.CancelledError:
                # Ctrl-C or SIGTERM: what is finished is kept, and summary.json says what is not.
                not_run = [s.name for s in scenarios[k:]]
                break
            except (ValueError, RuntimeError, OSError) as e:
                # One broken scenario (say, a recording corrupt past its header, or a folder that
                # cannot be written) must not cost the others their results: note it, go on.
                errors.append(str(e) if str(sc.path) in str(e) else f"{sc.path}: {e}")
                print(f"{sc.name}: ERROR: {e}", file=progress, flush=True)
                bar.update(1)
                continue
            manifest += [replace(i, audio=f"{sc.name}/{i.audio}") for i in eot_items(run)]
            per[sc.name] = figures
            bar.update(1)
            if not progress.isatty():
                print(_one_line(sc.name, figures), file=progress, flush=True)
    bar.close()
    overall = pool(list(per.values()))
    audio = sum(f["audio_seconds"] for f in per.values())
    wall = time.perf_counter() - began
    overall.update(
        audio_seconds=round(audio, 3),
        wall_seconds=round(wall, 3),
        speedup=round(audio / wall, 2) if wall > 0 else None,
        expectations_failed=[f"{n}: {m}" for n, f in per.items() for m in f["expectations_failed"]],
        errors=errors,
        interrupted=bool(not_run),
        not_run=not_run,
        settings={"llm": llm, "realtime": realtime, **settings.model_dump()},
    )
    for name, f in per.items():
        f.pop("_values", None)
        sc = next(s for s in scenarios if s.name == name)
        f["settings"] = {
            "pipeline": "as in overall.settings",
            "scenario": sc.model_dump(include={"lead_in_s", "gap_s", "reply_timeout_s", "tail_s", "echo"}),
        }
    summary = {"overall": overall, "scenarios": per}
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(manifest, out / "eot_manifest.jsonl")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


@dataclass
class _Stop:
    requested: bool = False


@contextmanager
def _stop_on_signals() -> Iterator[_Stop]:
    """Ctrl-C and SIGTERM stop the replay: they cancel what runs now and are remembered, so a
    part of the pipeline that takes the cancel quietly cannot make the loop go on."""
    stop = _Stop()
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_signal() -> None:
        stop.requested = True
        if task is not None:
            task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread: none here
            pass
    try:
        yield stop
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _one_line(name: str, f: dict[str, Any]) -> str:
    failed = f["expectations_failed"]
    return (
        f"{name}: {f['audio_seconds']:.1f} s audio in {f['wall_seconds']:.1f} s, "
        f"{f['turn_ends']} turn ends, eot p50 {f['eot_latency_ms']['p50']} ms, "
        f"cutoffs {f['premature_cutoffs']}" + (f", FAILED: {'; '.join(failed)}" if failed else "")
    )


def _check_unique(scenarios: Sequence[Scenario]) -> None:
    seen: dict[str, Path | None] = {}
    for sc in scenarios:
        if sc.name in seen:
            raise ValueError(f"{sc.path}: scenario name {sc.name!r} is also used by {seen[sc.name]}")
        seen[sc.name] = sc.path


def run_replay(
    paths: Sequence[Path],
    out: Path,
    settings: Settings,
    llm: str,
    realtime: bool,
    allow_outside_audio: bool = False,
) -> dict[str, Any]:
    return asyncio.run(
        replay_all(paths, out, settings, llm=llm, realtime=realtime, allow_outside_audio=allow_outside_audio)
    )
