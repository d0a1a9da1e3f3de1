"""The emulators answer malformed input as the providers do (their error message, then close, or
a refusal at the handshake), never with a traceback; replies are checked with the SDK's types."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import numpy as np
import pytest
from deepgram.listen.v2.types import ListenV2ConfigureFailure, ListenV2ConfigureSuccess
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

from agent.cloud.emulator.deepgram_flux import flux_emulator
from agent.cloud.emulator.deepgram_nova import DeepgramNovaEmulator
from agent.cloud.emulator.faults import Faults
from agent.media import to_pcm16

FLUX = "/v2/listen?model=flux-general-en&encoding=linear16&sample_rate=16000"
NOVA = "/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000"


async def _talk(emulator: Any, path: str, send: list[str | bytes]) -> tuple[list[dict[str, Any]], int | None]:
    """Open ``path`` as a raw websocket client, send each item, then CloseStream; returns the
    JSON messages received and the close code."""
    got: list[dict[str, Any]] = []
    async with serve(emulator.handle, "127.0.0.1", 0, process_request=emulator.process_request) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}{path}"
        async with connect(url, additional_headers={"Authorization": "Token k"}) as ws:
            for item in send:
                await ws.send(item)
            await ws.send(json.dumps({"type": "CloseStream"}))
            try:
                async for message in ws:
                    got.append(json.loads(message))
            except ConnectionClosed:
                pass
            return got, ws.close_code


def test_flux_refuses_bad_thresholds_with_configure_failure_and_keeps_the_stream(replayer, caplog) -> None:
    emulator = flux_emulator(replayer.models, replayer.settings, Faults(), api_key="k")
    silence = to_pcm16(np.zeros(1600, np.float32))
    configure = [
        {"type": "Configure", "thresholds": "x"},
        {"type": "Configure", "thresholds": {"eot_threshold": "abc"}},
        {"type": "Configure", "thresholds": {"eot_threshold": 0.2}},
        {"type": "Configure", "thresholds": {"eot_threshold": 0.8}},
    ]
    with caplog.at_level(logging.WARNING):
        got, code = asyncio.run(
            _talk(emulator, FLUX, [silence, *[json.dumps(c) for c in configure], silence])
        )
    replies = [m for m in got if m["type"].startswith("Configure")]
    failures = [ListenV2ConfigureFailure.model_validate(m) for m in replies[:3]]
    assert [f.description for f in failures] == [
        "thresholds must be an object, got str",
        "eot_threshold must be a number from 0.5 to 1, got 'abc'",
        "eot_threshold must be a number from 0.5 to 1, got 0.2",
    ]
    success = ListenV2ConfigureSuccess.model_validate(replies[3])
    assert success.thresholds.eot_threshold == 0.8
    assert code == 1000 and not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("path", [NOVA, FLUX])
def test_a_frame_that_ends_mid_sample_is_completed_by_the_next(path: str, replayer) -> None:
    maker = DeepgramNovaEmulator if path == NOVA else flux_emulator
    emulator = maker(replayer.models, replayer.settings, Faults(), api_key="k")
    pcm = to_pcm16(np.zeros(16000, np.float32))
    got, code = asyncio.run(_talk(emulator, path, [pcm[:3201], pcm[3201:9999], pcm[9999:]]))
    assert code == 1000
    if path == NOVA:
        assert got[-1]["type"] == "Metadata" and got[-1]["duration"] == 1.0
    else:
        assert max(m.get("audio_window_end", 0) for m in got) == 1.0


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("sample_rate=0", "sample_rate must be an integer from 8000 to 48000, got '0'"),
        ("sample_rate=abc", "sample_rate must be an integer from 8000 to 48000, got 'abc'"),
        ("sample_rate=16000&eot_threshold=abc", "eot_threshold must be a number from 0.5 to 1, got 'abc'"),
        (
            "sample_rate=16000&eot_timeout_ms=5",
            "eot_timeout_ms must be an integer from 500 to 60000, got '5'",
        ),
    ],
)
def test_a_bad_query_is_refused_at_the_handshake_with_http_400(query: str, says: str, replayer) -> None:
    emulator = flux_emulator(replayer.models, replayer.settings, Faults(), api_key="k")

    async def run() -> Any:
        async with serve(emulator.handle, "127.0.0.1", 0, process_request=emulator.process_request) as server:
            url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/v2/listen?{query}"
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, additional_headers={"Authorization": "Token k"}):
                    pass
            return refused.value.response

    response = asyncio.run(run())
    assert response.status_code == 400
    assert json.loads(response.body)["err_msg"] == says
    assert emulator.sessions == 0


def test_a_short_soak_keeps_the_emulator_serving(voice) -> None:
    """The soak bench end to end, briefly: an emulator process takes rounds of sessions, a
    quarter of them sending garbage, stays up, and its memory is measured alone."""
    from agent.bench.emulator_soak import soak

    speech = voice.synthesize("What time does the pharmacy open?").audio
    result = asyncio.run(soak("deepgram-flux", 0.05, sessions=4, garbage_every=2, speech=speech))
    assert result["emulator_alive"] and result["refused"] == 0
    assert result["sessions"] >= 4 and len(result["rounds"]) >= 1
    assert result["baseline_mb"] > 100 and result["end_mb"] > 100  # the child's own resident set
