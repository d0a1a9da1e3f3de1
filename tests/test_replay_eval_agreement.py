"""One truth for replay and evaluation: on every bundled scenario, ``agent eot-eval`` at the
default settings fires where the replay's own turn controller did (within one 0.1 s step), and
every pause where they differ has a reason the evaluation cannot know of by design.

It replays the whole bundled set, so it is also the quickstart's check: every scenario's
expectations hold."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from agent.eot.agreement import compare
from agent.eot.evaluate import own_checks, own_configs
from agent.eot.evidence import gather, stream_words
from agent.eot.manifest import load_manifest

ROOT = Path(__file__).resolve().parent.parent
EXPLAINED = {"other_turn", "no_vad_stop"}


def test_eval_at_the_defaults_fires_where_the_replay_did(tmp_path: Path) -> None:
    from agent.models import Models
    from agent.replay.batch import replay_all
    from agent.settings import Settings

    settings = Settings()
    models = Models.load(settings)
    paths = sorted((ROOT / "scenarios").glob("*.yaml"))
    summary = asyncio.run(replay_all(paths, tmp_path, settings, progress=io.StringIO(), models=models))
    assert summary["overall"]["errors"] == []
    assert summary["overall"]["expectations_failed"] == []  # the quickstart exits 0

    items = load_manifest(tmp_path / "eot_manifest.jsonl")
    assert {Path(i.audio).parent.name for i in items} >= {p.stem for p in paths if p.stem != "09_silent_user"}
    assert sum(i.label == "hold" for i in items) >= 15 and sum(i.label == "eot" for i in items) >= 30

    evidence, _ = gather(
        items,
        models.smart_turn.probability,
        lambda a: stream_words(a, models.whisper, settings),
        offsets=own_checks(settings),
    )
    rows = compare(evidence, own_configs(settings)[settings.detector][1])
    differ = [r for r in rows if not r.agrees]
    assert not [r for r in differ if r.reason not in EXPLAINED], [r.as_dict() for r in differ]
    assert len(differ) <= len(rows) // 10, [r.as_dict() for r in differ]
    # The replay held every hold of the bundled scenarios, and so does the evaluation where they agree.
    assert all(r.replay_s is None for r in rows if r.label == "hold")
