"""``agent bench asr``: streamed finals against batch Whisper, with latency, speed and memory.

Each file is streamed through the product's own processors (Silero VAD -> streaming Whisper with
LocalAgreement-2) in 20 ms chunks, in lockstep on the media clock, then transcribed once more
with plain faster-whisper on the whole file (same model) for comparison. Figures per file and
``overall``:

- ``wer`` / ``batch_wer``: word error rate of the streamed finals / of the batch transcript
  against the reference (``--ref``, or a ``.txt`` beside the audio with the same stem); null when
  there is none. ``wer_vs_batch`` compares the two transcripts with each other.
- ``final_latency_ms``: per word, the live time it was committed (media time plus compute) minus
  the time it ended in the audio; ``p50``, ``p95``.
- ``rtf``: compute seconds (VAD + recogniser) per audio second.
- ``revisions``: committed words that ever changed afterwards (the ledger must make this 0).
- ``peak_rss_mb``: the process's peak resident memory.

``--loop-minutes M`` instead streams the files end to end, repeated, for M minutes of audio, and
reports memory once per media minute and the largest audio buffer (a soak test).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agent.asr.streaming import StreamingRecognizer
from agent.asr.streaming_stt import StreamingSTTProcessor
from agent.asr.whisper_model import WhisperRecognizer
from agent.events import Timeline
from agent.lockstep import Lockstep
from agent.media import SAMPLE_RATE, load_audio
from agent.progress import Progress
from agent.replay.metrics import percentiles
from agent.settings import Settings
from agent.vad import SileroVoice, VADProcessor
from agent.wer import edit_distance, normalize, wer

CHUNK = SAMPLE_RATE // 50  # 20 ms
TAIL_S = 1.0  # silence fed after the audio so the VAD stops and the tail is finalised


def rss_mb() -> float:
    """Current resident memory of this process (MB), from /proc."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StreamRun:
    """One file (or a looped stream) through VAD + streaming STT, with what it produced."""

    def __init__(self, whisper: WhisperRecognizer, settings: Settings) -> None:
        self.timeline = Timeline()
        self.vad = VADProcessor(SileroVoice(), settings.vad, self.timeline, enable_direct_mode=True)
        self.recognizer = StreamingRecognizer(
            whisper.decode_window,
            settings.streaming,
            whisper.final_decoder(settings.streaming.flush_beam_size),
        )
        self.stt = StreamingSTTProcessor(self.recognizer, self.timeline, enable_direct_mode=True)
        self.max_buffer_s = 0.0

    async def stream(
        self, audio: np.ndarray, on_minute: Any = None, progress: Progress | None = None
    ) -> None:
        padded = np.concatenate([audio, np.zeros(int(TAIL_S * SAMPLE_RATE), np.float32)])
        async with Lockstep([self.vad, self.stt]) as line:
            for i in range(0, len(padded), CHUNK):
                await line.feed(padded[i : i + CHUNK])
                self.max_buffer_s = max(self.max_buffer_s, self.recognizer.buffer_seconds)
                if on_minute is not None and (i + CHUNK) % (60 * SAMPLE_RATE) < CHUNK:
                    on_minute((i + CHUNK) // (60 * SAMPLE_RATE))
                if progress is not None and (i + CHUNK) % SAMPLE_RATE < CHUNK:
                    progress.update_to(min(len(audio), i + CHUNK) / SAMPLE_RATE)

    def finals(self) -> list[dict[str, Any]]:
        return [e for e in self.timeline.events if e["type"] == "final"]

    def text(self) -> str:
        return " ".join(e["text"] for e in self.finals())

    def latencies_ms(self) -> list[float]:
        return [1000 * (e["t_live"] - w["end"]) for e in self.finals() for w in e["words"]]

    def revisions(self) -> int:
        """Words emitted as final that differ from the ledger at the end (must be 0): every
        final was recorded in the timeline when it was emitted, so a later edit shows here."""
        ledger = self.recognizer.committed
        emitted = [(w["w"], w["start"], w["end"]) for e in self.finals() for w in e["words"]]
        now = [(w.text, round(w.start, 3), round(w.end, 3)) for w in ledger]
        return sum(1 for a, b in zip(emitted, now, strict=False) if a != b) + abs(len(emitted) - len(now))

    def compute_s(self) -> float:
        return self.vad.stage.compute_seconds + self.stt.stage.compute_seconds


async def bench_file(
    path: Path, ref: str | None, whisper: WhisperRecognizer, settings: Settings
) -> dict[str, Any]:
    audio = load_audio(path)
    seconds = len(audio) / SAMPLE_RATE
    whisper.warm_up(audio[: 8 * SAMPLE_RATE])
    run = StreamRun(whisper, settings)
    streaming = Progress(f"bench asr: {path.name} streaming", round(seconds, 1), "s of audio")
    await run.stream(audio, progress=streaming)
    streaming.close()
    began = time.perf_counter()
    batch_progress = Progress(f"bench asr: {path.name} batch", round(seconds, 1), "s of audio")
    batch = " ".join(w.text for w in whisper.transcribe_plain(audio, batch_progress.update_to))
    batch_progress.close()
    batch_s = time.perf_counter() - began
    text = run.text()
    lat = run.latencies_ms()
    return {
        "audio_seconds": round(seconds, 2),
        "words": len(normalize(text)),
        "wer": _round(wer(ref, text)) if ref else None,
        "batch_wer": _round(wer(ref, batch)) if ref else None,
        "wer_vs_batch": _round(wer(batch, text)),
        "final_latency_ms": percentiles(lat),
        "rtf": round(run.compute_s() / seconds, 3),
        "batch_rtf": round(batch_s / seconds, 3),
        "revisions": run.revisions(),
        "decodes": run.recognizer.decodes,
        "decode_ms_mean": round(1000 * run.stt.stage.compute_seconds / max(1, run.recognizer.decodes), 1),
        "max_buffer_s": round(run.max_buffer_s, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "text": text,
        "batch_text": batch,
        "_lat": lat,
        "_ref_words": len(normalize(ref)) if ref else 0,
        "_errors": (edit_distance(normalize(ref), normalize(text)) if ref else 0),
        "_batch_errors": (edit_distance(normalize(ref), normalize(batch)) if ref else 0),
        "_compute": run.compute_s(),
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def overall(per: dict[str, dict[str, Any]]) -> dict[str, Any]:
    files = list(per.values())
    ref_words = sum(f["_ref_words"] for f in files)
    seconds = sum(f["audio_seconds"] for f in files)
    return {
        "files": len(files),
        "audio_seconds": round(seconds, 2),
        "wer": round(sum(f["_errors"] for f in files) / ref_words, 4) if ref_words else None,
        "batch_wer": round(sum(f["_batch_errors"] for f in files) / ref_words, 4) if ref_words else None,
        "wer_vs_batch": _mean([f["wer_vs_batch"] for f in files]),
        "final_latency_ms": percentiles([v for f in files for v in f["_lat"]]),
        "rtf": round(sum(f["_compute"] for f in files) / seconds, 3) if seconds else None,
        "revisions": sum(f["revisions"] for f in files),
        "peak_rss_mb": max(f["peak_rss_mb"] for f in files),
    }


def _mean(values: list[float | None]) -> float | None:
    real = [v for v in values if v is not None]
    return round(sum(real) / len(real), 4) if real else None


async def soak(
    paths: Sequence[Path], minutes: float, whisper: WhisperRecognizer, settings: Settings
) -> dict[str, Any]:
    """Stream the files end to end, repeated to ``minutes`` of audio; memory once a minute."""
    pieces = [load_audio(p) for p in paths]
    one = np.concatenate(pieces)
    whisper.warm_up(one[: 8 * SAMPLE_RATE])
    reps = int(np.ceil(minutes * 60 * SAMPLE_RATE / len(one)))
    audio = np.tile(one, reps)[: int(minutes * 60 * SAMPLE_RATE)]
    rss: list[float] = []
    run = StreamRun(whisper, settings)
    began = time.perf_counter()
    await run.stream(audio, on_minute=lambda m: rss.append(round(rss_mb(), 1)))
    wall = time.perf_counter() - began
    return {
        "audio_minutes": round(len(audio) / SAMPLE_RATE / 60, 2),
        "rss_mb_per_minute": rss,
        "rss_growth_after_first_minute_mb": round(max(rss) - rss[0], 1) if rss else None,
        "max_buffer_s": round(run.max_buffer_s, 2),
        "revisions": run.revisions(),
        "words": len(normalize(run.text())),
        "final_latency_ms": percentiles(run.latencies_ms()),
        "rtf": round(run.compute_s() / (len(audio) / SAMPLE_RATE), 3),
        "decode_ms_mean": round(1000 * run.stt.stage.compute_seconds / max(1, run.recognizer.decodes), 1),
        "wall_seconds": round(wall, 1),
    }
