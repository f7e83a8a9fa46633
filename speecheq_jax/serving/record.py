"""The JSON record of one recording: segments, whole-file summary, flags.

    {"path", "duration" (s), "speech_seconds", "flags": [...],
     <summary fields>: category, category_probs, intensity, gender, gender_probs (the heads present),
     "segments": [{"start", "end" (s), every head's fields: ..., phonemes}, ...]}

The summary weighs each segment by its duration: probabilities and intensity
are duration-weighted means, and a class (`category`, `gender`) is the
largest of its mean probabilities. Phoneme strings are per segment only. A
flagged file without speech has no summary fields and no segments. The
summary's fields keep the names and meaning of a short clip's prediction,
so a record of a one-window file reads like the record of one utterance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from speecheq_jax.features import logmel

_PROBS = "_probs"


def summary(segments: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Duration-weighted summary of segments' fields; {} for no segments.

    A field `X_probs` ({class: p}) gives the mean probabilities and `X` their argmax; a float field
    its mean; other fields (strings) are left out.
    """
    if not segments:
        return {}
    weights = np.array([s["end"] - s["start"] for s in segments], np.float64)
    weights /= weights.sum()
    out: dict[str, Any] = {}
    for key, value in segments[0].items():
        if key in ("start", "end"):
            continue
        if key.endswith(_PROBS):
            mean = {c: round(float(np.dot(weights, [s[key][c] for s in segments])), 6) for c in value}
            out[key[: -len(_PROBS)]] = max(mean, key=mean.get)
            out[key] = mean
        elif isinstance(value, float):
            out[key] = round(float(np.dot(weights, [s[key] for s in segments])), 6)
    return out


def file_record(path: str, seconds: float, spans: Sequence[tuple[int, int]], fields: Sequence[dict[str, Any]],
                flags: Sequence[str]) -> dict[str, Any]:
    """The record of a file from its windows' sample spans (16 kHz) and each window's head fields."""
    segments = [{"start": round(a / logmel.SAMPLE_RATE, 3), "end": round(b / logmel.SAMPLE_RATE, 3), **f}
                for (a, b), f in zip(spans, fields)]
    speech = sum(b - a for a, b in spans) / logmel.SAMPLE_RATE
    return {"path": path, "duration": round(seconds, 3), "speech_seconds": round(speech, 3), "flags": list(flags),
            **summary(segments), "segments": segments}
