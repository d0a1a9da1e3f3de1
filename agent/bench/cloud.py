"""``agent bench stt-faults``: does a cloud recogniser lose or double a final when its link breaks?

For each scenario: one fault-free replay against the provider's emulator (in-process, on
loopback) gives the reference words; then ``runs`` replays with the connection dropped every
MIN..MAX s of session audio (a different seed each), and one with a stall. A run passes when its
finals' words equal the reference's, in order. Reconnect time is from the ``reconnecting`` event
to the next ``connected`` one (the replays are paced in real time, so media time is wall time).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from websockets.asyncio.server import serve

from agent.cloud.emulator.faults import Faults
from agent.replay.metrics import percentiles
from agent.replay.runner import Replayer
from agent.replay.scenario import load_scenario
from agent.settings import Settings
from pipelines.local import Models


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


async def one_run(provider: str, models: Models, settings: Settings, path: Path, faults: Faults) -> Any:
    emulator = emulator_for(provider, models, settings, faults)
    hook = getattr(emulator, "process_request", None)
    async with serve(emulator.handle, "127.0.0.1", 0, process_request=hook) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        cloud = settings.model_copy(update={"stt": provider, "stt_url": url})
        return await Replayer(cloud, realtime=True, models=models).run(load_scenario(path))


async def bench_faults(
    provider: str, paths: list[Path], runs: int, drop_every: tuple[float, float], stall_at: float
) -> dict[str, Any]:
    settings = Settings()
    models = Models.load(settings)
    per: dict[str, Any] = {}
    times: list[float] = []
    failed = 0
    total = 0
    for path in paths:
        reference = final_words((await one_run(provider, models, settings, path, Faults())).timeline.events)
        plans = [Faults(drop_every=drop_every, seed=i) for i in range(runs)] + [Faults(stall_at=stall_at)]
        rows = []
        for faults in plans:
            run = await one_run(provider, models, settings, path, faults)
            got = final_words(run.timeline.events)
            took = reconnect_ms(run.timeline.events)
            times += took
            total += 1
            failed += got != reference
            rows.append({"faults": "stall" if faults.stall_at else f"drop seed {faults.seed}",
                         "reconnects": len(took), "words_equal": got == reference})  # fmt: skip
        per[path.stem] = {"reference_words": len(reference), "runs": rows}
    return {
        "provider": provider,
        "runs": total,
        "runs_with_lost_or_doubled_words": failed,
        "reconnect_ms": percentiles(times, with_max=True),
        "scenarios": per,
    }
