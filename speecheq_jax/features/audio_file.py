"""The one place that decides whether an audio file is usable, and decodes it.

Every corpus read (`corpora.unify.unify`) calls `check_file` on each audio
file, so the same rules hold for all corpora, for `summarize` and for the
TFDS builders: a file is usable when it exists, is not empty, has a readable
header with samples, decodes, is not all zeros and lasts at least
`MIN_SECONDS`. `decode` is what featurisation and prediction read through.

Minimum duration: `frames.MIN_SECONDS` (why: see speecheq_jax/frames.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile

from speecheq_jax.errors import UnusableFileError
from speecheq_jax.frames import MIN_SECONDS

MISSING = "audio file missing"
ZERO_LENGTH = "zero-length file"
UNDECODABLE = "cannot decode audio"
HEADER_ONLY = "header only, no samples"
SILENT = "silent (all-zero) audio"
TOO_SHORT = f"too short for the model (< {MIN_SECONDS:.2f} s)"


def decode(path: str | Path) -> tuple[np.ndarray, int]:
    """(float32 samples [N] or [N, channels], sample rate) of an audio file.

    Raises:
      UnusableFileError: missing, zero-length, undecodable, or no samples.
    """
    path = Path(path)
    if not path.is_file():
        raise UnusableFileError(str(path), MISSING)
    if path.stat().st_size == 0:
        raise UnusableFileError(str(path), ZERO_LENGTH)
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    except (RuntimeError, soundfile.LibsndfileError) as e:
        raise UnusableFileError(str(path), UNDECODABLE, " ".join(str(e).split())) from e
    if samples.shape[0] == 0:
        raise UnusableFileError(str(path), HEADER_ONLY)
    return samples, int(rate)


def check_file(path: str | Path) -> None:
    """Raises UnusableFileError (reason: one of the constants above) unless the file is usable audio.

    Decodes the whole file: silence can only be seen in the samples.
    """
    samples, rate = decode(path)
    seconds = samples.shape[0] / rate
    if seconds < MIN_SECONDS:
        raise UnusableFileError(str(path), TOO_SHORT, f"{seconds:.3f} s")
    if not np.any(samples):
        raise UnusableFileError(str(path), SILENT)


AUDIO_SUFFIXES: frozenset[str] = frozenset(
    {f".{name.lower()}" for name in soundfile.available_formats() if name != "RAW"} | {".aif", ".oga", ".opus"})
"""File suffixes taken from directories: every format libsndfile reads (RAW needs a declared layout)."""


def expand_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Files as given; directories as their audio files (`AUDIO_SUFFIXES`, recursive, sorted)."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths.extend(sorted(p for p in item.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()))
        else:
            paths.append(item)
    return paths
