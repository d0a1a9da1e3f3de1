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
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import soundfile as sf
from tqdm import tqdm

from agent.eot.manifest import Item, write_manifest
from agent.media import SAMPLE_RATE
from agent.models import Models
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
    sf.write(folder / "mic.wav", run.user_audio, SAMPLE_RATE, subtype="PCM_16")
    write_manifest(eot_items(run), folder / "eot_manifest.jsonl")


def eot_items(run: ScenarioRun) -> list[Item]:
    """The scenario's true pauses as ``agent eot-eval`` items (audio: the scenario's mic.wav):
    each pause inside a user turn is a hold, each turn's end an eot."""
    items: list[Item] = []
    end_of_audio = run.audio_seconds
    for step in run.truth:
        if step.kind != "turn":
            continue
        for a, b in step.pauses:
            items.append(Item("mic.wav", round(a, 3), round(b, 3), "hold", round(step.start, 3)))
        following = min((s.start for s in run.truth if s.start > step.end), default=end_of_audio)
        items.append(Item("mic.wav", round(step.end, 3), round(following, 3), "eot", round(step.start, 3)))
    return items


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
) -> dict[str, Any]:
    """Replay every scenario (all are validated first) and write the outputs; returns the summary.
    ``progress`` defaults to the current ``sys.stderr``; ``models`` (loaded once and shared by
    several calls) defaults to loading them here."""
    progress = progress or sys.stderr
    began = time.perf_counter()
    scenarios: list[Scenario] = [load_scenario(p) for p in paths]
    _check_unique(scenarios)
    replayer = Replayer(settings, llm=llm, realtime=realtime, models=models)
    per: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    manifest: list[Item] = []
    bar = tqdm(total=len(scenarios), unit="scenario", file=progress, disable=not progress.isatty())
    for sc in scenarios:
        bar.set_description(sc.name)
        try:
            run = await replayer.run(sc)
        except (ValueError, RuntimeError, OSError) as e:
            # One broken scenario (say, a recording corrupt past its header) must not cost the
            # others their results: note it and go on.
            errors.append(str(e))
            print(f"{sc.name}: ERROR: {e}", file=progress, flush=True)
            bar.update(1)
            continue
        figures = scenario_figures(run)
        write_run(run, out, figures)
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
    paths: Sequence[Path], out: Path, settings: Settings, llm: str, realtime: bool
) -> dict[str, Any]:
    return asyncio.run(replay_all(paths, out, settings, llm=llm, realtime=realtime))
