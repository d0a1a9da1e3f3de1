"""The Deepgram Nova-3 emulator driven by the official SDK, and the pipeline on it."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from typing import Any

import numpy as np
from deepgram import AsyncDeepgramClient
from deepgram.environment import DeepgramClientEnvironment
from websockets.asyncio.server import serve

from agent.cloud.emulator.deepgram_flux import flux_emulator
from agent.cloud.emulator.deepgram_nova import DeepgramNovaEmulator
from agent.cloud.emulator.faults import Faults
from agent.media import SAMPLE_RATE, to_pcm16
from agent.replay.runner import Replayer
from agent.replay.scenario import load_scenario
from tests.cloud_helpers import SCENARIO, words


async def sdk_session(
    emulator: Any, audio: np.ndarray, key: str, connect: Any, before_close: Any = None
) -> list[Any]:
    """Stream ``audio`` through the official client (``connect(client)`` opens the socket) to an
    emulator on loopback; returns every message the SDK parsed, in order."""
    got: list[Any] = []
    async with serve(emulator.handle, "127.0.0.1", 0, process_request=emulator.process_request) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        env = DeepgramClientEnvironment(base=url, production=url, agent=url, agent_rest=url)
        async with connect(AsyncDeepgramClient(api_key=key, environment=env)) as socket:

            async def read() -> None:
                async for message in socket:
                    got.append(message)

            reader = asyncio.create_task(read())
            for i in range(0, len(audio), 1600):
                await socket.send_media(to_pcm16(audio[i : i + 1600]))
                await asyncio.sleep(0)
            if before_close is not None:
                await before_close(socket)
            await socket.send_close_stream()
            await asyncio.wait_for(reader, 30)
    return got


async def nova_session(replayer, audio: np.ndarray, key: str) -> list[Any]:
    emulator = DeepgramNovaEmulator(replayer.models, replayer.settings, Faults(), api_key="dg-key")

    def connect(client: Any) -> Any:
        return client.listen.v1.connect(
            model="nova-3", encoding="linear16", sample_rate="16000", interim_results="true",
            vad_events="true", utterance_end_ms="1000", punctuate="true",
        )  # fmt: skip

    return await sdk_session(emulator, audio, key, connect)


def test_results_from_the_sdk_have_finals_an_endpoint_and_metadata(voice, replayer) -> None:
    speech = voice.synthesize("What time does the pharmacy open tomorrow?").audio
    audio = np.concatenate([np.zeros(8000, np.float32), speech, np.zeros(3 * SAMPLE_RATE, np.float32)])
    got = asyncio.run(nova_session(replayer, audio, "dg-key"))
    kinds = [type(m).__name__ for m in got]
    assert "ListenV1SpeechStarted" in kinds and "ListenV1UtteranceEnd" in kinds
    assert kinds[-1] == "ListenV1Metadata"
    results = [m for m in got if type(m).__name__ == "ListenV1Results"]
    finals = [m for m in results if m.is_final]
    assert any(m.speech_final for m in finals) and any(not m.is_final for m in results)
    text = " ".join(m.channel.alternatives[0].transcript for m in finals).lower()
    assert "pharmacy" in text and "tomorrow" in text
    # In the silence after the turn the server still speaks up once per second of audio, with
    # results that hold no words: a client tells a live session from a stalled one by them.
    quiet = [m for m in results if not m.channel.alternatives[0].words]
    assert len([m for m in quiet if m.start >= len(audio) / SAMPLE_RATE - 3.0]) >= 2
    assert all(0.9 <= m.duration <= 1.2 for m in quiet if not (m.from_finalize or m.speech_final))


def test_a_wrong_key_is_refused_at_the_handshake(replayer) -> None:
    try:
        asyncio.run(nova_session(replayer, np.zeros(SAMPLE_RATE, np.float32), "wrong"))
    except Exception as e:
        assert "401" in str(e)
    else:
        raise AssertionError("a wrong key was accepted")


def test_the_pipeline_on_deepgram_matches_the_local_path(replayer, write, local_words) -> None:
    path = write("two_turns.yaml", SCENARIO)

    async def run() -> Any:
        emulator = DeepgramNovaEmulator(replayer.models, replayer.settings, Faults())
        async with serve(emulator.handle, "127.0.0.1", 0, process_request=emulator.process_request) as srv:
            url = f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
            settings = replayer.settings.model_copy(update={"stt": "deepgram-nova", "stt_url": url})
            return await Replayer(settings, realtime=True, models=replayer.models).run(load_scenario(path))

    result = asyncio.run(run())
    assert words(result.timeline.events) == local_words
    assert len([e for e in result.timeline.events if e["type"] == "turn_end"]) == 2


async def flux_session(replayer, audio: np.ndarray) -> list[Any]:
    emulator = flux_emulator(replayer.models, replayer.settings, Faults(), api_key="dg-key")

    def connect(client: Any) -> Any:
        return client.listen.v2.connect(
            model="flux-general-en", encoding="linear16", sample_rate="16000", eager_eot_threshold="0.5"
        )

    async def configure(socket: Any) -> None:
        await socket.send_configure({"type": "Configure", "thresholds": {"eot_threshold": 0.8}})

    return await sdk_session(emulator, audio, "dg-key", connect, configure)


def test_flux_turn_info_from_the_sdk(voice, replayer) -> None:
    speech = voice.synthesize("What time does the pharmacy open tomorrow?").audio
    audio = np.concatenate([np.zeros(8000, np.float32), speech, np.zeros(3 * SAMPLE_RATE, np.float32)])
    got = asyncio.run(flux_session(replayer, audio))
    assert type(got[0]).__name__ == "ListenV2Connected"
    assert [m.sequence_id for m in got] == list(range(len(got)))
    infos = [m for m in got if type(m).__name__ == "ListenV2TurnInfo"]
    events = [m.event for m in infos]
    changes = [e for e in events if e != "Update"]
    assert changes[0] == "StartOfTurn" and changes.count("EndOfTurn") == 1
    # An Update for every 0.25 s of audio, silence included (the 0.5 s before the speech).
    assert events[:2] == ["Update", "Update"]
    windows = [m.audio_window_end for m in infos]
    assert max(b - a for a, b in pairwise(windows)) <= 0.25 + 0.1
    end = next(m for m in infos if m.event == "EndOfTurn")
    assert end.trigger == "model" and "pharmacy" in end.transcript.lower() and end.turn_index == 0
    assert any(type(m).__name__ == "ListenV2ConfigureSuccess" for m in got)


def test_the_pipeline_on_flux_with_its_native_end_of_turn(replayer, write, local_words) -> None:
    path = write("two_turns.yaml", SCENARIO)

    async def run() -> Any:
        emulator = flux_emulator(replayer.models, replayer.settings, Faults())
        async with serve(emulator.handle, "127.0.0.1", 0, process_request=emulator.process_request) as srv:
            url = f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
            update = {"stt": "deepgram-flux", "stt_url": url, "detector": "native"}
            settings = replayer.settings.model_copy(update=update)
            return await Replayer(settings, realtime=True, models=replayer.models).run(load_scenario(path))

    result = asyncio.run(run())
    ends = [e for e in result.timeline.events if e["type"] == "turn_end"]
    assert len(ends) == 2 and {e["detector"] for e in ends} == {"native"}
    assert words(result.timeline.events) == local_words


def test_compare_runs_the_native_strategy_against_the_emulator(replayer, write, tmp_path) -> None:
    """`agent compare --detectors smart-turn,hybrid,native --stt deepgram-flux --stt-url ws://…`."""
    import json
    import threading

    from pipelines.cli import main

    path = write("two_turns.yaml", SCENARIO)
    ready: dict[str, Any] = {}
    stop = threading.Event()

    async def host() -> None:
        emulator = flux_emulator(replayer.models, replayer.settings, Faults())
        async with serve(emulator.handle, "127.0.0.1", 0, process_request=emulator.process_request) as srv:
            ready["url"] = f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
            while not stop.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=lambda: asyncio.run(host()), daemon=True)
    thread.start()
    while "url" not in ready:
        threading.Event().wait(0.05)
    out = tmp_path / "cmp"
    try:
        args = ["compare", str(path), "--detectors", "smart-turn,hybrid,native", "--out", str(out)]
        assert main([*args, "--stt", "deepgram-flux", "--stt-url", ready["url"]]) == 0
    finally:
        stop.set()
        thread.join(10)
    result = json.loads((out / "compare.json").read_text())
    assert set(result["replays"]) == {"smart-turn", "hybrid", "native"}
    assert set(result["detectors"]) == {"smart-turn", "hybrid"}  # native has no knobs to sweep
    assert result["replays"]["native"]["turn_ends"] == 2
    assert "native" in (out / "compare.html").read_text()
