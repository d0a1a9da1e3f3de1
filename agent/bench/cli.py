"""Command-line front of the benchmarks (``agent bench ...``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from agent.asr.whisper_model import WhisperRecognizer
from agent.bench.asr import bench_file, overall, soak
from agent.media import AudioError
from agent.settings import Settings, with_overrides


def _reference(path: Path, ref: str | None, single: bool) -> str | None:
    if ref is not None:
        return ref
    sidecar = path.with_suffix(".txt")
    return sidecar.read_text(encoding="utf-8") if sidecar.is_file() else None


def bench_asr(args: argparse.Namespace) -> int:
    if args.ref is not None and len(args.audio) != 1:
        print("agent: --ref is the text of a single file; give one audio file with it", file=sys.stderr)
        return 2
    try:
        settings = with_overrides(Settings(), args.set)
    except ValueError as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    if args.chunk_s is not None:
        settings.streaming.chunk_s = args.chunk_s
    try:
        whisper = WhisperRecognizer(settings.whisper)
        if args.loop_minutes:
            result: dict[str, Any] = {
                "soak": asyncio.run(soak(args.audio, args.loop_minutes, whisper, settings))
            }
        else:
            per = {}
            for path in args.audio:
                ref = _reference(path, args.ref, len(args.audio) == 1)
                per[str(path)] = asyncio.run(bench_file(path, ref, whisper, settings))
                f = per[str(path)]
                print(
                    f"{path.name}: wer {f['wer']} (batch {f['batch_wer']}), vs batch {f['wer_vs_batch']}, "
                    f"latency p50 {f['final_latency_ms']['p50']} ms p95 {f['final_latency_ms']['p95']} ms, "
                    f"rtf {f['rtf']}, revisions {f['revisions']}",
                    file=sys.stderr,
                )
            result = {"overall": overall(per), "files": per}
            for f in per.values():
                for key in [k for k in f if k.startswith("_")]:
                    del f[key]
    except (AudioError, OSError) as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    result["settings"] = {
        "whisper": settings.whisper.model_dump(),
        "streaming": settings.streaming.model_dump(),
        "vad": settings.vad.model_dump(),
    }
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    print(json.dumps(result.get("overall", result.get("soak")), indent=1))
    return 0


def bench_stt_faults(args: argparse.Namespace) -> int:
    from agent.bench.cloud import bench_faults
    from agent.cloud.emulator.faults import parse_range

    try:
        drop = parse_range(args.drop_every)
        result = asyncio.run(
            bench_faults(args.provider, args.scenarios, args.runs, drop, args.stall_at, args.timelines)
        )
    except (ValueError, OSError) as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    r = result["reconnect_ms"]
    print(
        f"{result['provider']}: {result['runs']} runs, {result['runs_with_other_text']} with finals unlike "
        f"the fault-free run's ({result['runs_with_lost_or_doubled_words']} flagged by word times); "
        f"reconnect p50 {r['p50']} ms, p95 {r['p95']} ms ({r['count']} reconnects)"
    )
    # The verdict is the text: word times move when a reconnect shifts the conversation.
    return 0 if result["runs_with_other_text"] == 0 else 1


def bench_phone_load(args: argparse.Namespace) -> int:
    from agent.bench.phone_load import bench_phone_load as run

    try:
        counts = [int(n) for n in args.calls.split(",")]
    except ValueError:
        print(f"agent: --calls {args.calls!r}: expected numbers like 1,2,4", file=sys.stderr)
        return 2
    if not counts or min(counts) < 1:
        print(f"agent: --calls {args.calls!r}: each count must be at least 1", file=sys.stderr)
        return 2
    extra = [x for item in args.set for x in ("--set", item)]
    try:
        result = run(args.scenario, counts, args.out, args.stt, extra, together=args.together)
    except (RuntimeError, ValueError, OSError) as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    for r in result["runs"]:
        v2v = r["voice_to_voice_ms"]
        cpu = ", ".join(
            f"{k} {p['cores']} cores, +{p['rss_per_call_mb']} MB/call" for k, p in r["processes"].items()
        )
        print(
            f"{r['calls']} calls (every {r['stagger_s']} s): {r['calls_pooled']} pooled, "
            f"{r['calls_failed']} failed; voice-to-voice "
            f"p50 {v2v['p50']} ms, p95 {v2v['p95']} ms; {cpu}; caller late ticks {r['caller_late_ticks']}"
        )
    return 0


def bench_pipeline(args: argparse.Namespace) -> int:
    from agent.bench.machine import cpu_model
    from agent.bench.pipeline import BenchError, run, table

    missing = [str(p) for p in args.scenarios if not p.exists()]
    if missing:
        print(f"agent: bench pipeline: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    extra = [x for item in args.set for x in ("--set", item)]
    try:
        result = run(list(args.scenarios), args.baseline, extra)
    except (BenchError, OSError, ValueError) as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    result = {"cpu": cpu_model(), **result}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    print(f"CPU: {result['cpu']}")
    for name, why in result["left_out"].items():
        print(f"left out (the baseline cannot read it): {name}: {why}")
    print(table(result["runs"]))
    runs = result["runs"]
    if "baseline" in runs:
        old, new = (runs[k]["compute_per_audio_second"]["total"] for k in ("baseline", "current"))
        print(f"total compute per audio second: {new / old:.0%} of the baseline's" if old else "")
    return 0


def bench_emulator_soak(args: argparse.Namespace) -> int:
    from agent.bench.emulator_soak import soak
    from agent.progress import Progress
    from agent.tts.piper_voice import PiperSynth

    if args.minutes <= 0 or args.sessions < 1 or args.garbage_every < 0:
        print("agent: --minutes must be > 0, --sessions >= 1, --garbage-every >= 0", file=sys.stderr)
        return 2
    speech = PiperSynth().synthesize("What time does the pharmacy open tomorrow?").audio
    progress = Progress(f"emulator soak: {args.provider}", round(args.minutes * 60), "s", every_s=60.0)
    try:
        result = asyncio.run(
            soak(args.provider, args.minutes, args.sessions, args.garbage_every, speech, progress.update_to)
        )
    except RuntimeError as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    progress.close()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=1))
    return 0 if result["emulator_alive"] else 1


def bench_web(args: argparse.Namespace) -> int:
    from agent.bench.machine import cpu_model
    from agent.bench.web import BenchError, run, table

    modes = args.processing or ["aec", "aec,ns,agc", "none"]
    bad = [m for m in modes if m != "none" and not set(m.split(",")) <= {"aec", "ns", "agc"}]
    if bad:
        print(
            f"agent: bench web: --processing {bad[0]}: expected a list of aec, ns, agc, or none",
            file=sys.stderr,
        )
        return 2
    try:
        settings = with_overrides(Settings(), args.set)
        result = {"cpu": cpu_model(), **run(list(args.scenarios), modes, settings)}
    except (BenchError, OSError, ValueError) as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(f"CPU: {result['cpu']}; {len(result['scenarios'])} scenarios")
    for name, why in result["left_out"].items():
        print(f"left out: {name}: {why}")
    print(table(result))
    return 0
