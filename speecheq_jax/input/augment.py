"""SpecAugment (Park et al. 2019) on host, for training batches only.

Frequency masks zero `freq_masks` bands of up to `freq_width` mel bins; time
masks zero `time_masks` spans of up to `time_width_ratio` of each example's
REAL length (never the padding, so short utterances are not wiped out). It runs
after CMVN, so a zeroed value is the corpus mean. Randomness comes from a
numpy Generator seeded per global batch, so a resumed run reproduces it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class SpecAugmentConfig:
    """Mask counts and widths; zero masks disable the augmentation."""

    freq_masks: int = 2
    freq_width: int = 27
    time_masks: int = 2
    time_width_ratio: float = 0.05

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> SpecAugmentConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(values) - known)
        if extra:
            raise ValueError(f"unknown specaugment option(s) {extra}; known: {sorted(known)}")
        return cls(**dict(values))


def spec_augment(logmel: np.ndarray, num_frames: np.ndarray, config: SpecAugmentConfig,
                 rngs: Sequence[np.random.Generator]) -> np.ndarray:
    """Masks a batch in place and returns it.

    Args:
      logmel: float32 [B, T, F], CMVN-normalised.
      num_frames: int [B], real frames per example (padding starts there).
      config: mask counts and widths.
      rngs: one generator per row, so a row's masks do not depend on which
        other rows (or which process) it shares a batch with.
    Returns:
      the same array, masked.
    """
    _, _, num_bins = logmel.shape
    for row, (length, rng) in enumerate(zip(np.asarray(num_frames), rngs, strict=True)):
        for _ in range(config.freq_masks):
            width = int(rng.integers(0, config.freq_width + 1))
            start = int(rng.integers(0, max(num_bins - width, 0) + 1))
            logmel[row, :length, start : start + width] = 0.0
        max_time = int(config.time_width_ratio * length)
        for _ in range(config.time_masks):
            width = int(rng.integers(0, max_time + 1))
            start = int(rng.integers(0, max(int(length) - width, 0) + 1))
            logmel[row, start : start + width, :] = 0.0
    return logmel
