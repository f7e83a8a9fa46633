"""Conformer internals: the shifted-sum depthwise convolution, the scanned blocks and remat."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from speecheq_jax.model.conformer import DepthwiseConv1D, depthwise_conv
from speecheq_jax.model.speecheq import SpeechEQ
from tests.model.synthetic import NUM_CATEGORIES, NUM_PHONEMES, random_batch, small_config

pytestmark = pytest.mark.unit


def test_depthwise_equals_grouped_convolution():
    conv = DepthwiseConv1D(6, 7, dtype=jnp.float32, rngs=nnx.Rngs(0))
    conv.bias[...] = jnp.arange(6, dtype=jnp.float32)
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 11, 6)), jnp.float32)
    expected = jax.lax.conv_general_dilated(
        x, conv.kernel[...][:, None, :], (1,), [(3, 3)], dimension_numbers=("NWC", "WIO", "NWC"),
        feature_group_count=6) + conv.bias[...]
    np.testing.assert_allclose(conv(x), expected, rtol=1e-5, atol=1e-5)


def test_depthwise_gradients_equal_grouped_convolution():
    """The hand-written backward (reversed-kernel shifted sum, per-tap reductions) against autodiff
    of XLA's grouped convolution."""
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal((2, 11, 6)), jnp.float32)
    kernel = jnp.asarray(rng.standard_normal((7, 6)), jnp.float32)
    upstream = jnp.asarray(rng.standard_normal((2, 11, 6)), jnp.float32)

    def grouped(x, kernel):
        return jax.lax.conv_general_dilated(x, kernel[:, None, :], (1,), [(3, 3)],
                                            dimension_numbers=("NWC", "WIO", "NWC"), feature_group_count=6)

    ours = jax.vjp(depthwise_conv, x, kernel)[1](upstream)
    expected = jax.vjp(grouped, x, kernel)[1](upstream)
    for got, want in zip(ours, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    low = jax.vjp(depthwise_conv, x.astype(jnp.bfloat16), kernel.astype(jnp.bfloat16))[1](
        upstream.astype(jnp.bfloat16))
    assert [g.dtype for g in low] == [jnp.bfloat16, jnp.bfloat16]  # the model's bfloat16 compute switch
    for got, want in zip(low, expected):
        np.testing.assert_allclose(np.asarray(got, np.float32), want, rtol=0.1, atol=0.1)


def test_block_parameters_are_stacked_over_layers():
    model = nnx.eval_shape(lambda: SpeechEQ(small_config(num_layers=3), num_phonemes=NUM_PHONEMES,
                                            num_categories=NUM_CATEGORIES, rngs=nnx.Rngs(0)))
    leaves = jax.tree.leaves(nnx.state(model.encoder.blocks, nnx.Param))
    assert leaves and all(leaf.shape[0] == 3 for leaf in leaves)


def test_layers_start_different():
    """Each stacked layer gets its own initialisation key."""
    model = SpeechEQ(small_config(num_layers=2), num_phonemes=NUM_PHONEMES, num_categories=NUM_CATEGORIES, rngs=nnx.Rngs(0))
    kernel = model.encoder.blocks.attention.query.kernel[...]
    assert not np.allclose(kernel[0], kernel[1])


@pytest.mark.parametrize("remat", ["dots", "full"])
def test_remat_changes_no_value_or_gradient(remat):
    batch = random_batch([40, 29], 40)

    def loss_and_grads(config):
        model = SpeechEQ(config, num_phonemes=NUM_PHONEMES, num_categories=NUM_CATEGORIES, rngs=nnx.Rngs(0))
        loss = lambda m: jnp.sum(m(batch).heads["category"] ** 2)
        return nnx.jit(nnx.value_and_grad(loss))(model)

    (loss, grads), (loss_remat, grads_remat) = (loss_and_grads(small_config(remat="none")),
                                                loss_and_grads(small_config(remat=remat)))
    np.testing.assert_allclose(loss_remat, loss, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(grads_remat), jax.tree.leaves(grads)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_dropout_differs_between_layers_and_steps():
    """Train mode with dropout: two calls draw different masks; each call is a pure function of the stream."""
    model = SpeechEQ(small_config(dropout=0.3, attention_dropout=0.3), num_phonemes=NUM_PHONEMES,
                     num_categories=NUM_CATEGORIES, rngs=nnx.Rngs(params=0, dropout=1))
    batch = random_batch([40], 40)
    first, second = model(batch).heads["category"], model(batch).heads["category"]
    assert not np.allclose(first, second)
    nnx.reseed(model, dropout=11)
    again = model(batch).heads["category"]
    nnx.reseed(model, dropout=11)
    np.testing.assert_array_equal(model(batch).heads["category"], again)


def test_unrolled_scan_computes_the_same():
    batch = random_batch([40, 29], 40)
    outputs = []
    for unroll in (1, 2):
        model = SpeechEQ(small_config(scan_unroll=unroll), num_phonemes=NUM_PHONEMES, num_categories=NUM_CATEGORIES,
                         rngs=nnx.Rngs(0))
        model.eval()
        outputs.append(np.asarray(model(batch).heads["category"]))
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-5, atol=1e-6)
