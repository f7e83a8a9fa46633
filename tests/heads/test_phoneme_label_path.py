"""The phoneme head's label path: stored ids -> run ids, and a sequence CTC cannot align masked with its reason."""

import numpy as np
import pytest

from speecheq_jax.heads import phoneme
from speecheq_jax.heads.contract import RunTables

pytestmark = pytest.mark.unit


def test_ctc_alignability_counts_repeats():
    assert phoneme.ctc_alignable(np.array([1, 2, 3]), 12)  # 3 encoder frames, 3 tokens
    assert not phoneme.ctc_alignable(np.array([1, 1, 2]), 12)  # needs a blank between the 1s
    assert not phoneme.ctc_alignable(np.zeros(0, np.int32), 12)


def test_stored_ids_become_run_ids_and_an_unalignable_sequence_is_masked_with_its_reason():
    tables = RunTables(category=np.zeros(7, np.int32), phoneme=np.array([0, 5, 6, 7], np.int32), frames=12)
    ids, dropped = phoneme.SPEC.data.to_run(np.array([1, 2, 3], np.int32), tables)
    assert ids.tolist() == [5, 6, 7] and dropped is None
    ids, dropped = phoneme.SPEC.data.to_run(np.array([1, 1, 2], np.int32), tables)
    assert ids.size == 0 and dropped == "3 phonemes (1 adjacent repeats) cannot be aligned in 3 encoder frames"
    ids, dropped = phoneme.SPEC.data.to_run(np.zeros(0, np.int32), tables)
    assert ids.size == 0 and dropped is None
