"""Relative positional attention: the skew equals an explicit gather, and padded keys are ignored."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from speecheq_jax.model.attention import RelativeSelfAttention, relative_shift, relative_sinusoids

pytestmark = pytest.mark.unit


def test_relative_shift_matches_explicit_indexing():
    length = 5
    scores = np.random.default_rng(0).standard_normal((2, 3, length, 2 * length - 1)).astype(np.float32)
    expected = np.empty((2, 3, length, length), np.float32)
    for i in range(length):
        for j in range(length):
            expected[..., i, j] = scores[..., i, length - 1 - i + j]
    np.testing.assert_array_equal(np.asarray(relative_shift(jnp.asarray(scores))), expected)


def test_relative_sinusoids_encode_signed_distance():
    length, dim = 6, 8
    table = np.asarray(relative_sinusoids(length, dim))
    assert table.shape == (2 * length - 1, dim)
    distance = 3  # row k holds distance length - 1 - k
    frequencies = 1.0 / 10000.0 ** (np.arange(0, dim, 2) / dim)
    expected = np.concatenate([np.sin(distance * frequencies), np.cos(distance * frequencies)])
    np.testing.assert_allclose(table[length - 1 - distance], expected, rtol=1e-6)
    np.testing.assert_allclose(table[length - 1], np.r_[np.zeros(dim // 2), np.ones(dim // 2)], atol=1e-7)


def test_padded_keys_do_not_change_valid_rows():
    attention = RelativeSelfAttention(16, 4, attention_dropout=0.0, dtype=jnp.float32, rngs=nnx.Rngs(0))
    rng = np.random.default_rng(1)
    valid = rng.standard_normal((1, 7, 16)).astype(np.float32)
    garbage = 100.0 * rng.standard_normal((1, 5, 16)).astype(np.float32)
    alone = attention(jnp.asarray(valid), jnp.ones((1, 7), bool))
    padded = attention(jnp.concatenate([valid, garbage], axis=1), jnp.arange(12)[None] < 7)
    np.testing.assert_allclose(np.asarray(padded[:, :7]), np.asarray(alone), atol=1e-5)


def test_scores_depend_on_relative_position():
    """Shifting a sequence inside a fully valid window must not change the attention output."""
    attention = RelativeSelfAttention(16, 4, attention_dropout=0.0, dtype=jnp.float32, rngs=nnx.Rngs(2))
    frames = jnp.asarray(np.random.default_rng(3).standard_normal((1, 6, 16)), jnp.float32)
    left = jnp.concatenate([frames, jnp.zeros((1, 3, 16))], axis=1)
    right = jnp.concatenate([jnp.zeros((1, 3, 16)), frames], axis=1)
    mask_left = jnp.arange(9)[None] < 6
    mask_right = jnp.arange(9)[None] >= 3
    out_left = attention(left, mask_left)[:, :6]
    out_right = attention(right, mask_right)[:, 3:]
    np.testing.assert_allclose(np.asarray(out_left), np.asarray(out_right), atol=1e-5)


def test_fused_path_equals_explicit_scores():
    """Eval mode takes jax.nn.dot_product_attention with the position term as a bias; train mode
    with dropout computes the scores by hand. Same weights, same outputs, even for a row of an
    example with no valid frame (a batch-padding example)."""
    attention = RelativeSelfAttention(16, 4, attention_dropout=0.1, dtype=jnp.float32, rngs=nnx.Rngs(0))
    x = jnp.asarray(np.random.default_rng(0).standard_normal((3, 12, 16)), jnp.float32)
    mask = jnp.arange(12)[None] < jnp.array([[12], [5], [0]])
    attention.eval()
    fused = attention(x, mask)
    attention.train()
    attention.dropout.rate = 1e-12  # keeps every weight (threshold rounds to 2^32 - 1) yet takes the explicit path
    explicit = attention(x, mask, jax.random.key(0))
    assert np.isfinite(np.asarray(fused)).all()
    np.testing.assert_allclose(fused, explicit, rtol=1e-5, atol=1e-6)
