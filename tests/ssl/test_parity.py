"""Float32 parity of our encoders with transformers' PyTorch ones on the same checkpoint."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import transformers

from speecheq_jax.ssl.config import DEFAULTS, parse_config
from speecheq_jax.ssl.loader import load_encoder
from tests.ssl.conftest import VARIANTS, torch_hidden_states

pytestmark = pytest.mark.integration

TOLERANCE = 1e-4


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_hidden_state_matches(tiny_checkpoints, waveform, variant):
    checkpoint = tiny_checkpoints[variant]
    expected, expected_last = torch_hidden_states(checkpoint.model, waveform)
    module, config = load_encoder(checkpoint.directory)
    ours = jax.jit(lambda m, x: m(x))(module, waveform)
    diffs = [max_abs_diff(np.asarray(ours.hidden_states[i]), expected[i]) for i in range(len(expected))]
    print(f"{variant}: max abs diff per hidden state {['%.2e' % d for d in diffs]}")
    assert ours.hidden_states.shape[0] == config.num_hidden_layers + 1
    assert max(diffs) <= TOLERANCE
    assert max_abs_diff(np.asarray(ours.last_hidden_state), expected_last) <= TOLERANCE


@pytest.mark.parametrize("variant", ["wav2vec2_layer", "wavlm_layer"])
def test_padded_batch_matches_transformers_and_single_utterances(tiny_checkpoints, waveform, variant):
    """Layer-norm models take a padded batch: valid frames equal transformers' and each row run alone."""
    checkpoint = tiny_checkpoints[variant]
    module, config = load_encoder(checkpoint.directory)
    short = waveform.shape[1] // 2
    batch = np.zeros((2, waveform.shape[1]), np.float32)
    batch[0], batch[1, :short] = waveform[0], waveform[0, :short]
    mask = np.arange(batch.shape[1])[None, :] < np.array([[batch.shape[1]], [short]])
    ours = module(batch, mask)
    expected, _ = torch_hidden_states(checkpoint.model, batch, mask)
    alone = module(batch[1:, :short])
    frames = config.num_frames(short)
    assert np.asarray(ours.frame_mask).sum(axis=1).tolist() == [config.num_frames(batch.shape[1]), frames]
    assert max_abs_diff(np.asarray(ours.hidden_states[:, :, :frames]), expected[:, :, :frames]) <= TOLERANCE
    assert max_abs_diff(np.asarray(ours.hidden_states[:, 1, :frames]),
                        np.asarray(alone.hidden_states[:, 0])) <= TOLERANCE


@pytest.mark.parametrize("config_class", [transformers.Wav2Vec2Config, transformers.HubertConfig,
                                          transformers.WavLMConfig])
def test_defaults_are_transformers_defaults(config_class):
    """An empty config.json means transformers' defaults: ours must be the same values."""
    reference = config_class().to_dict()
    ours = parse_config({"model_type": reference["model_type"]})
    for field in DEFAULTS:
        if field in reference:
            value = reference[field]
            assert getattr(ours, field) == (tuple(value) if isinstance(value, list) else value), field
