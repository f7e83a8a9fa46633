"""Prediction batches and records: padding and CMVN, fields named from the card."""

from __future__ import annotations

import numpy as np
import pytest

from speecheq_jax.eval import prediction_io

pytestmark = pytest.mark.unit


def test_pad_logmels_normalises_and_masks():
    mels = [np.full((3, 80), 2.0, np.float32), np.full((5, 80), 4.0, np.float32)]
    logmel, mask = prediction_io.pad_logmels(mels, np.full(80, 1.0, np.float32), np.full(80, 2.0, np.float32), 3, 8)
    assert logmel.shape == (3, 8, 80) and mask.shape == (3, 8)
    assert mask.sum(axis=1).tolist() == [3, 5, 0]
    np.testing.assert_array_equal(logmel[0, :3], 0.5)
    np.testing.assert_array_equal(logmel[1, :5], 1.5)
    assert not logmel[~mask].any()


def test_records_name_labels_from_the_card():
    card = {"labels": {"categories": ["calm", "loud"], "genders": ["F", "M"]}, "phonemes": ["a", "b"]}
    outputs = {"category_prob": np.array([[0.2, 0.8], [0.5, 0.5]]), "intensity": np.array([0.25, 0.0]),
               "gender_prob": np.array([[0.9, 0.1], [0.5, 0.5]]),
               "phoneme_ids": np.array([[1, 1, 0, 2], [0, 0, 0, 0]]), "out_mask": np.array([[1, 1, 1, 1], [1, 0, 0, 0]], bool)}
    (record,) = prediction_io.prediction_records(["x.wav"], outputs, card)
    assert record == {"path": "x.wav", "category": "loud", "category_probs": {"calm": 0.2, "loud": 0.8},
                      "intensity": 0.25, "gender": "F", "gender_probs": {"F": 0.9, "M": 0.1}, "phonemes": "a b"}
