"""``agent bench stt-faults``: does a cloud recogniser lose or double a final when its link breaks?

For each scenario: one fault-free replay against the provider's emulator (in-process, on
loopback) gives the reference, and ``words_as_local`` says whether its finals' words are those of
the local path on the same scenario. Then ``runs`` replays with each session dropped MIN..MAX
wall seconds after it opened (a different seed each), and one with a stall. Per run, by media time:

- ``lost``: reference words that no final of the run overlaps in time;
- ``doubled``: finals overlapping (by more than half) an earlier final of the same run;
- ``text_equal``: the finals' words equal the reference's (``runs_with_text_unlike_local_too``
  counts the runs that read unlike the local path as well: the fault-free run is one real-time
  run, in which the user's next turn starts when the bot is done, which may be another point of
  the media grid than at full speed; a fragile reading can flip with no fault at all, as 02's
  "round 730" did to "round seven 30" in one of two fault-free Nova runs). The client replays
  whole runs of speech from a point on the media grid, the same PCM bytes with its finalise
  requests where the live stream had them, and the emulators read a run on its own, so a
  reconnection alone changes no word, unless the run reaches further back than
  ``cloud.replay_max_s`` before the last final, or the session before was lost still reading
  its replay (``cloud.brief_s``) and the replay carries no context. What can also change them is a
  different conversation: a reconnect delays finals, so the bot may reply later, over the user's
  next words; with echo in the scenario, the microphone then holds other echo.

Reconnect time runs from the ``reconnecting`` event to the next ``connected`` one (the replays
are paced in real time, so media time is wall time).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from websockets.asyncio.server import serve

from agent.cloud.emulator.faults import Faults
from agent.models import Models
from agent.replay.metrics import percentiles
from agent.replay.runner import Replayer, ScenarioRun
from agent.replay.scenario import load_scenario
from agent.settings import Settings


def emulator_for(provider: str, models: Models, settings: Settings, faults: Faults) -> Any:
    if provider == "assemblyai":
        from agent.cloud.emulator.assemblyai import AssemblyAIEmulator

        return AssemblyAIEmulator(models, settings, faults)
    if provider == "deepgram-nova":
        from agent.cloud.emulator.deepgram_nova import DeepgramEmulator

        return DeepgramEmulator(models, settings, faults)
    from agent.cloud.emulator.deepgram_flux import flux_emulator

    return flux_emulator(models, settings, faults)


def final_words(events: list[dict[str, Any]]) -> list[str]:
    text = " ".join(e["text"] for e in events if e["type"] == "final")
    return re.findall(r"[a-z0-9']+", text.lower())


def final_spans(run: ScenarioRun) -> list[tuple[float, float]]:
    """Each final word's span, relative to the start of the user's step it falls in (the
    scenario reacts to the bot, so the same step may start at another media time in another
    run), offset by 1000 s per step so that steps never overlap."""
    out = []
    for e in run.timeline.events:
        for w in e["words"] if e["type"] == "final" else []:
            step = next((s for s in run.truth if s.clip_start - 0.5 <= w["start"] <= s.clip_end + 1.0), None)
            if step is not None:
                base = 1000.0 * step.index - step.clip_start
                out.append((w["start"] + base, w["end"] + base))
    return out


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def _meets(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """The spans overlap, or touch within 20 ms (tiny models squeeze some words to no length)."""
    return _overlap(a, b) > 0 or max(a[0], b[0]) - min(a[1], b[1]) <= 0.02


def lost_and_doubled(reference: list[tuple[float, float]], run: list[tuple[float, float]]) -> tuple[int, int]:
    """Reference words no run word overlaps, and run words that mostly repeat an earlier one."""
    lost = sum(1 for r in reference if not any(_meets(r, w) for w in run))
    doubled = 0
    for i, w in enumerate(run):
        shortest = max(1e-3, w[1] - w[0])
        if any(_overlap(w, v) > 0.5 * min(shortest, max(1e-3, v[1] - v[0])) for v in run[:i]):
            doubled += 1
    return lost, doubled


def reconnect_ms(events: list[dict[str, Any]]) -> list[float]:
    out, since = [], None
    for e in events:
        if e["type"] != "stt_connection":
            continue
        if e["state"] == "reconnecting" and since is None:
            since = e["t"]
        elif e["state"] == "connected" and since is not None:
            out.append(1000 * (e["t"] - since))
            since = None
    return out


def same_audio(settings: Settings, path: Path) -> Settings:
    """Without echo in the scenario the canceller is off, so the recogniser hears the user's audio
    as it was said in every run: AEC3 reshapes speech while the bot talks and the echo path is not
    known yet, and a reconnect moves the bot's replies (see the module docstring)."""
    echo = settings.echo.model_copy(update={"enabled": load_scenario(path).echo is not None})
    return settings.model_copy(update={"echo": echo})


async def one_run(
    provider: str, models: Models, settings: Settings, path: Path, faults: Faults
) -> ScenarioRun:
    emulator = emulator_for(provider, models, settings, faults)
    hook = getattr(emulator, "process_request", None)
    async with serve(emulator.handle, "127.0.0.1", 0, process_request=hook) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        cloud = same_audio(settings, path).model_copy(update={"stt": provider, "stt_url": url})
        return await Replayer(cloud, realtime=True, models=models).run(load_scenario(path))


def _keep(folder: Path | None, name: str, run: ScenarioRun) -> None:
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name.replace(' ', '_')}.json").write_text(json.dumps(run.timeline.to_json()))


async def bench_faults(
    provider: str,
    paths: list[Path],
    runs: int,
    drop_every: tuple[float, float],
    stall_at: float,
    timelines: Path | None = None,
) -> dict[str, Any]:
    """``timelines``: a folder for the timeline of each fault-free run and of each run that
    lost, doubled or changed a word, so that a rare failure can be traced afterwards."""
    settings = Settings()
    models = Models.load(settings)
    per: dict[str, Any] = {}
    times: list[float] = []
    failed = 0
    total = 0
    text_differs = 0
    unlike_both = 0
    unlike_local = []
    for path in paths:
        local = await Replayer(same_audio(settings, path), models=models).run(load_scenario(path))
        clean = await one_run(provider, models, settings, path, Faults())
        _keep(timelines, f"{path.stem} fault-free", clean)
        reference, spans = final_words(clean.timeline.events), final_spans(clean)
        local_words = final_words(local.timeline.events)
        if reference != local_words:
            unlike_local.append(path.stem)
        plans = [Faults(drop_every=drop_every, seed=i) for i in range(runs)] + [Faults(stall_at=stall_at)]
        rows = []
        for faults in plans:
            run = await one_run(provider, models, settings, path, faults)
            events = run.timeline.events
            lost, doubled = lost_and_doubled(spans, final_spans(run))
            took = reconnect_ms(events)
            times += took
            total += 1
            failed += bool(lost or doubled)
            words = final_words(events)
            text_differs += words != reference
            unlike_both += words not in (reference, local_words)
            row = {
                "faults": "stall" if faults.stall_at else f"drop seed {faults.seed}",
                "reconnects": len(took),
                "lost": lost,
                "doubled": doubled,
                "text_equal": words == reference,
            }
            rows.append(row if words == reference else {**row, "text": " ".join(words)})
            if lost or doubled or words != reference:
                _keep(timelines, f"{path.stem} {row['faults']}", run)
        per[path.stem] = {
            "reference": " ".join(reference),
            "reference_words": len(reference),
            "words_as_local": path.stem not in unlike_local,
            "runs": rows,
        }
        if path.stem in unlike_local:
            per[path.stem]["local"] = " ".join(local_words)
    return {
        "provider": provider,
        "scenarios_with_words_unlike_local": unlike_local,
        "runs": total,
        "runs_with_lost_or_doubled_words": failed,
        "runs_with_other_text": text_differs,
        "runs_with_text_unlike_local_too": unlike_both,
        "reconnect_ms": percentiles(times, with_max=True),
        "scenarios": per,
    }
