"""The flat index of a split, from metadata alone: order, lookup, dropping over-long examples."""

from __future__ import annotations

import numpy as np
import pytest

from speecheq_jax.input import entries

pytestmark = pytest.mark.unit


def _units() -> list[dict[str, dict]]:
    return [{"a": {"num_frames": [10, 500], "num_phonemes": [2, 3]}, "b": {"num_frames": [30], "num_phonemes": [0]}},
            {"c": {"num_frames": [40, 50], "num_phonemes": [1, 1]}}]


def test_split_entries_keeps_fold_and_record_order():
    index = entries.split_entries(_units())
    assert len(index) == 5 and index.unit_names == ("a", "b", "c")
    assert index.corpus.tolist() == [0, 0, 0, 1, 1] and index.record.tolist() == [0, 1, 0, 0, 1]
    assert index.frames.tolist() == [10, 500, 30, 40, 50]
    assert index.locate(4) == (1, "c", 1)
    assert len(entries.split_entries([])) == 0


def test_drop_longer_than_counts_per_corpus(capsys):
    kept = entries.drop_longer_than(entries.split_entries(_units()), 256, ["one", "two"])
    assert kept.frames.tolist() == [10, 30, 40, 50] and kept.locate(1) == (0, "b", 0)
    assert capsys.readouterr().out.strip() == ("[pipeline] one: dropped 1 training examples longer than the "
                                                "largest bucket (256 frames)")
    np.testing.assert_array_equal(kept.unit, [0, 1, 2, 2])
