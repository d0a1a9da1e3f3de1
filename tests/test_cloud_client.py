"""The cloud recogniser client on its own: scripted provider sessions (no emulator, no network)
say what a provider would at given media times, to pin down how the client reconnects, replays
and reconciles."""

from __future__ import annotations

import asyncio

import pytest


class _Session:
    """A provider session whose link is broken (every send fails) or sound."""

    name = "test"
    clock = "session"
    finals_at_turn_end = False

    def __init__(self, broken: bool) -> None:
        self.broken = broken
        self.sent = 0
        self.events: asyncio.Queue = asyncio.Queue()

    def advance(self, t: float) -> None:
        return None

    async def connect(self) -> None:
        return None

    async def send(self, pcm: bytes) -> None:
        if self.broken:
            raise ConnectionError("link down")
        self.sent += 1

    async def finalize(self) -> None:
        return None

    async def close(self) -> None:
        """Like a provider's close: its goodbye comes last."""
        from agent.cloud.provider import CloudClosed

        self.events.put_nowait(CloudClosed("closed", clean=True))


def _mic(plan: list):
    """A scripted microphone: passes the audio on, then the tick's clock."""
    from pipecat.frames.frames import InputAudioRawFrame

    from tests.drive import Script

    class Mic(Script):
        async def process_frame(self, frame, direction) -> None:
            if isinstance(frame, InputAudioRawFrame):
                await self.push_frame(frame, direction)
            await super().process_frame(frame, direction)

    return Mic(plan)


def test_a_link_lost_while_the_backlog_is_replayed_is_tried_again(replayer) -> None:

    from agent.cloud.stt import CloudSTTProcessor
    from agent.events import Timeline
    from tests.drive import drive

    sessions = [_Session(broken=True), _Session(broken=False)]
    made: list[_Session] = []

    def connect() -> _Session:
        made.append(sessions[len(made)])
        return made[-1]

    timeline = Timeline()
    fast = replayer.settings.cloud.model_copy(update={"backoff_first_s": 0.001})
    stt = CloudSTTProcessor(connect, fast, timeline, enable_direct_mode=True)
    drive(_mic([]), [stt], seconds=2.0)
    states = [(e["state"], e.get("reason", "")) for e in timeline.events if e["type"] == "stt_connection"]
    assert states[0] == ("reconnecting", "lost while replaying: ConnectionError")
    assert states[-1][0] == "connected" and len(made) == 2 and sessions[1].sent > 0


class _Scripted(_Session):
    """A sound session that says scripted things when media time reaches them."""

    def __init__(self, plan: list[tuple[float, object]]) -> None:
        super().__init__(broken=False)
        self.plan = sorted(plan, key=lambda p: p[0])

    def advance(self, t: float) -> None:
        while self.plan and self.plan[0][0] <= t + 1e-9:
            self.events.put_nowait(self.plan.pop(0)[1])


def test_a_replay_that_reads_a_final_turn_again_keeps_recovering_the_next_one(replayer) -> None:
    """Flux, replayed from before a turn that is final already ("no stop"): the new session ends
    that turn again, then reads the turn the lost session was in. Its re-read end of turn must
    not wipe what the lost session had heard, or two sessions never agree on the next turn, and
    a link that drops before each of its ends loses it (seen in 17_interruptions)."""
    from pipecat.frames.frames import VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame

    from agent.cloud.provider import CloudClosed, CloudTurn, CloudWords
    from agent.cloud.stt import CloudSTTProcessor
    from agent.events import Timeline, Word
    from tests.drive import drive

    no_stop = (Word("no", 1.0, 1.2), Word("stop", 1.2, 1.6))
    actually = [Word("actually", 2.0, 2.4), Word("i", 2.4, 2.5), Word("meant", 2.5, 2.8)]
    first = _Scripted(
        [
            (1.8, CloudWords(no_stop, ())),
            (1.8, CloudTurn("end", 0)),
            (3.0, CloudWords((), (*actually, Word("next", 2.8, 3.0)))),
            (3.1, CloudClosed("dropped")),
        ]
    )
    second = _Scripted(
        [
            (3.3, CloudWords(no_stop, ())),  # replayed from before "no stop": ended again
            (3.3, CloudTurn("end", 0)),
            (3.5, CloudWords((), (*actually, Word("next", 2.8, 3.05), Word("friday", 3.05, 3.3)))),
        ]
    )
    sessions = [first, second]
    for s in sessions:
        s.finals_at_turn_end = True
    frames = []
    for t, kind, edge in [(1.0, VADUserStartedSpeakingFrame, 1.0), (1.7, VADUserStoppedSpeakingFrame, 1.6)]:
        frame = kind()
        frame.metadata["edge"] = edge
        frames.append((t, frame))
    again = VADUserStartedSpeakingFrame()
    again.metadata["edge"] = 2.0
    timeline = Timeline()
    fast = replayer.settings.cloud.model_copy(update={"backoff_first_s": 0.001, "brief_s": 0.0})
    stt = CloudSTTProcessor(lambda: sessions.pop(0), fast, timeline, enable_direct_mode=True)
    drive(_mic([*frames, (2.0, again)]), [stt], seconds=4.0)
    finals = [e["text"] for e in timeline.events if e["type"] == "final"]
    assert finals == ["no stop", "actually i meant"]


@pytest.mark.parametrize(("heard_to", "replayed"), [(0.5, True), (1.5, False), (1.9, False)])
def test_an_end_of_turn_clears_the_replay_only_once_the_speech_was_heard(
    replayer, heard_to, replayed
) -> None:
    """Speech from 1.0 to 2.0 s; the provider ends a turn whose words reach ``heard_to``, then
    the link drops. An end about older audio (a replayed backlog still being read) must not
    count the new speech as final: the next session is sent it again. An end whose words reach
    into the speech does, even when the last word ends well before the VAD's edge (otherwise
    every replay starts from that speech again, and a link that drops often never catches up)."""
    from pipecat.frames.frames import (
        VADUserStartedSpeakingFrame,
        VADUserStoppedSpeakingFrame,
    )

    from agent.cloud.provider import CloudClosed, CloudTurn, CloudWords
    from agent.cloud.stt import CloudSTTProcessor
    from agent.events import Timeline, Word
    from tests.drive import drive

    started, stopped = VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame()
    started.metadata["edge"], stopped.metadata["edge"] = 1.0, 2.0
    first = _Scripted(
        [
            (2.4, CloudWords((), (Word("hello", heard_to - 0.3, heard_to),))),
            (2.4, CloudTurn("end", 0)),
            (3.0, CloudClosed("dropped")),
        ]
    )
    sessions = [first, _Scripted([])]

    timeline = Timeline()
    # No session counts as brief: the rule must not lean on how long a session lived.
    fast = replayer.settings.cloud.model_copy(update={"backoff_first_s": 0.001, "brief_s": 0.0})
    stt = CloudSTTProcessor(lambda: sessions.pop(0), fast, timeline, enable_direct_mode=True)
    drive(_mic([(1.0, started), (2.0, stopped)]), [stt], seconds=4.0)
    connected = [e for e in timeline.events if e["type"] == "stt_connection" and e["state"] == "connected"]
    assert len(connected) == 2
    assert (connected[1]["replay_from"] <= 1.0) == replayed


def test_an_end_of_turn_about_the_replayed_backlog_is_no_flush(replayer) -> None:
    """The link drops during speech B, before its words are final. The new session is sent A
    and B again, with a finalise request where each live stop had one, and first ends the turn
    about A. That end is not a flush: taken as one, it let the turn end on "my number is 415 555"
    while "00123" was still being read (AssemblyAI, 04_phone_number, drop seed 15). Its end
    about B, once B's words are in, is one."""
    from agent.cloud.provider import CloudClosed, CloudTurn, CloudWords
    from agent.cloud.stt import CloudSTTProcessor
    from agent.events import Timeline, Word
    from agent.frames import AsrFlushedFrame, media_time
    from tests.drive import drive

    a = (Word("my", 0.6, 0.9), Word("number", 0.9, 1.4))
    b = (Word("0", 2.1, 2.5), Word("1", 2.5, 2.9))
    first = _Scripted([(1.7, CloudWords(a, ())), (1.7, CloudTurn("end", 0)), (2.5, CloudClosed("dropped"))])
    second = _Scripted(
        [
            (3.4, CloudWords(a, ())),  # the backlog read again, up to the replayed stop after A
            (3.4, CloudTurn("end", 0)),
            (4.0, CloudWords(b, ())),
            (4.0, CloudTurn("end", 1)),
        ]
    )
    sessions = [first, second]
    plan = _vad_plan(((0.5, 1.5), (2.0, 3.0)))
    timeline = Timeline()
    fast = replayer.settings.cloud.model_copy(update={"backoff_first_s": 0.001, "brief_s": 0.0})
    stt = CloudSTTProcessor(lambda: sessions.pop(0), fast, timeline, enable_direct_mode=True)
    flushes = _collect(AsrFlushedFrame)
    drive(_mic(plan), [stt, flushes], seconds=4.5)
    assert [e["text"] for e in timeline.events if e["type"] == "final"] == ["my number", "0 1"]
    assert [media_time(f) for f in flushes.frames] == pytest.approx([1.7, 4.0], abs=0.03)


def test_the_turn_logic_hears_of_every_reconnect(replayer) -> None:
    """Each lost session is a link down, and each new one a link up with its backlog, the first
    reconnect too (it was left out, so after a first drop the wait for finals never ran again)."""
    from agent.cloud.provider import CloudClosed
    from agent.cloud.stt import CloudSTTProcessor
    from agent.events import Timeline
    from agent.frames import RecogniserLinkFrame
    from tests.drive import drive

    sessions = [_Scripted([(1.0, CloudClosed("dropped"))]), _Scripted([(2.0, CloudClosed("dropped"))])]
    sessions.append(_Scripted([]))
    timeline = Timeline()
    fast = replayer.settings.cloud.model_copy(update={"backoff_first_s": 0.001})
    stt = CloudSTTProcessor(lambda: sessions.pop(0), fast, timeline, enable_direct_mode=True)
    links = _collect(RecogniserLinkFrame)
    drive(_mic([]), [stt, links], seconds=3.0)
    assert [f.up for f in links.frames] == [False, True, False, True]
    assert all(f.backlog_s > 0 for f in links.frames if f.up)
    assert len(stt.reconnects) == 2


def test_a_session_that_read_its_backlog_again_keeps_the_context_of_the_next_replay(replayer) -> None:
    """Speech A, B, C, with pauses short enough to be one run. The first session makes A and B
    final and drops during C. The second is sent the run from before A, reads A and B again
    (nothing new) and drops. It did read its backlog, so the third is sent the run again, context
    included, not C alone: Nova-3's emulator read a bare "00123" as "0 1 2" (04, drop seed 15)."""
    from agent.cloud.provider import CloudClosed, CloudWords
    from agent.cloud.stt import CloudSTTProcessor
    from agent.events import Timeline, Word
    from tests.drive import drive

    a, b = (Word("my", 0.6, 0.9), Word("number", 0.9, 1.4)), (Word("is", 2.1, 2.9),)
    first = _Scripted([(1.7, CloudWords(a, ())), (3.2, CloudWords(b, ())), (3.8, CloudClosed("dropped"))])
    second = _Scripted([(4.2, CloudWords(a, ())), (4.3, CloudWords(b, ())), (4.6, CloudClosed("dropped"))])
    sessions = [first, second, _Scripted([])]
    plan = _vad_plan(((0.5, 1.5), (2.0, 3.0), (3.5, 4.5)))
    timeline = Timeline()
    fast = replayer.settings.cloud.model_copy(update={"backoff_first_s": 0.001, "brief_s": 0.0})
    stt = CloudSTTProcessor(lambda: sessions.pop(0), fast, timeline, enable_direct_mode=True)
    drive(_mic(plan), [stt], seconds=5.0)
    starts = [
        e["replay_from"]
        for e in timeline.events
        if e["type"] == "stt_connection" and e["state"] == "connected"
    ]
    assert len(starts) == 3 and starts[1] <= 0.5 and starts[2] <= 0.5
    assert [e["text"] for e in timeline.events if e["type"] == "final"] == ["my number", "is"]


def _collect(kind: type):
    """A processor that keeps the frames of type ``kind`` passing through it (in ``frames``)."""
    from pipecat.processors.frame_processor import FrameProcessor

    class Collect(FrameProcessor):
        def __init__(self) -> None:
            super().__init__(enable_direct_mode=True)
            self.frames: list = []

        async def process_frame(self, frame, direction) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, kind):
                self.frames.append(frame)
            await self.push_frame(frame, direction)

    return Collect()


def _vad_plan(spans: tuple[tuple[float, float], ...]) -> list:
    """A script of the VAD's start and stop frames, with their edges, for speech at ``spans``."""
    from pipecat.frames.frames import VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame

    plan: list = []
    for onset, end in spans:
        started, stopped = VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame()
        started.metadata["edge"], stopped.metadata["edge"] = onset, end
        plan += [(onset, started), (end, stopped)]
    return plan
