"""Convolutional front end: 4x subsampling of frames and mask, padding unseen."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from speecheq_jax.model.frontend import ConvSubsampling, PatchConv2D

pytestmark = pytest.mark.unit


def _frontend() -> ConvSubsampling:
    return ConvSubsampling(80, 16, dropout=0.0, dtype=jnp.float32, rngs=nnx.Rngs(0))


def test_subsamples_frames_and_mask_by_four():
    features = jnp.ones((2, 24, 80))
    mask = jnp.arange(24)[None] < jnp.array([[24], [9]])
    frames, out_mask = _frontend()(features, mask)
    assert frames.shape == (2, 6, 16)
    np.testing.assert_array_equal(np.asarray(out_mask).sum(axis=1), [6, 3])  # ceil(ceil(9/2)/2) = 3


def test_padded_input_frames_are_not_read():
    frontend = _frontend()
    rng = np.random.default_rng(0)
    valid = rng.standard_normal((1, 10, 80)).astype(np.float32)
    mask = jnp.arange(16)[None] < 10
    clean = np.concatenate([valid, np.zeros((1, 6, 80), np.float32)], axis=1)
    noisy = np.concatenate([valid, rng.standard_normal((1, 6, 80)).astype(np.float32) * 100], axis=1)
    clean_out, out_mask = frontend(jnp.asarray(clean), mask)
    noisy_out, _ = frontend(jnp.asarray(noisy), mask)
    np.testing.assert_allclose(np.asarray(noisy_out), np.asarray(clean_out), atol=1e-5)
    assert np.asarray(out_mask).sum() == 3


def test_rejects_frame_counts_not_divisible_by_four():
    with pytest.raises(ValueError, match="multiple of 4"):
        _frontend()(jnp.ones((1, 10, 80)), jnp.ones((1, 10), bool))


def test_patch_conv_equals_strided_convolution():
    """im2col + matmul computes the 3x3 stride-2 convolution (padding 1) of nnx.Conv's layout."""
    conv = PatchConv2D(5, 7, dtype=jnp.float32, rngs=nnx.Rngs(0))
    conv.bias[...] = jnp.arange(7, dtype=jnp.float32)
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 13, 10, 5)), jnp.float32)
    expected = jax.lax.conv_general_dilated(
        x, conv.kernel[...], (2, 2), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")) + conv.bias[...]
    np.testing.assert_allclose(conv(x), expected, rtol=1e-5, atol=1e-5)
