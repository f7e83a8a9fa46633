"""Padded batches: every row of a padded batch equals its utterance run alone, for every variant."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from speecheq_jax.ssl.loader import load_encoder
from tests.ssl.conftest import SAMPLES, VARIANTS

pytestmark = pytest.mark.integration

TOLERANCE = 1e-5
LENGTHS = (SAMPLES, 5003, 1234)
"""Three utterances, the longest fills the batch; odd lengths leave partial conv windows at the end."""


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_padded_row_equals_the_utterance_alone(tiny_checkpoints, variant):
    module, config = load_encoder(tiny_checkpoints[variant].directory)
    forward = jax.jit(lambda m, x, mask: m(x, mask))
    rng = np.random.default_rng(3)
    batch = np.zeros((len(LENGTHS), SAMPLES), np.float32)
    for row, length in enumerate(LENGTHS):  # loud noise in the padding: it must not reach valid frames
        batch[row] = rng.normal(0.0, 3.0, SAMPLES)
        batch[row, :length] = rng.normal(0.0, 0.3, length)
    mask = np.arange(SAMPLES)[None, :] < np.array(LENGTHS)[:, None]
    padded = forward(module, batch, mask)
    assert np.asarray(padded.frame_mask).sum(axis=1).tolist() == [config.num_frames(n) for n in LENGTHS]
    for row, length in enumerate(LENGTHS):
        alone = forward(module, batch[row:row + 1, :length], None)
        frames = config.num_frames(length)
        hidden_diff = np.max(np.abs(np.asarray(padded.hidden_states[:, row, :frames] - alone.hidden_states[:, 0])))
        last_diff = np.max(np.abs(np.asarray(padded.last_hidden_state[row, :frames] - alone.last_hidden_state[0])))
        print(f"{variant} row {row} ({length} samples): max abs diff {hidden_diff:.2e}, last {last_diff:.2e}")
        assert max(hidden_diff, last_diff) <= TOLERANCE
