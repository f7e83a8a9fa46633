"""Dropout whose mask is a counter-based hash: cheap on a CPU, identical on any sharding.

`nnx.Dropout` draws a uniform float32 per element with threefry, about 20 ns per element on a
CPU core: at size S a training step drops out about 90 M elements, which made random-number
generation a third of the step. Here one threefry call turns the step's key into two 32-bit seeds,
and each element's keep/drop bit is a 32-bit integer hash of its flat index and the seeds (a dozen
integer operations that XLA fuses into the multiply that applies the mask; nothing is
materialised). The index is the element's position in the GLOBAL array, so under `jax.jit` over a
sharded batch every device draws exactly the bits it would draw on one device.

The hash is "lowbias32" (a public-domain xorshift-multiply finaliser chosen for its low avalanche
bias) applied twice with the two seeds; the keep probability is exact to 2^-32, and the tests check
the keep rate and the independence of neighbouring elements and of successive keys.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

_INDEX_MULTIPLIER = 0x9E3779B9  # 2^32 / golden ratio: spreads consecutive indices over the word


def _lowbias32(x: jax.Array) -> jax.Array:
    """uint32 -> uint32 avalanche finaliser."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def flat_index(shape: tuple[int, ...]) -> jax.Array:
    """uint32 array of `shape` holding each element's row-major position (modulo 2^32)."""
    index = jnp.zeros(shape, jnp.uint32)
    stride = 1
    for axis in reversed(range(len(shape))):
        index = index + jax.lax.broadcasted_iota(jnp.uint32, shape, axis) * jnp.uint32(stride % 2**32)
        stride *= shape[axis]
    return index


def keep_mask(key: jax.Array, shape: tuple[int, ...], keep_prob: float) -> jax.Array:
    """bool array of `shape`, True with probability `keep_prob`, a pure function of `key`."""
    seeds = jax.random.bits(key, (2,), jnp.uint32)
    bits = _lowbias32(_lowbias32(flat_index(shape) * jnp.uint32(_INDEX_MULTIPLIER) ^ seeds[0]) + seeds[1])
    threshold = min(round(keep_prob * 2**32), 2**32 - 1)
    return bits < jnp.uint32(threshold)


def split_key(key: jax.Array | None, num: int) -> list[jax.Array | None]:
    """`num` keys from `key`, or `num` Nones without one (evaluation: no random op is traced)."""
    return [None] * num if key is None else list(jax.random.split(key, num))


class HashDropout(nnx.Dropout):
    """`nnx.Dropout` with the hash mask above; same constructor, same train()/eval() switch.

    Call with `rngs=key` to use an explicit key (the scanned conformer blocks do, since a scanned
    layer holds no random stream of its own); otherwise the module's own stream draws one.
    """

    def __call__(self, inputs: jax.Array, *, rngs: jax.Array | None = None) -> jax.Array:  # type: ignore[override]
        if self.deterministic or self.rate == 0.0:
            return inputs
        if rngs is None and self.rngs is None:
            raise ValueError("HashDropout in train mode needs a key: pass rngs=key or build it with rngs")
        key = rngs if rngs is not None else self.rngs()
        keep_prob = 1.0 - self.rate
        keep = keep_mask(key, inputs.shape, keep_prob)
        return jnp.where(keep, inputs / jnp.asarray(keep_prob, inputs.dtype), jnp.zeros((), inputs.dtype))
