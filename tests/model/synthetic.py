"""Random Batch dicts and a small model config for the model tests."""

from __future__ import annotations

import ml_collections
import numpy as np

from speecheq_jax.frames import NUM_MELS
from speecheq_jax.input import batch as batch_lib
from speecheq_jax.model.model_config import default_model_config

NUM_PHONEMES = 12
NUM_CATEGORIES = 6
"""A run's label set, e.g. SEQD-synth's six classes (the data, not the taxonomy, sets it)."""


def small_config(**overrides: object) -> ml_collections.ConfigDict:
    """The tiny preset cut to 2 layers with dropout off: fast, and deterministic in train mode."""
    config = default_model_config("tiny")
    config.num_layers = 2
    config.dropout = 0.0
    config.attention_dropout = 0.0
    config.update(overrides)
    return config


def random_batch(
    lengths: list[int], num_frames: int, *, seed: int = 0, padding_value: float = 0.0
) -> dict[str, np.ndarray]:
    """A Batch with N(0,1) log-mel on the first lengths[i] frames of row i and `padding_value` after.

    Row i's frames depend only on (seed, i, length), not on num_frames or the other rows, so one
    utterance can be placed alone or inside a longer batch.
    """
    batch = batch_lib.zeros(len(lengths), num_frames, max_phonemes=4)
    for row, length in enumerate(lengths):
        frames = np.random.default_rng([seed, row]).standard_normal((length, NUM_MELS))
        batch["logmel"][row] = padding_value
        batch["logmel"][row, :length] = frames
        batch["frame_mask"][row, :length] = True
    return batch
