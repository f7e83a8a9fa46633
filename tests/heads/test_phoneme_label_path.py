"""The phoneme head's label path: stored ids -> run ids, and a sequence CTC cannot align masked with its reason."""

import numpy as np
import pytest

from speecheq_jax.frames import WAVEFORM_ROUTE
from speecheq_jax.heads import phoneme
from speecheq_jax.heads.contract import RunTables

pytestmark = pytest.mark.unit


def test_ctc_alignability_counts_repeats():
    assert phoneme.ctc_alignable(np.array([1, 2, 3]), 3)  # 3 encoder frames, 3 tokens
    assert not phoneme.ctc_alignable(np.array([1, 1, 2]), 3)  # needs a blank between the 1s
    assert not phoneme.ctc_alignable(np.zeros(0, np.int32), 3)


def test_stored_ids_become_run_ids_and_an_unalignable_sequence_is_masked_with_its_reason():
    tables = RunTables(category=np.zeros(7, np.int32), phoneme=np.array([0, 5, 6, 7], np.int32), frames=12)
    ids, dropped = phoneme.SPEC.data.to_run(np.array([1, 2, 3], np.int32), tables)
    assert ids.tolist() == [5, 6, 7] and dropped is None
    ids, dropped = phoneme.SPEC.data.to_run(np.array([1, 1, 2], np.int32), tables)
    assert ids.size == 0 and dropped == "3 phonemes (1 adjacent repeats) cannot be aligned in 3 encoder frames"
    ids, dropped = phoneme.SPEC.data.to_run(np.zeros(0, np.int32), tables)
    assert ids.size == 0 and dropped is None


def test_the_waveform_route_counts_encoder_frames_after_the_conv_stacks_lead():
    # 400 samples make the first state, then 640 samples (2 states of 320) per encoder frame.
    for samples, frames in ((400 + 2 * 640, 2), (400 + 3 * 640, 3)):
        tables = RunTables(category=np.zeros(7, np.int32), phoneme=np.array([0, 5, 6, 7], np.int32), frames=samples,
                           route=WAVEFORM_ROUTE)
        ids, dropped = phoneme.SPEC.data.to_run(np.array([1, 2, 3], np.int32), tables)
        assert (ids.size == 3) == (frames == 3), (samples, dropped)
        assert dropped is None if frames == 3 else dropped.endswith(f"in {frames} encoder frames")
