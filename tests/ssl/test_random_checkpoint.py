"""The random checkpoint writer: what it writes loads in our loader and in transformers, with equal hidden states."""

from __future__ import annotations

import jax
import numpy as np
import transformers

from speecheq_jax.ssl.loader import load_encoder
from speecheq_jax.ssl.random_checkpoint import TINY_WAV2VEC2, write_random_checkpoint
from tests.ssl.conftest import torch_hidden_states

TOLERANCE = 1e-4


def test_random_checkpoint_loads_here_and_in_transformers(tmp_path, waveform):
    directory = write_random_checkpoint(tmp_path / "ckpt", TINY_WAV2VEC2, seed=3)
    module, config = load_encoder(directory)
    assert (config.arch, config.hidden_size, config.num_hidden_layers, config.feat_extract_norm) == (
        "wav2vec2", 64, 2, "group")
    reference = transformers.Wav2Vec2Model.from_pretrained(directory).eval()
    expected, _ = torch_hidden_states(reference, waveform)
    ours = np.asarray(jax.jit(lambda m, x: m(x))(module, waveform).hidden_states)
    assert ours.shape == expected.shape == (3, 1, config.num_frames(waveform.shape[1]), 64)
    assert np.std(expected[-1]) > 0.1  # the random weights carry signal through every layer
    assert float(np.max(np.abs(ours - expected))) <= TOLERANCE


def test_same_seed_same_weights(tmp_path):
    first = write_random_checkpoint(tmp_path / "a", TINY_WAV2VEC2, seed=1)
    second = write_random_checkpoint(tmp_path / "b", TINY_WAV2VEC2, seed=1)
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
