"""HashDropout: the keep rate, independence, determinism, the train/eval switch, sharding invariance."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from speecheq_jax.model.dropout import HashDropout, flat_index, keep_mask

SHAPE = (16, 150, 144)


@pytest.mark.parametrize("keep_prob", [0.9, 0.5, 0.1])
def test_keep_rate_matches_probability(keep_prob):
    mask = np.asarray(keep_mask(jax.random.key(3), SHAPE, keep_prob))
    # Binomial std over 345,600 draws is below 0.001 for every p here: 5 std.
    assert abs(mask.mean() - keep_prob) < 0.005


def test_neighbours_and_keys_are_independent():
    """Adjacent elements, adjacent rows and two successive keys agree as often as chance says."""
    keep_prob = 0.9
    mask = np.asarray(keep_mask(jax.random.key(0), SHAPE, keep_prob))
    other = np.asarray(keep_mask(jax.random.key(1), SHAPE, keep_prob))
    chance = keep_prob**2
    assert abs((mask[..., 1:] & mask[..., :-1]).mean() - chance) < 0.005
    assert abs((mask[:, 1:] & mask[:, :-1]).mean() - chance) < 0.005
    assert abs((mask & other).mean() - chance) < 0.005


def test_same_key_same_mask():
    key = jax.random.key(7)
    np.testing.assert_array_equal(keep_mask(key, SHAPE, 0.8), keep_mask(key, SHAPE, 0.8))


def test_flat_index_is_row_major_position():
    np.testing.assert_array_equal(flat_index((3, 4, 5)), np.arange(60, dtype=np.uint32).reshape(3, 4, 5))


def test_train_scales_kept_values_and_eval_is_identity():
    dropout = HashDropout(0.25, rngs=nnx.Rngs(dropout=0))
    x = jnp.ones(SHAPE)
    y = np.asarray(dropout(x))
    np.testing.assert_allclose(np.unique(y), [0.0, 1.0 / 0.75], rtol=1e-6)
    dropout.eval()
    np.testing.assert_array_equal(dropout(x), x)


def test_train_mode_without_key_is_a_clear_error():
    with pytest.raises(ValueError, match="needs a key"):
        HashDropout(0.1)(jnp.ones((2, 3)))


def test_sharded_mask_equals_single_device_mask():
    """The mask hashes GLOBAL element positions, so a batch split over 8 devices draws the same bits."""
    devices = jax.devices()
    if len(devices) < 8:
        pytest.skip("needs 8 (fake) devices")
    mesh = jax.make_mesh((8,), ("data",), devices=devices[:8])
    key = jax.random.key(5)
    single = keep_mask(key, SHAPE, 0.9)
    sharded = jax.jit(lambda k: keep_mask(k, SHAPE, 0.9), out_shardings=NamedSharding(mesh, P("data")))(key)
    np.testing.assert_array_equal(np.asarray(sharded), np.asarray(single))
