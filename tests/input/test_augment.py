"""SpecAugment: masks stay inside real frames, are seeded, and respect widths."""

from __future__ import annotations

import numpy as np
import pytest

from speecheq_jax.input.augment import SpecAugmentConfig, spec_augment


def _batch() -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([100, 40])
    logmel = np.ones((2, 128, 80), np.float32)
    logmel[0, 100:] = 7.0
    logmel[1, 40:] = 7.0
    return logmel, lengths


def _rngs(seed: int) -> list[np.random.Generator]:
    return [np.random.default_rng([seed, row]) for row in range(2)]


@pytest.mark.unit
def test_masks_touch_real_frames_only_and_are_bounded():
    logmel, lengths = _batch()
    config = SpecAugmentConfig(freq_masks=2, freq_width=10, time_masks=2, time_width_ratio=0.1)
    out = spec_augment(logmel, lengths, config, _rngs(3))
    assert np.all(out[0, 100:] == 7.0) and np.all(out[1, 40:] == 7.0)
    zeroed_bins = np.all(out[0, :100] == 0, axis=0).sum()
    zeroed_frames = np.all(out[1, :40] == 0, axis=1).sum()
    assert 0 < zeroed_bins <= 20 and zeroed_frames <= 2 * 4 + 80


@pytest.mark.unit
def test_a_row_masks_the_same_whatever_shares_its_batch():
    config = SpecAugmentConfig()
    logmel, lengths = _batch()
    pair = spec_augment(logmel.copy(), lengths, config, _rngs(9))
    alone = spec_augment(logmel[1:].copy(), lengths[1:], config, _rngs(9)[1:])
    np.testing.assert_array_equal(pair[1], alone[0])


@pytest.mark.unit
def test_same_generator_seed_same_masks_and_zero_masks_is_identity():
    config = SpecAugmentConfig()
    a = spec_augment(*_batch(), config, _rngs(5))
    b = spec_augment(*_batch(), config, _rngs(5))
    np.testing.assert_array_equal(a, b)
    none = SpecAugmentConfig(freq_masks=0, time_masks=0)
    np.testing.assert_array_equal(spec_augment(*_batch(), none, _rngs(5)), _batch()[0])


@pytest.mark.unit
def test_unknown_option_is_rejected_by_name():
    with pytest.raises(ValueError, match="time_mask"):
        SpecAugmentConfig.from_mapping({"time_mask": 2})
