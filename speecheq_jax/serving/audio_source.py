"""An audio file read in spans at 16 kHz mono, never decoded whole.

A recording may last hours: decoding it whole (and resampling it whole) makes
memory grow with its length. `AudioSource` opens the file once for its header
and then reads any span [start, stop) of the 16 kHz mono signal by seeking
with soundfile. A span of a file at another rate is resampled from the native
samples around it plus a margin, starting on a multiple of the rate ratio's
denominator, so every span equals the same samples of the whole file
resampled at once (`features.logmel.to_mono_16k`; tested to 1e-6).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile

from speecheq_jax.errors import UnusableFileError
from speecheq_jax.features import audio_file, logmel

_MARGIN_PERIODS = 64
"""Native samples read beyond each end of a resampled span, in periods of the ratio's denominator
(resample_poly's filter reaches 10 periods each way, so the edges it sees are never the span's)."""


class AudioSource:
    """The 16 kHz mono samples of one audio file, read span by span.

    Raises UnusableFileError (one line, reason from `features.audio_file`) when
    the file is missing, empty, not audio or has no samples.
    """

    def __init__(self, path: str | Path):
        self.path = str(path)
        file = Path(path)
        if not file.is_file():
            raise UnusableFileError(self.path, audio_file.MISSING)
        if file.stat().st_size == 0:
            raise UnusableFileError(self.path, audio_file.ZERO_LENGTH)
        try:
            info = soundfile.info(self.path)
        except (RuntimeError, soundfile.LibsndfileError) as e:
            raise UnusableFileError(self.path, audio_file.UNDECODABLE, " ".join(str(e).split())) from e
        if info.frames <= 0:
            raise UnusableFileError(self.path, audio_file.HEADER_ONLY)
        self.native_rate, self.native_frames = int(info.samplerate), int(info.frames)
        g = math.gcd(self.native_rate, logmel.SAMPLE_RATE)
        self._up, self._down = logmel.SAMPLE_RATE // g, self.native_rate // g
        self.num_samples = -(-self.native_frames * self._up // self._down)
        """Length of the 16 kHz signal (resample_poly's output length)."""

    @property
    def seconds(self) -> float:
        return self.num_samples / logmel.SAMPLE_RATE

    def _native(self, start: int, stop: int) -> np.ndarray:
        """Native samples [start, stop) clipped to the file, float32 [N, channels]."""
        start, stop = max(start, 0), min(stop, self.native_frames)
        try:
            return soundfile.read(self.path, frames=stop - start, start=start, dtype="float32", always_2d=True)[0]
        except (RuntimeError, soundfile.LibsndfileError) as e:
            raise UnusableFileError(self.path, audio_file.UNDECODABLE, " ".join(str(e).split())) from e

    def read(self, start: int, stop: int) -> np.ndarray:
        """float32 [stop - start] of the 16 kHz mono signal, 0 <= start < stop <= num_samples."""
        if self._up == self._down:
            return logmel.to_mono_16k(self._native(start, stop), logmel.SAMPLE_RATE)
        first = max(start * self._down // self._up // self._down - _MARGIN_PERIODS, 0) * self._down
        last = (-(-stop * self._down // self._up) // self._down + _MARGIN_PERIODS + 1) * self._down
        resampled = logmel.to_mono_16k(self._native(first, last), self.native_rate)
        offset = first * self._up // self._down
        return resampled[start - offset : stop - offset]

    def blocks(self, block_samples: int) -> Iterator[np.ndarray]:
        """The whole 16 kHz signal as consecutive float32 blocks of `block_samples` (the last shorter)."""
        for start in range(0, self.num_samples, block_samples):
            yield self.read(start, min(start + block_samples, self.num_samples))
