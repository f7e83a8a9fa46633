"""SEQD-synth speakers and the emotion x intensity prosody mapping.

espeak-ng has one male voice per language; the corpus needs many speakers that
a classifier can tell apart, and emotions that move the acoustics the way
acted speech does (higher and wider F0, faster and louder for high-arousal
emotions; lower, slower and softer for sad). Both are expressed here as numbers:

* a `Voice` is one fixed speaker: pitch floor and span, vocal-tract length
  (formant scale), voice quality (flutter, roughness, breath) and speaking rate.
  Each language has 12 (6 female, 6 male) with a fixed speaker-disjoint split
  of 8 train / 2 valid / 2 test, each split gender-balanced;
* a `Prosody` is what one utterance does relative to its speaker: F0 and F0
  range scales, rate, level, voice quality and sox colouring. `prosody()`
  applies the per-emotion slopes times the intensity k (1..3, neutral 0) and
  `jittered()` the per-utterance randomness that keeps emotions from being
  trivially separable.

The speaker set and split never depend on the corpus seed, so the split of a
corpus is the same whatever seed built it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

EMOTIONS: tuple[str, ...] = ("neutral", "happy", "angry", "sad", "surprise", "fear")
LEVELS: tuple[int, ...] = (1, 2, 3)
SPLITS: tuple[str, ...] = ("train", "valid", "test")

# Per gender: pitch floors (Hz) of the 6 speakers, their formant scales (vocal
# tract: higher = shorter), and which split each slot belongs to. Valid and
# test slots sit inside the pitch range so held-out speakers are not extremes.
_PITCH_FLOOR_HZ = {"F": (165.0, 178.0, 191.0, 204.0, 217.0, 230.0), "M": (82.0, 90.0, 98.0, 106.0, 114.0, 122.0)}
_FORMANT_SCALE = {"F": (1.06, 1.09, 1.12, 1.15, 1.18, 1.21), "M": (0.90, 0.93, 0.96, 0.99, 1.02, 1.05)}
_SLOT_SPLIT = {
    "F": ("train", "valid", "train", "train", "test", "train"),
    "M": ("train", "test", "train", "train", "valid", "train"),
}
# Language-specific seeds for the parts of a voice that are drawn, not listed.
_VOICE_SEED = {"cmn": 1009, "eng": 2003}


@dataclasses.dataclass(frozen=True)
class Voice:
    """One fixed speaker (written to speakers.json).

    Attributes:
      speaker: id unique across the corpus, e.g. 'cmn_F3'.
      lang: 'cmn' or 'eng'.
      gender: 'F' or 'M'.
      split: 'train', 'valid' or 'test'.
      pitch_floor_hz, pitch_span_hz: espeak-ng `pitch BASE TOP` is
        (floor, floor + span) before emotion scaling.
      formant_scale: multiplies formants 1..5 (vocal-tract length).
      flutter, roughness, breath: espeak-ng voice-quality settings.
      rate_wpm: neutral speaking rate in words per minute (espeak-ng -s).
    """

    speaker: str
    lang: str
    gender: str
    split: str
    pitch_floor_hz: float
    pitch_span_hz: float
    formant_scale: float
    flutter: int
    roughness: int
    breath: int
    rate_wpm: int


def speakers(lang: str) -> tuple[Voice, ...]:
    """The 12 fixed speakers of one language, 6 female then 6 male."""
    if lang not in _VOICE_SEED:
        raise ValueError(f"no SEQD-synth speakers for language {lang!r}; known: {sorted(_VOICE_SEED)}")
    rng = np.random.default_rng(_VOICE_SEED[lang])
    voices = []
    for gender in ("F", "M"):
        formant_order = rng.permutation(6)
        for slot in range(6):
            floor = _PITCH_FLOOR_HZ[gender][slot]
            voices.append(Voice(
                speaker=f"{lang}_{gender}{slot + 1}",
                lang=lang,
                gender=gender,
                split=_SLOT_SPLIT[gender][slot],
                pitch_floor_hz=floor,
                pitch_span_hz=round(floor * float(rng.uniform(0.35, 0.65)), 1),
                formant_scale=_FORMANT_SCALE[gender][formant_order[slot]],
                flutter=int(rng.integers(0, 10)),
                roughness=int(rng.integers(0, 4)),
                breath=int(rng.integers(0, 4)),
                rate_wpm=int(rng.integers(150, 191)),
            ))
    return tuple(voices)


@dataclasses.dataclass(frozen=True)
class Prosody:
    """What one utterance does relative to its speaker's neutral voice.

    Attributes:
      f0_scale, range_scale, rate_scale: multiply the speaker's pitch floor,
        pitch span and speaking rate.
      gain_db: level change applied after synthesis.
      treble_db: sox treble shelf (brightness, happy).
      roughness, breath, flutter: added to the speaker's espeak-ng settings.
      word_gap: espeak-ng -g, pause between words in 10 ms units (sad).
      lowpass_hz: sox lowpass cut-off (muffled, sad), or None.
      overdrive: sox overdrive gain in dB (tense, angry), 0 for none.
      tremolo_hz, tremolo_depth: sox tremolo (shaky, fear), 0 for none.
      final_rise_cents: pitch bend over the last part (surprise), 0 for none.
    """

    f0_scale: float = 1.0
    range_scale: float = 1.0
    rate_scale: float = 1.0
    gain_db: float = 0.0
    treble_db: float = 0.0
    roughness: int = 0
    breath: int = 0
    flutter: int = 0
    word_gap: int = 0
    lowpass_hz: float | None = None
    overdrive: float = 0.0
    tremolo_hz: float = 0.0
    tremolo_depth: float = 0.0
    final_rise_cents: float = 0.0


def prosody(emotion: str, level: int) -> Prosody:
    """The emotion -> prosody mapping at intensity `level` (neutral: 0).

    Every emotion moves F0, F0 range, rate and level by a slope times k, plus
    one or two cues of its own (treble for happy, roughness and overdrive for
    angry, breath, word gaps and a low-pass for sad, a final rise for
    surprise, flutter, breath and tremolo for fear).
    """
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown SEQD-synth emotion {emotion!r}; known: {EMOTIONS}")
    valid_levels = (0,) if emotion == "neutral" else LEVELS
    if level not in valid_levels:
        raise ValueError(f"{emotion} intensity must be one of {valid_levels}, got {level}")
    k = level
    if emotion == "happy":
        return Prosody(1 + .07 * k, 1 + .30 * k, 1 + .05 * k, .7 * k, treble_db=1.5 * k)
    if emotion == "angry":
        return Prosody(1 + .04 * k, 1 + .15 * k, 1 + .07 * k, 2.5 * k, roughness=4 * k, overdrive=4.0 * k)
    if emotion == "sad":
        return Prosody(1 - .05 * k, 1 - .22 * k, 1 - .09 * k, -1.5 * k, breath=10 * k, word_gap=k,
                       lowpass_hz=4500.0 - 700.0 * k)
    if emotion == "surprise":
        return Prosody(1 + .11 * k, 1 + .45 * k, 1 + .02 * k, .3 * k, final_rise_cents=150.0 * k)
    if emotion == "fear":
        return Prosody(1 + .09 * k, 1 - .10 * k, 1 + .08 * k, -.8 * k, breath=8 * k, flutter=12 * k,
                       tremolo_hz=6.0, tremolo_depth=15.0 * k)
    return Prosody()


def jittered(base: Prosody, rng: np.random.Generator) -> Prosody:
    """Per-utterance randomness: F0 x e^N(0,.05), range x e^N(0,.15), rate x e^N(0,.07), gain + N(0, 3 dB)."""
    return dataclasses.replace(
        base,
        f0_scale=base.f0_scale * math.exp(rng.normal(0.0, 0.05)),
        range_scale=base.range_scale * math.exp(rng.normal(0.0, 0.15)),
        rate_scale=base.rate_scale * math.exp(rng.normal(0.0, 0.07)),
        gain_db=base.gain_db + rng.normal(0.0, 3.0),
    )


def variant_text(voice: Voice, utterance_prosody: Prosody) -> str:
    """An espeak-ng voice-variant file for one utterance of one speaker.

    The variant carries pitch (the strongest prosody lever in espeak-ng),
    formants and voice quality; rate and word gap go on the command line.
    """
    floor = voice.pitch_floor_hz * utterance_prosody.f0_scale
    top = floor + voice.pitch_span_hz * utterance_prosody.range_scale
    breath = voice.breath + utterance_prosody.breath
    formant_percent = round(100 * voice.formant_scale)
    lines = [
        "language variant",
        f"name {voice.speaker}",
        f"gender {'female' if voice.gender == 'F' else 'male'}",
        f"pitch {round(floor)} {round(max(top, floor + 5))}",
        f"flutter {voice.flutter + utterance_prosody.flutter}",
        f"roughness {min(voice.roughness + utterance_prosody.roughness, 7)}",
        "breath 0 " + " ".join([str(breath)] * 7),
        *(f"formant {n} {formant_percent} 100 100" for n in range(1, 6)),
    ]
    return "\n".join(lines) + "\n"
