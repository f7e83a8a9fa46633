"""What a model of each feature route takes from raw audio: log-mels (the default) or the waveform itself.

The recording predictor (`recording.py`) cuts windows of 16 kHz samples; these classes turn a
window into the runtime's input and pad a batch of them. Lengths are in the runtime's own unit:
log-mel frames (10 ms) on the log-mel route, samples on the SSL route, whose model holds its encoder
(model/waveform_model.py). The card says which route a model is on (`model_card.feature_layout`).
Numpy only, so the ONNX predictor never creates a JAX array.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from speecheq_jax.eval import prediction_io
from speecheq_jax.features import logmel
from speecheq_jax.frames import LOGMEL_ROUTE
from speecheq_jax.serving import windows


class LogMelInputs:
    """log-mel [T, 80] per window, CMVN-normalised with the card's pooled statistics; lengths in frames."""

    names = ("logmel", "frame_mask")

    def __init__(self, card: Mapping[str, Any]):
        pooled = card["cmvn"]["pooled"]
        self.mean, self.std = np.asarray(pooled["mean"], np.float32), np.asarray(pooled["std"], np.float32)
        self.longest = max(card["buckets"])

    def features(self, samples: np.ndarray) -> np.ndarray:
        return logmel.log_mel(samples)

    def pad(self, items: Sequence[np.ndarray], rows: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        return prediction_io.pad_logmels(items, self.mean, self.std, rows, length)

    def max_samples(self, length: int) -> int:
        """The longest window (samples) whose input has at most `length` frames."""
        return windows.max_window_samples(length)


def encoder_samples(encoder: Mapping[str, Any], frames: int) -> int:
    """Samples the SSL encoder (config.json fields) needs for `frames` frames: min_samples + hop * (frames - 1)."""
    samples = 1
    for kernel, stride in reversed(list(zip(encoder["conv_kernel"], encoder["conv_stride"]))):
        samples = (samples - 1) * stride + kernel
    return samples + int(np.prod(encoder["conv_stride"])) * (frames - 1)


class WaveformInputs:
    """The window's samples [N], zero-padded with a sample mask; lengths in samples (the SSL route)."""

    names = ("waveform", "sample_mask")

    def __init__(self, card: Mapping[str, Any]):
        self.longest = encoder_samples(card["features"]["encoder"], max(card["buckets"]))

    def features(self, samples: np.ndarray) -> np.ndarray:
        return np.asarray(samples, np.float32)

    def pad(self, items: Sequence[np.ndarray], rows: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        waveform, mask = np.zeros((rows, length), np.float32), np.zeros((rows, length), bool)
        for row, samples in enumerate(items):
            waveform[row, :len(samples)], mask[row, :len(samples)] = samples, True
        return waveform, mask

    def max_samples(self, length: int) -> int:
        return length


def model_inputs(card: Mapping[str, Any]) -> LogMelInputs | WaveformInputs:
    """The inputs of the card's model (cards without a route: log-mel)."""
    route = card["features"].get("route", LOGMEL_ROUTE.name)
    return LogMelInputs(card) if route == LOGMEL_ROUTE.name else WaveformInputs(card)
