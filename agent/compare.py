"""``agent compare``: the same scenarios replayed once per end-of-turn strategy, side by side.

For each strategy the scenarios are replayed with it (``OUT/<strategy>/``, the usual outputs),
then every strategy's knobs are swept on the same labelled pauses (the end-of-turn manifest of
the first replay), and ``OUT/compare.html`` and ``OUT/compare.json`` show both.

Strategies are the local detectors (``silence``, ``smart-turn``, ``hybrid``). The cloud
providers' native end-of-turn joins them once their adapters exist; asking for one now is a
one-line error, not a silent skip.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from agent.eot.evaluate import DETECTORS, summarize, sweep
from agent.eot.evidence import gather, stream_words
from agent.eot.manifest import ManifestError, load_manifest
from agent.eot.names import DETECTOR_NAMES
from agent.options import apply_stt, live_provider
from agent.report.compare_html import render
from agent.settings import Settings, with_overrides

LOCAL = DETECTOR_NAMES


def compare(args: argparse.Namespace) -> int:
    from agent.models import Models
    from agent.replay.batch import replay_all
    from agent.replay.scenario import find_scenarios

    names = [n.strip() for n in args.detectors.split(",") if n.strip()]
    available = LOCAL + (("native",) if (args.stt or "local") != "local" else ())
    unknown = [n for n in names if n not in available]
    if unknown or not names:
        print(
            f"agent: --detectors {','.join(unknown) or '(none)'}: available are {', '.join(available)} "
            "(native needs a cloud --stt)",
            file=sys.stderr,
        )
        return 2
    try:
        base = apply_stt(with_overrides(Settings(), args.set), args)
        paths = find_scenarios(args.path)
        models = Models.load(base)
        replays: dict[str, Any] = {}
        for name in names:
            settings = base.model_copy(update={"detector": name})
            print(f"== {name}", file=sys.stderr, flush=True)
            realtime = live_provider(settings)
            summary = asyncio.run(
                replay_all(paths, args.out / name, settings, realtime=realtime, models=models)
            )
            replays[name] = summary["overall"]
        manifest = args.out / names[0] / "eot_manifest.jsonl"
        items = load_manifest(manifest)
        evidence, _ = gather(
            items, models.smart_turn.probability, lambda a: stream_words(a, models.whisper, base)
        )
        # native has no knobs here to sweep: it shows in the table, from its replay
        detectors = {n: summarize(sweep(evidence, DETECTORS[n]())) for n in names if n in DETECTORS}
    except (ValueError, RuntimeError, OSError, ManifestError) as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    counts = {"hold": sum(i.label == "hold" for i in items), "eot": sum(i.label == "eot" for i in items)}
    result = {"pauses": counts, "replays": replays, "detectors": detectors}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compare.json").write_text(json.dumps(result, indent=1))
    (args.out / "compare.html").write_text(render(replays, detectors, counts, os.fspath(args.path)))
    for n in names:
        o, d = replays[n], detectors.get(n, {})
        print(
            f"{n:11s} eot p50 {o['eot_latency_ms']['p50']} ms, cutoffs {o['premature_cutoffs']}; "
            f"sweep: cutoff@300ms {d.get('cutoff_at_300ms')} cutoff@600ms {d.get('cutoff_at_600ms')} "
            f"latency@5% {d.get('latency_at_5pct_cutoff_ms')} ms"
        )
    print(f"Report: {args.out}/compare.html")
    return 0
