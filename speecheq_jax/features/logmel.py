"""Log-mel features and their per-bin statistics (CMVN), computed once at preparation.

Definition (the one the whole project uses; equal to librosa's
`log(melspectrogram(y, sr=16000, n_fft=512, win_length=400, hop_length=160,
n_mels=80, power=2.0, center=True, pad_mode="constant") + 1e-6)`):

* audio is mono float in [-1, 1] at 16 kHz: stereo is mixed down by the mean of
  its channels, other sample rates are resampled with a polyphase filter
  (`scipy.signal.resample_poly`);
* frames are centred: frame t covers samples [160 t - 256, 160 t + 256) with
  zeros outside the signal, so n samples give 1 + n // 160 frames;
* a periodic Hann window of 400 samples is zero-padded to 512 on both sides;
* power spectrum |STFT|^2 -> 80 Slaney-scale, Slaney-normalised triangular mel
  filters on 0..8000 Hz -> natural log of (power + 1e-6).

`log_mel` is the numpy reference (float64 inside). `log_mel_batch` is the
jitted version for bulk preparation: it runs on batches padded to a multiple of
`PAD_SAMPLES` samples, so it compiles once per padded length, a bounded set.
Zero padding after the signal is exactly the centred frames' own padding, so
the first 1 + n // 160 frames of a padded row equal the unpadded result.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import scipy.signal

from speecheq_jax.features import audio_file
from speecheq_jax.frames import NUM_MELS

SAMPLE_RATE = 16000
N_FFT = 512
WIN_LENGTH = 400
HOP_LENGTH = 160
LOG_FLOOR = 1e-6
PAD_SAMPLES = 32000
"""Batched inputs are padded to a multiple of this many samples (2 s): one compile per multiple."""


def num_frames(num_samples: int) -> int:
    """Frames of a centred STFT of `num_samples` samples."""
    return 1 + num_samples // HOP_LENGTH


def to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """[N] or [N, channels] audio at any rate -> float32 [M] mono at 16 kHz."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1:
        raise ValueError(f"audio must be [samples] or [samples, channels], got shape {x.shape}")
    if sample_rate != SAMPLE_RATE:
        g = np.gcd(int(sample_rate), SAMPLE_RATE)
        x = scipy.signal.resample_poly(x, SAMPLE_RATE // g, int(sample_rate) // g)
    return x.astype(np.float32)


def read_audio(path: str | Path) -> np.ndarray:
    """Reads an audio file -> float32 [N] mono at 16 kHz.

    Raises errors.UnusableFileError (a ValueError naming the file) for a
    missing, empty or undecodable file.
    """
    return to_mono_16k(*audio_file.decode(path))


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_region = hz >= 1000.0
    return np.where(log_region, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


@functools.cache
def mel_filterbank() -> np.ndarray:
    """float64 [80, 257]: Slaney-normalised triangular filters on 0..8000 Hz."""
    fft_freqs = np.linspace(0.0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), NUM_MELS + 2))
    widths = np.diff(mel_edges)
    ramps = mel_edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (mel_edges[2:] - mel_edges[:-2]))[:, None]


@functools.cache
def _padded_window() -> np.ndarray:
    """float64 [512]: periodic Hann of 400 samples, centred in the FFT frame."""
    n = np.arange(WIN_LENGTH)
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / WIN_LENGTH)
    left = (N_FFT - WIN_LENGTH) // 2
    return np.pad(hann, (left, N_FFT - WIN_LENGTH - left))


def _frame_starts(count: int) -> np.ndarray:
    return np.arange(count)[:, None] * HOP_LENGTH + np.arange(N_FFT)[None, :]


def log_mel(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Reference log-mel of one utterance.

    Args:
      samples: [N] or [N, channels] audio, floats in [-1, 1].
      sample_rate: its rate in Hz (resampled to 16 kHz when different).
    Returns:
      float32 [1 + N16 // 160, 80], N16 the sample count at 16 kHz.
    """
    x = to_mono_16k(samples, sample_rate).astype(np.float64)
    if x.size == 0:
        raise ValueError("log_mel of an empty signal")
    padded = np.pad(x, N_FFT // 2)
    frames = padded[_frame_starts(num_frames(x.size))] * _padded_window()
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
    return np.log(power @ mel_filterbank().T + LOG_FLOOR).astype(np.float32)


@jax.jit
def log_mel_batch(samples: jax.Array) -> jax.Array:
    """Jitted log-mel of a padded batch: float32 [B, N] -> float32 [B, 1 + N // 160, 80].

    Rows shorter than N must be zero-padded; keep only the first
    `num_frames(length)` frames of each row. Pad N to a multiple of
    `PAD_SAMPLES` (see `log_mel_many`) to bound the number of compiles.
    """
    padded = jnp.pad(samples.astype(jnp.float32), ((0, 0), (N_FFT // 2, N_FFT // 2)))
    frames = padded[:, _frame_starts(num_frames(samples.shape[1]))] * _padded_window().astype(np.float32)
    power = jnp.abs(jnp.fft.rfft(frames, axis=-1)) ** 2
    mel = jnp.einsum("btf,mf->btm", power, mel_filterbank().astype(np.float32), precision="highest")
    return jnp.log(mel + LOG_FLOOR)


def log_mel_many(waves: Sequence[np.ndarray], batch_size: int = 16) -> list[np.ndarray]:
    """Log-mel of many 16 kHz mono utterances with `log_mel_batch`.

    Utterances are grouped by their padded length (a multiple of
    `PAD_SAMPLES`) and run `batch_size` at a time, short groups padded with
    silent rows, so every call has one of a few static shapes.
    Returns float32 [1 + N_i // 160, 80] per input, in input order.
    """
    out: list[np.ndarray | None] = [None] * len(waves)
    by_length: dict[int, list[int]] = {}
    for i, wave in enumerate(waves):
        padded_len = -(-max(len(wave), 1) // PAD_SAMPLES) * PAD_SAMPLES
        by_length.setdefault(padded_len, []).append(i)
    for padded_len, members in sorted(by_length.items()):
        for start in range(0, len(members), batch_size):
            chunk = members[start : start + batch_size]
            block = np.zeros((batch_size, padded_len), np.float32)
            for row, i in enumerate(chunk):
                block[row, : len(waves[i])] = waves[i]
            mels = np.asarray(log_mel_batch(block))
            for row, i in enumerate(chunk):
                out[i] = mels[row, : num_frames(len(waves[i]))]
    return out  # type: ignore[return-value]


@dataclasses.dataclass
class MelStats:
    """Running per-bin sums of log-mel frames, for CMVN (float64 for exact merges).

    Accumulated per TFDS split (unit) at preparation; a fold's statistics are
    the merge of its train units, so test data never leaks into normalisation.
    """

    count: int = 0
    total: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(NUM_MELS))
    total_sq: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(NUM_MELS))

    def add(self, logmel: np.ndarray) -> None:
        """Adds the frames of one utterance, [T, 80]."""
        frames = np.asarray(logmel, dtype=np.float64)
        self.count += frames.shape[0]
        self.total += frames.sum(axis=0)
        self.total_sq += np.square(frames).sum(axis=0)

    def merge(self, other: MelStats) -> MelStats:
        return MelStats(self.count + other.count, self.total + other.total, self.total_sq + other.total_sq)

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 [80] mean and standard deviation (floored at 1e-5) per bin."""
        if self.count == 0:
            raise ValueError("CMVN statistics of zero frames")
        mean = self.total / self.count
        var = np.maximum(self.total_sq / self.count - np.square(mean), 1e-10)
        return mean.astype(np.float32), np.sqrt(var).astype(np.float32)

    def to_dict(self) -> dict:
        return {"count": self.count, "total": self.total.tolist(), "total_sq": self.total_sq.tolist()}

    @classmethod
    def from_dict(cls, values: dict) -> MelStats:
        return cls(int(values["count"]), np.asarray(values["total"], np.float64), np.asarray(values["total_sq"], np.float64))
