"""``agent bench emulator-soak``: an emulator served for a long time, sessions opening and closing.

The emulator runs as its own process (``agent emulate``), so its memory is measured alone (the
resident set from ``/proc``). Rounds of ``--sessions`` connections at once each stream a second
or two of speech in 100 ms frames as fast as the socket takes it and close the stream; every
``--garbage-every``-th session also sends what a broken client would (bytes ending mid-sample,
text that is not JSON, a message of unknown type, Flux ``Configure`` with bad thresholds), and the
emulator must answer as the provider does. Memory is read half a second after the first round
(the baseline: models loaded, buffers grown) and after every round; at the end, after ``IDLE_S`` with nothing
open. The figure that matters: ``end_mb - baseline_mb``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from agent.media import to_pcm16

PATHS = {
    "deepgram-flux": "/v2/listen?model=flux-general-en&encoding=linear16&sample_rate=16000",
    "deepgram-nova": "/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000&interim_results=true",
    "assemblyai": "/v3/ws?sample_rate=16000&encoding=pcm_s16le",
}
IDLE_S = 10.0
SETTLE_S = 0.5
FRAME = 1600  # 100 ms


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` (MB)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _garbage(provider: str) -> list[str | bytes]:
    items: list[str | bytes] = [b"\x01\x02\x03", "not json at all"]
    if provider == "deepgram-flux":
        items += [json.dumps({"type": "Configure", "thresholds": "x"})]
        items += [json.dumps({"type": "Configure", "thresholds": {"eot_threshold": "abc"}})]
    items.append(json.dumps({"type": "NoSuchMessage"}))
    return items


async def session(url: str, provider: str, speech: np.ndarray, garbage: bool) -> str:
    """One connection; what became of it: ``closed`` (by the server, as it should), ``refused``."""
    headers = {"Authorization": "soak-key" if provider == "assemblyai" else "Token soak-key"}
    pcm = to_pcm16(speech)
    try:
        async with connect(url, additional_headers=headers, max_size=None) as ws:
            for i in range(0, len(pcm), 2 * FRAME):
                await ws.send(pcm[i : i + 2 * FRAME])
            for item in _garbage(provider) if garbage else []:
                await ws.send(item)
            end = {"type": "Terminate"} if provider == "assemblyai" else {"type": "CloseStream"}
            await ws.send(json.dumps(end))
            async for _ in ws:
                pass
    except InvalidStatus:
        return "refused"
    except ConnectionClosed:
        pass
    return "closed"


async def soak(
    provider: str, minutes: float, sessions: int, garbage_every: int, speech: np.ndarray, progress: Any = None
) -> dict[str, Any]:
    """Serve ``provider`` from a child process for ``minutes``, rounds of ``sessions`` at once."""
    port = _free_port()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "emulate",
            provider,
            "--port",
            str(port),
            "--api-key",
            "soak-key",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ},
    )
    try:
        assert child.stdout is not None
        ready = await asyncio.to_thread(child.stdout.readline)  # "... emulator on ws://..."
        if "emulator on" not in ready:
            raise RuntimeError(f"the {provider} emulator did not start: {ready.strip()}")
        url = f"ws://127.0.0.1:{port}{PATHS[provider]}"
        began = time.monotonic()
        rounds: list[dict[str, Any]] = []
        count = 0
        while not rounds or time.monotonic() - began < minutes * 60:
            jobs = []
            for _ in range(sessions):
                count += 1
                jobs.append(session(url, provider, speech, garbage_every > 0 and count % garbage_every == 0))
            outcomes = await asyncio.gather(*jobs)
            await asyncio.sleep(SETTLE_S)  # the server's side of the last close runs its course
            rounds.append(
                {
                    "t_s": round(time.monotonic() - began, 1),
                    "rss_mb": round(rss_mb(child.pid), 1),
                    "refused": outcomes.count("refused"),
                }
            )
            if progress is not None:
                progress(rounds[-1]["t_s"])
        await asyncio.sleep(IDLE_S)
        end = round(rss_mb(child.pid), 1)
        base = rounds[0]["rss_mb"]
        return {
            "provider": provider,
            "minutes": round((time.monotonic() - began) / 60, 2),
            "sessions": count,
            "sessions_at_once": sessions,
            "garbage_every": garbage_every,
            "baseline_mb": base,
            "peak_mb": max(r["rss_mb"] for r in rounds),
            "end_mb": end,
            "growth_mb": round(end - base, 1),
            "refused": sum(r["refused"] for r in rounds),
            "emulator_alive": child.poll() is None,
            "rounds": rounds,
        }
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
