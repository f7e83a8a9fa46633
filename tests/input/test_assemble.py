"""The one assembler: CMVN, padding to the bucket, masks exact on frames, tokens, labels and rows."""

from __future__ import annotations

import numpy as np
import pytest

from speecheq_jax.input import batch as batch_lib
from speecheq_jax.input.assemble import Row, assemble

pytestmark = pytest.mark.unit

MEAN, STD = np.full(80, 1.0, np.float32), np.full(80, 2.0, np.float32)


def test_rows_are_normalised_padded_and_masked_exactly():
    labels = {"category": 2, "intensity": 0.5, "gender": -1, "phonemes": np.array([4, 1], np.int32)}
    rows = [Row(np.full((5, 80), 3.0, np.float16), MEAN, STD, labels=labels, corpus_id=1, index=7),
            Row(np.full((8, 80), 5.0, np.float32), MEAN, STD)]
    batch = assemble(rows, 3, 8)
    batch_lib.validate(batch)
    assert batch["logmel"].shape == (3, 8, 80) and batch["phonemes"].shape == (3, 2)
    np.testing.assert_array_equal(batch["logmel"][0, :5], 1.0)
    np.testing.assert_array_equal(batch["logmel"][1], 2.0)
    assert not batch["logmel"][~batch["frame_mask"]].any()
    assert batch["frame_mask"].sum(axis=1).tolist() == [5, 8, 0]
    assert batch["category"].tolist() == [2, 0, 0] and batch["category_mask"].tolist() == [True, False, False]
    assert batch["intensity_mask"].tolist() == [True, False, False] and not batch["gender_mask"].any()
    assert batch["phonemes"].tolist() == [[4, 1], [0, 0], [0, 0]]
    assert batch["phoneme_mask"].tolist() == [[True, True], [False, False], [False, False]]
    assert batch["example_mask"].tolist() == [True, True, False]
    assert batch["index"].tolist() == [7, -1, -1] and batch["corpus_id"].tolist() == [1, 0, 0]


def test_overflow_is_a_clear_error():
    with pytest.raises(ValueError, match="row 0: 9 frames do not fit 8 frames"):
        assemble([Row(np.zeros((9, 80), np.float32), MEAN, STD)], 1, 8)
    with pytest.raises(ValueError, match="row 0: 3 phonemes do not fit 2 slots"):
        assemble([Row(np.zeros((8, 80), np.float32), MEAN, STD, labels={"phonemes": np.ones(3, np.int32)})], 1, 8)
    with pytest.raises(ValueError, match="2 rows do not fit a batch of 1"):
        assemble([Row(np.zeros((1, 80), np.float32), MEAN, STD)] * 2, 1, 8)
