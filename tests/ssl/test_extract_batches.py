"""extract's padded batches: bounded, few shapes, and each file's hidden states as if it ran alone."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import soundfile

from speecheq_jax.ssl.extract import Extractor, extract, padded_length, plan_batches
from speecheq_jax.ssl.loader import load_encoder

pytestmark = pytest.mark.integration


def test_padded_lengths_are_a_fixed_grid():
    assert [padded_length(n) for n in (1, 16000, 16001, 22627, 22628, 32000, 160000)] == [
        16000, 16000, 22627, 22627, 32000, 32000, 181019]


def test_batches_cover_every_file_within_the_bound():
    lengths = [3000, 40000, 17000, 9000, 200000, 16000, 12000, 5000, 30000]
    batches = plan_batches(lengths, batch_seconds=4.0)
    assert sorted({index for _, indices in batches for index in indices}) == list(range(len(lengths)))
    assert sum(len(set(indices)) for _, indices in batches) == len(lengths)  # each file in one batch
    for length, indices in batches:
        assert all(lengths[index] <= length == padded_length(lengths[index]) for index in indices)
        assert len(indices) & (len(indices) - 1) == 0  # a power of two rows
        assert len(indices) == 1 or len(indices) * length <= 4.0 * 16000
    assert [(length, indices) for length, indices in batches if length == 16000] == [(16000, [0, 7, 3, 6]),
                                                                                      (16000, [5])]


def test_extract_equals_each_file_alone(tiny_checkpoints, tmp_path):
    directory = tiny_checkpoints["wav2vec2_group"].directory
    rng = np.random.default_rng(4)
    paths = []
    for number, length in enumerate((3000, 25000, 17000, 9001, 6000)):
        paths.append(tmp_path / f"f{number}.wav")
        soundfile.write(paths[-1], rng.uniform(-0.5, 0.5, length).astype(np.float32), 16000, subtype="FLOAT")
    extractor = Extractor(directory)
    arrays, errors = extract(extractor, paths, batch_seconds=2.0)
    assert errors == [] and list(arrays) == [path.name for path in paths]
    module, _ = load_encoder(directory)
    forward = jax.jit(lambda m, x: m(x).hidden_states[:, 0])
    for path in paths:
        alone = np.asarray(forward(module, extractor.waveform(path)[None]))
        assert arrays[path.name].shape == alone.shape
        assert np.max(np.abs(arrays[path.name] - alone)) <= 1e-5, path
