"""`agent serve` on loopback, called over the real Twilio protocol: the webhook's signature, the
stream's token, bad streams, a full line, a barge-in whose clear reaches the caller, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets

from agent.phone.twiml import read_answer, signature
from agent.replay.scenario import load_scenario

from .conftest import ROOT

TOKEN = "test-auth-token"
SCENARIO = ROOT / "scenarios" / "12_barge_in_greeting.yaml"


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    out: Path

    def health(self) -> dict:
        return httpx.get(f"{self.url}/healthz", timeout=5).json()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    out = tmp_path_factory.mktemp("calls")
    port = free_port()
    command = [sys.executable, "-m", "pipelines.cli", "serve", "--port", str(port), "--max-calls", "2"]
    command += [
        "--scripted-replies",
        str(ROOT / "scenarios"),
        "--out",
        str(out),
        "--set",
        "phone.token_ttl_s=3",
    ]
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    s = Server(f"http://127.0.0.1:{port}", process, out)
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            s.health()
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "agent serve did not come up"
            time.sleep(0.5)
    yield s
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(30)


def webhook(server: Server, call_sid: str, sign_with: str | None = TOKEN, query: str = "") -> httpx.Response:
    url = f"{server.url}/twiml{query}"
    params = {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+15005550006",
        "To": "+15005550001",
    }
    headers = {"X-Twilio-Signature": signature(sign_with, url, params)} if sign_with else {}
    return httpx.post(url, data=params, headers=headers, timeout=10)


def wait_until_free(server: Server) -> None:
    deadline = time.monotonic() + 20
    while (h := server.health())["calls"] or h["on_their_way"]:
        assert time.monotonic() < deadline, h
        time.sleep(0.2)


def test_the_webhook_takes_only_twilios_signature(server: Server) -> None:
    assert webhook(server, "CA-unsigned", sign_with=None).status_code == 403
    assert webhook(server, "CA-forged", sign_with="not-the-token").status_code == 403
    good = webhook(server, "CA-signed")
    assert good.status_code == 200
    answer = read_answer(good.text)
    assert answer.stream_url == server.url.replace("http", "ws") + "/ws" and answer.parameters["token"]
    wait_until_free(server)  # its token expires unused


def test_past_max_calls_the_caller_is_told_politely_and_hung_up_on(server: Server) -> None:
    first, second, third = (webhook(server, f"CA-busy-{i}") for i in range(3))
    assert read_answer(first.text).stream_url and read_answer(second.text).stream_url
    busy = read_answer(third.text)
    assert busy.stream_url is None and busy.hangup and "busy" in busy.said
    assert server.health()["refused"] >= 1
    wait_until_free(server)


def test_a_call_over_the_real_protocol_with_a_barge_in(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "caller"
    env = {**os.environ, "TWILIO_AUTH_TOKEN": TOKEN}
    command = [
        sys.executable,
        "-m",
        "pipelines.cli",
        "call",
        server.url,
        "--scenario",
        str(SCENARIO),
        "--out",
        str(out),
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())["overall"]
    assert summary["calls_completed"] == 1 and summary["calls_failed"] == 0
    assert summary["missed_turns"] == 0 and summary["premature_cutoffs"] == 0
    assert summary["barge_in_attempts"] == 1 and summary["missed_barge_ins"] == 0
    assert summary["clears"] >= 1  # the interruption reached the phone as a clear
    timeline = json.loads((out / SCENARIO.stem / "timeline.json").read_text())
    clear_t = next(e["t"] for e in timeline["events"] if e["type"] == "clear_received")
    played = [m["name"] for m in timeline["marks"] if not m["cleared"] and m["t"] <= clear_t]
    cut = next(e for e in timeline["events"] if e["type"] == "playout_cut")
    assert played and cut["heard_marks"] == played  # heard: exactly the marks that came back
    interrupted = [m for m in timeline["context"] if m.get("interrupted")]
    heard = next(e for e in timeline["events"] if e["type"] == "bot_interrupted")["heard"]
    assert interrupted == [{"role": "assistant", "content": heard, "interrupted": True}]
    assert len(heard.split()) == len(played)
    assert "stolen card" in " ".join(m["content"] for m in timeline["context"] if m["role"] == "user")
    assert (out / SCENARIO.stem / "report.html").exists()
    wait_until_free(server)


async def _closed_with(server: Server, messages: list[str]) -> int | None:
    """Open a stream, send ``messages``, return the close code the server gave (None: open)."""
    async with websockets.connect(server.url.replace("http", "ws") + "/ws") as ws:
        for m in messages:
            await ws.send(m)
        try:
            await asyncio.wait_for(ws.recv(), 10)
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None
        except TimeoutError:
            return None


def _start(call_sid: str, token: str) -> str:
    start = {
        "streamSid": "MZbad",
        "callSid": call_sid,
        "accountSid": "AC1",
        "customParameters": {"token": token},
    }
    return json.dumps({"event": "start", "start": start})


def test_bad_streams_are_closed_and_a_call_alongside_goes_on_untouched(
    server: Server, tmp_path: Path
) -> None:
    from agent.phone.call_cli import place_calls

    connected = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    media = json.dumps({"event": "media", "media": {"payload": "/w=="}})
    dtmf = json.dumps({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": "5"}})

    async def go() -> tuple[dict, list[int | None]]:
        call = asyncio.create_task(place_calls(server.url, TOKEN, [load_scenario(SCENARIO)], 1, tmp_path))
        await asyncio.sleep(3.0)  # the call is under way
        token = read_answer(webhook(server, "CA-garbage").text).parameters["token"]
        codes = await asyncio.gather(
            _closed_with(server, [connected, _start("CA-tokenless", "no-such-token")]),
            _closed_with(server, [connected, media]),
            _closed_with(server, [connected, _start("CA-garbage", token), media, dtmf, "}{ not json"]),
        )
        return await call, list(codes)

    summary, codes = asyncio.run(go())
    assert codes == [1008, 1008, 1008]
    o = summary["overall"]
    assert o["calls_completed"] == 1 and o["calls_failed"] == 0 and o["missed_turns"] == 0
    assert o["turn_ends"] == 1 and o["clears"] >= 1
    assert next(iter(summary["calls"].values()))["server_problems"] == []
    wait_until_free(server)
    url = f"{server.url}/calls/CA-garbage"
    record = httpx.get(url, headers={"X-Twilio-Signature": signature(TOKEN, url, {})}, timeout=5).json()
    assert record["problems"][0].startswith("message is not JSON")
    assert [e["digit"] for e in record["events"] if e["type"] == "dtmf"] == ["5"]
    assert httpx.get(url, timeout=5).status_code == 403  # the server's records are not public


def test_sigterm_refuses_new_calls_and_lets_the_current_one_finish(server: Server, tmp_path: Path) -> None:
    from agent.phone.call_cli import place_calls

    async def go() -> dict:
        call = asyncio.create_task(place_calls(server.url, TOKEN, [load_scenario(SCENARIO)], 1, tmp_path))
        await asyncio.sleep(3.0)
        server.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert read_answer(webhook(server, "CA-late").text).stream_url is None  # draining: busy
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 503
        return await call

    summary = asyncio.run(go())
    assert summary["overall"]["calls_completed"] == 1 and summary["overall"]["turn_ends"] == 1
    assert server.process.wait(30) == 0  # it quit once the call was over
