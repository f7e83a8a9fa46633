"""Masked BatchNorm: statistics over valid frames only, unchanged by extra padding."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from speecheq_jax.model.normalization import MaskedBatchNorm, make_frame_norm, masked_moments

pytestmark = pytest.mark.unit


def _frames(lengths: list[int], num_frames: int, dim: int = 6, garbage: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    """x [B,T,D] with N(2,3) valid frames (same values for any num_frames) and large garbage on padding."""
    rng = np.random.default_rng(0)
    x = garbage * np.ones((len(lengths), num_frames, dim), np.float32)
    mask = np.zeros((len(lengths), num_frames), bool)
    for row, length in enumerate(lengths):
        x[row, :length] = 2.0 + 3.0 * rng.standard_normal((length, dim))
        mask[row, :length] = True
    return x, mask


def test_masked_moments_match_numpy_over_valid_frames():
    x, mask = _frames([5, 9], 12)
    mean, var, count = masked_moments(jnp.asarray(x), jnp.asarray(mask))
    valid = x[mask]  # [N, D]
    np.testing.assert_allclose(np.asarray(mean), valid.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(var), valid.var(axis=0), rtol=1e-5)
    assert float(count) == 14


def test_train_statistics_unchanged_by_extra_padding():
    short_x, short_mask = _frames([5, 9], 12)
    long_x, long_mask = _frames([5, 9], 40)
    norms = [MaskedBatchNorm(6, rngs=nnx.Rngs(0)) for _ in range(2)]
    short_out = norms[0](jnp.asarray(short_x), jnp.asarray(short_mask))
    long_out = norms[1](jnp.asarray(long_x), jnp.asarray(long_mask))
    np.testing.assert_allclose(np.asarray(long_out)[long_mask], np.asarray(short_out)[short_mask], atol=1e-5)
    for name in ("mean", "var"):
        np.testing.assert_allclose(getattr(norms[0], name)[...], getattr(norms[1], name)[...], rtol=1e-6)
    valid = short_x[short_mask]
    np.testing.assert_allclose(norms[0].mean[...], 0.1 * valid.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(short_out)[short_mask].mean(axis=0), np.zeros(6), atol=1e-5)


def test_batch_without_valid_frames_keeps_running_statistics():
    norm = MaskedBatchNorm(6, rngs=nnx.Rngs(0))
    x, mask = _frames([5], 8)
    norm(jnp.asarray(x), jnp.asarray(mask))
    before = (np.asarray(norm.mean[...]), np.asarray(norm.var[...]))
    out = norm(jnp.asarray(x), jnp.zeros_like(mask))
    assert np.isfinite(np.asarray(out)).all()
    np.testing.assert_array_equal(np.asarray(norm.mean[...]), before[0])
    np.testing.assert_array_equal(np.asarray(norm.var[...]), before[1])


def test_eval_mode_uses_running_statistics():
    norm = MaskedBatchNorm(6, rngs=nnx.Rngs(0))
    norm.mean[...] = jnp.full((6,), 2.0)
    norm.var[...] = jnp.full((6,), 4.0)
    norm.eval()
    x, mask = _frames([3], 4)
    out = norm(jnp.asarray(x), jnp.asarray(mask))
    np.testing.assert_allclose(np.asarray(out), (x - 2.0) / np.sqrt(4.0 + norm.epsilon), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(norm.mean[...]), np.full(6, 2.0))


def test_unknown_norm_names_the_config_key():
    with pytest.raises(ValueError, match="model.norm"):
        make_frame_norm("group", 6, dtype=jnp.float32, param_dtype=jnp.float32, rngs=nnx.Rngs(0))
