"""``agent bench phone-load``: how many calls at once one ``agent serve`` takes on this machine.

Starts ``agent serve`` (and, with ``--stt deepgram-flux`` and no URL, the Flux emulator) as its
own process, then for each N places N calls at once with ``agent call``'s caller, and samples
the server's (and emulator's) CPU time and resident memory from ``/proc`` while they run::

    N   calls ok / failed   voice-to-voice p50 / p95   server cores   RSS above idle per call

Every figure is measured at the caller (voice-to-voice: true end of speech to the first bot
audio received). The caller runs on the same machine and takes some CPU itself; its late ticks
(a 20 ms tick sent more than 20 ms late) are reported so a starved caller is not mistaken for a
slow server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from agent.bench.machine import cpu_model
from agent.phone.call_cli import place_calls
from agent.replay.scenario import load_scenario

_TOKEN = "bench-phone-load"


def _proc(pid: int) -> tuple[float, float]:
    """(CPU seconds used, resident MB) of a process and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return cpu, rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(
    command: list[str], env: dict[str, str], ready_url: str | None, port: int | None
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{' '.join(command[2:5])} exited with {process.returncode}")
        try:
            if ready_url is not None:
                httpx.get(ready_url, timeout=2)
                return process
            with socket.create_connection(("127.0.0.1", port or 0), timeout=1):
                return process
        except (httpx.HTTPError, OSError):
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"{' '.join(command[2:5])} did not come up in 180 s")


async def _measure(
    url: str, scenario: Any, calls: int, out: Path, pids: dict[str, int], stagger_s: float
) -> dict[str, Any]:
    samples: list[tuple[float, dict[str, tuple[float, float]]]] = []

    def sample() -> None:
        samples.append((time.perf_counter(), {name: _proc(pid) for name, pid in pids.items()}))

    sample()
    repeat, steady = (1, False) if stagger_s == 0 else (3, True)
    task = asyncio.create_task(place_calls(url, _TOKEN, [scenario], calls, out, stagger_s, repeat, steady))
    while not task.done():
        await asyncio.sleep(0.5)
        sample()
    summary = await task
    sample()
    o = summary["overall"]
    began, until = o.get("steady_window") or (samples[0][0], samples[-1][0])
    first = min(samples, key=lambda x: abs(x[0] - began))
    last = min(samples, key=lambda x: abs(x[0] - until))
    span = max(1e-6, last[0] - first[0])
    processes = {}
    for name in pids:
        cores = (last[1][name][0] - first[1][name][0]) / span
        idle, peak = samples[0][1][name][1], max(x[1][name][1] for x in samples)
        processes[name] = {
            "cores": round(cores, 2),
            "cores_per_call": round(cores / calls, 3),
            "rss_idle_mb": round(idle, 1),
            "rss_peak_mb": round(peak, 1),
            "rss_per_call_mb": round((peak - idle) / calls, 1),
        }
    return {
        "calls": calls,
        "stagger_s": round(stagger_s, 2),
        "calls_pooled": o["calls_completed"],
        "calls_failed": o["calls_failed"],
        "failures": o["failures"],
        "voice_to_voice_ms": o["voice_to_voice_ms"],
        "eot_latency_ms": o["eot_latency_ms"],
        "barge_in_stop_ms": o["barge_in_stop_ms"],
        "premature_cutoffs": o.get("premature_cutoffs"),
        "missed_turns": o.get("missed_turns"),
        "caller_late_ticks": o["caller_late_ticks"],
        "call_seconds": round(
            sum(c["audio_seconds"] for c in summary["calls"].values()) / max(1, len(summary["calls"])), 1
        ),
        "processes": processes,
    }


def bench_phone_load(
    scenario_path: Path, counts: list[int], out: Path, stt: str, extra: list[str], together: bool = False
) -> dict[str, Any]:
    """Serve, call N at once for each N in ``counts``; the figures per N (see the module doc).

    The N callers' starts are spread over one call's length (measured on the first run), as calls
    from different people arrive, and each caller calls three times in a row; the figures pool
    the calls made while all N callers were on the line. ``together`` starts N single calls at
    the same instant instead, so that every call's turns end together (the worst case).
    """
    scenario = load_scenario(scenario_path)
    env = {
        **os.environ,
        "TWILIO_AUTH_TOKEN": _TOKEN,
        "DEEPGRAM_API_KEY": os.environ.get("DEEPGRAM_API_KEY", "bench"),
    }
    cli = [sys.executable, "-m", "pipelines.cli"]
    started: list[subprocess.Popen[bytes]] = []
    pids: dict[str, int] = {}
    serve = [
        *cli,
        "serve",
        "--max-calls",
        str(max(counts) + 1),
        "--scripted-replies",
        str(scenario_path.parent),
    ]
    try:
        if stt == "deepgram-flux":
            eport = _free_port()
            emulator = _start([*cli, "emulate", "deepgram-flux", "--port", str(eport)], env, None, eport)
            started.append(emulator)
            pids["emulator"] = emulator.pid
            serve += [
                "--stt",
                "deepgram-flux",
                "--stt-url",
                f"ws://127.0.0.1:{eport}",
                "--set",
                "detector=native",
            ]
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = _start([*serve, "--port", str(port), *extra], env, f"{url}/healthz", None)
        started.append(server)
        pids["server"] = server.pid
        runs: list[dict[str, Any]] = []
        length = 0.0
        for n in counts:
            stagger = 0.0 if together or not length or n == 1 else length / n
            runs.append(asyncio.run(_measure(url, scenario, n, out / f"calls-{n}", pids, stagger)))
            length = length or runs[-1]["call_seconds"]
    finally:
        for p in started:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "scenario": scenario.name,
        "stt": stt,
        "server_settings": extra,
        "together": together,
        "runs": runs,
    }
