"""Relative positional attention: the rotated form equals the explicit sinusoid term, and padded keys are ignored."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from speecheq_jax.model.attention import RelativeSelfAttention, position_angles, relative_position_scores

pytestmark = pytest.mark.unit


def _sinusoid(distance: int, dim: int) -> np.ndarray:
    """r_d = [sin(d w_f), cos(d w_f)], w_f = 10000^(-2f/D): Transformer-XL's embedding of distance d."""
    frequencies = 1.0 / 10000.0 ** (np.arange(0, dim, 2) / dim)
    return np.concatenate([np.sin(distance * frequencies), np.cos(distance * frequencies)])


def test_relative_position_scores_match_explicit_sinusoids():
    """The rotated-query matmul equals (q_i + v) . W_p r_{i-j} computed pair by pair in float64."""
    batch, length, heads, head_dim = 2, 40, 3, 4
    dim = heads * head_dim
    rng = np.random.default_rng(0)
    position_query = rng.standard_normal((batch, length, heads, head_dim))
    projection = rng.standard_normal((dim, dim)) / np.sqrt(dim)  # W_p: sinusoid features -> head channels
    expected = np.empty((batch, heads, length, length))
    for i in range(length):
        for j in range(length):
            position = (_sinusoid(i - j, dim) @ projection).reshape(heads, head_dim)
            expected[:, :, i, j] = np.einsum("bhd,hd->bh", position_query[:, i], position)
    scores = relative_position_scores(jnp.asarray(position_query, jnp.float32),
                                      jnp.asarray(projection.reshape(dim, heads, head_dim), jnp.float32))
    assert scores.shape == (batch, heads, length, length)
    np.testing.assert_allclose(np.asarray(scores), expected, atol=1e-4 * np.abs(expected).max())


def test_position_angles_are_frame_times_frequencies():
    angles = np.asarray(position_angles(6, 8))
    assert angles.shape == (6, 4)
    np.testing.assert_allclose(angles[3], 3 * 1.0 / 10000.0 ** (np.arange(0, 8, 2) / 8), rtol=1e-6)
    np.testing.assert_array_equal(angles[0], np.zeros(4))


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
