"""Scenario files: a scripted conversation, validated with pydantic.

A scenario is YAML::

    description: A caller dictates a phone number, pausing between the groups.
    greeting: Hi, this is the clinic. How can I help?      # optional: the bot speaks first
    echo: {delay_ms: 120, level_db: -15}                   # optional: bot audio leaks into the mic
    background: {kind: pink, level_db: -45}                # optional: a noise floor (pink, babble,
                                                           # or recording with file: ...)
    turns:
      - user: My number is 4 1 5 [pause 1.2] 5 5 5 [pause 1.5] 0 1 2 3.
        agent: Thanks, I have it.
      - audio: audio/yes.wav                               # any rate / channel count
        pauses: [{at: 0.8, length: 1.0}]                   # cut the file at 0.8 s, insert 1 s
        agent: Great.
      - user: Wait, one more thing.
        start: {after_bot_start: 1.2}                      # cut in 1.2 s into the bot's reply
      - user: Mm-hmm.                                      # other rules: {gap_s: S} after the
        kind: backchannel                                  # reply, {after_previous: S}
        start: {after_previous: 1.0}
      - noise: cough
      - silence: 5
    expect: {turns: 2, premature_cutoffs: 0, missed_turns: 0}

``[pause S]`` inside ``user`` text makes a pause of S seconds at that word boundary by cutting
the audio of the whole sentence (so the words before it keep their mid-sentence intonation).
Any problem is a :class:`ScenarioError` whose message is one line: file, field, what is wrong.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import soundfile as sf
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.media import wav_shortfall

MAX_TEXT = 2000
"""Characters of one step's text (about two minutes of speech)."""
MAX_STEPS = 200
"""Steps in one scenario."""
MAX_SPEECH_CHARS = 8000
"""Characters of user text in one scenario, all steps together."""

_PAUSE = re.compile(r"\[\s*pause\s+([^\]]*?)\s*s?\s*\]", re.IGNORECASE)
_BRACKET = re.compile(r"\[[^\]]*\]")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AudioPause(_Strict):
    """A pause inserted into a recorded turn at a word boundary the author chose."""

    at: float = Field(gt=0, description="seconds into the file where a word boundary is")
    length: float = Field(gt=0, le=10, description="silence inserted there (s)")


class Start(_Strict):
    """When a step starts. Default: ``gap_s`` after the bot's reply to the previous step ends."""

    after_bot_start: float | None = Field(
        None, ge=0, description="seconds after the bot starts its reply (a cut-in)"
    )
    gap_s: float | None = Field(None, ge=0, description="silence after the bot's reply (s)")
    after_previous: float | None = Field(
        None, ge=0, description="seconds after the previous step ends, whatever the bot does"
    )

    @model_validator(mode="after")
    def _one_rule(self) -> Start:
        given = [k for k in ("after_bot_start", "gap_s", "after_previous") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one start rule, not {' and '.join(given)}")
        return self


class Step(_Strict):
    """One thing the user does: a turn (text or audio), a backchannel, a noise, or silence."""

    user: str | None = Field(
        None, max_length=MAX_TEXT, description="text to synthesise, with optional [pause S]"
    )
    audio: str | None = Field(None, description="audio file, relative to the scenario file")
    pauses: list[AudioPause] = Field(default_factory=list, description="pauses cut into `audio`")
    noise: Literal["cough"] | None = None
    silence: float | None = Field(None, gt=0, le=120, description="seconds of user silence")
    kind: Literal["turn", "backchannel", "noise"] | None = None
    agent: str | None = Field(None, max_length=MAX_TEXT, description="the scripted reply to this turn")
    start: Start = Field(default_factory=Start)
    level_db: float = Field(-3.0, le=0, ge=-40, description="peak level of the user's speech (dBFS)")

    @model_validator(mode="after")
    def _one_source(self) -> Step:
        given = [k for k in ("user", "audio", "noise", "silence") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "each step needs exactly one of user, audio, noise, silence"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.pauses and self.audio is None:
            raise ValueError("pauses apply to audio steps; use [pause S] in user text")
        if self.kind is None:
            self.kind = "noise" if self.noise else "turn"
        if self.kind != "turn" and self.agent is not None:
            raise ValueError(f"a {self.kind} gets no agent reply")
        return self

    @field_validator("user")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        if v is None:
            return v
        pieces, _ = split_text(v)
        if not any(pieces):
            raise ValueError("text is empty")
        if not pieces[0] or not pieces[-1]:
            raise ValueError("a [pause S] marker must stand between words, not at an end")
        return v

    @property
    def is_turn(self) -> bool:
        return self.kind == "turn" and self.silence is None


class Expect(_Strict):
    """Expectations checked after the run; any that fails makes the exit code non-zero."""

    turns: int | None = Field(None, ge=0, description="turn ends the pipeline decided")
    premature_cutoffs: int | None = Field(None, ge=0, description="at most this many cutoffs")
    missed_turns: int | None = Field(None, ge=0, description="at most this many missed turns")
    max_eot_latency_ms: float | None = Field(None, gt=0, description="slowest end-of-turn")
    false_barge_ins: int | None = Field(None, ge=0, description="at most this many false barge-ins")
    missed_barge_ins: int | None = Field(None, ge=0, description="at most this many missed barge-ins")
    finals_include: list[str] = Field(default_factory=list, description="words the finals hold")


class Echo(_Strict):
    """The bot's own audio leaking back into the microphone."""

    delay_ms: float = Field(120, ge=40, le=500)
    level_db: float = Field(-15, ge=-40, le=0)


class Background(_Strict):
    """A noise floor laid under the whole microphone track, as a room or a line has one."""

    kind: Literal["pink", "babble", "recording"]
    level_db: float = Field(-45.0, ge=-80, le=-10, description="its RMS level (dBFS)")
    file: str | None = Field(None, description="kind recording: the audio file (scenario's folder)")

    @model_validator(mode="after")
    def _file_for_recordings(self) -> Background:
        if (self.kind == "recording") != (self.file is not None):
            raise ValueError("a recording background needs a file, and only it takes one")
        return self


class Scenario(_Strict):
    """A scripted conversation."""

    name: str = ""
    description: str = ""
    greeting: str | None = Field(None, max_length=MAX_TEXT)
    echo: Echo | None = None
    background: Background | None = None
    lead_in_s: float = Field(0.5, ge=0, description="silence before the first step (s)")
    gap_s: float = Field(0.7, ge=0, description="default silence after a bot reply (s)")
    reply_timeout_s: float = Field(4.0, gt=0, description="go on if the bot has not replied (s)")
    tail_s: float = Field(1.5, ge=0, description="silence kept after the last reply (s)")
    turns: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    expect: Expect = Field(default_factory=Expect)
    path: Path | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _not_too_much_speech(self) -> Scenario:
        said = sum(len(s.user or "") for s in self.turns)
        if said > MAX_SPEECH_CHARS:
            raise ValueError(
                f"turns: {said} characters of user text in all, over the limit of "
                f"{MAX_SPEECH_CHARS} (about 9 minutes of speech)"
            )
        return self

    @property
    def replies(self) -> list[str]:
        """Scripted replies in order, one per user turn (a turn without one gets the fallback)."""
        return [s.agent or "" for s in self.turns if s.is_turn]

    def resolve(self, relative: str) -> Path:
        """A path written in the scenario, relative to the scenario file."""
        base = self.path.parent if self.path else Path.cwd()
        return (base / relative).resolve()


def parse_pauses(text: str) -> list[float]:
    """The pause lengths of ``[pause S]`` markers, checking each one."""
    out = []
    for m in _PAUSE.finditer(text):
        try:
            value = float(m.group(1))
        except ValueError:
            raise ValueError(f"pause marker '{m.group(0)}' needs a number of seconds") from None
        if not 0 < value <= 10:
            raise ValueError(f"pause marker '{m.group(0)}' must be between 0 and 10 s")
        out.append(value)
    leftover = _BRACKET.findall(_PAUSE.sub("", text))
    if leftover:
        raise ValueError(f"unknown marker '{leftover[0]}' (only [pause S] is understood)")
    return out


def split_text(text: str) -> tuple[list[str], list[float]]:
    """Text pieces between ``[pause S]`` markers, and the pauses between them."""
    pieces = [p.strip() for p in _PAUSE.split(text)[::2]]
    return pieces, parse_pauses(text)


def load_scenario(path: str | Path, allow_outside_audio: bool = False) -> Scenario:
    """Read and validate a scenario file; raises :class:`ScenarioError` (one line). Recordings
    must lie in the scenario's folder (or below it) unless ``allow_outside_audio``."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{p}: file not found") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ScenarioError(f"{p}: {where}invalid YAML ({problem})") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{p}: not a UTF-8 text file") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{p}: expected a mapping of scenario fields at the top level")
    try:
        scenario = Scenario.model_validate({**raw, "path": p})
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        extra = f" (and {len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        raise ScenarioError(f"{p}: {loc}: {msg}{extra}") from None
    if not scenario.name:
        scenario.name = p.stem
    _check_audio_files(scenario, p, allow_outside_audio)
    return scenario


def _check_audio_files(scenario: Scenario, p: Path, allow_outside: bool) -> None:
    if scenario.background is not None and scenario.background.file is not None:
        _audio_file(scenario, p, "background.file", scenario.background.file, allow_outside)
    for i, step in enumerate(scenario.turns):
        if step.audio is None:
            continue
        f = _audio_file(scenario, p, f"turns.{i}.audio", step.audio, allow_outside)
        try:
            info = sf.info(str(f))
        except Exception as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ScenarioError(f"{p}: turns.{i}.audio: cannot decode {f} ({reason})") from None
        short = wav_shortfall(f)
        if short is not None:
            raise ScenarioError(
                f"{p}: turns.{i}.audio: {f} is truncated (its header promises {short[0]} bytes "
                f"of samples, it holds {short[1]})"
            )
        for pause in step.pauses:
            if pause.at >= info.duration:
                raise ScenarioError(
                    f"{p}: turns.{i}.pauses: pause at {pause.at} s is past the end of {f.name} "
                    f"({info.duration:.2f} s)"
                )


def _audio_file(scenario: Scenario, p: Path, field: str, relative: str, allow_outside: bool) -> Path:
    """The recording ``relative`` names, checked: it exists, and (unless ``allow_outside``) it
    lies inside the scenario's folder, so a scenario from elsewhere cannot read other files."""
    try:
        f = scenario.resolve(relative)
        folder = scenario.resolve(".")
    except (RuntimeError, OSError) as e:  # a symlink loop, a path too long
        raise ScenarioError(f"{p}: {field}: cannot follow {relative} ({e})") from None
    if not allow_outside and not f.is_relative_to(folder):
        raise ScenarioError(
            f"{p}: {field}: {relative} is outside the scenario's folder "
            "(agent replay --allow-outside-audio reads it)"
        )
    if not f.is_file():
        raise ScenarioError(f"{p}: {field}: file not found: {f}")
    return f


def find_scenarios(path: str | Path) -> list[Path]:
    """One scenario file, or every ``*.yaml`` / ``*.yml`` in a folder (sorted)."""
    p = Path(path)
    if p.is_dir():
        files = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
        if not files:
            raise ScenarioError(f"{p}: no *.yaml scenario files in this folder")
        return files
    if not p.exists():
        raise ScenarioError(f"{p}: no such file or folder")
    return [p]
