"""WavLM's gated relative position bias (Chen et al. 2022), added to every layer's attention scores.

One table `rel_attn_embed` [num_buckets, H] (in transformers it lives in layer 0 only) gives the bias
[H, T, T] of each relative distance bucket; every layer gates it per head and query frame from its
own attention input x [B, T, D] (the same, ungated bias is handed to every layer):

    x split into heads [B, T, H, D/H] -> gru_rel_pos_linear (D/H -> 8) -> [B, T, H, 2, 4] summed over
    the 4 -> sigmoid -> a, b; gate = a * (b * gru_rel_pos_const[h] - 1) + 2; bias'[b, h, t, s] =
    gate[b, t, h] * bias[h, t, s].

Buckets (T5-style, bidirectional): half of them for positive offsets; |offset| < num_buckets / 4 gets
its own bucket, larger ones log-spaced up to max_distance. Computed in numpy float32 (the frame count
is static under jit), in the same operation order as transformers, so bucket edges agree.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def relative_position_buckets(length: int, num_buckets: int, max_distance: int) -> np.ndarray:
    """int32 [T, T]: the bucket of key s relative to query t (offset s - t), T = length."""
    positions = np.arange(length)
    offsets = positions[None, :] - positions[:, None]
    half = num_buckets // 2
    buckets = (offsets > 0).astype(np.int64) * half
    distance = np.abs(offsets)
    max_exact = half // 2
    # distance 0 would take log(0); such small distances use the exact branch, so any value does
    scaled = np.log(np.maximum(distance, 1).astype(np.float32) / max_exact) / math.log(max_distance / max_exact)
    large = np.minimum((max_exact + scaled * (half - max_exact)).astype(np.int64), half - 1)
    return (buckets + np.where(distance < max_exact, distance, large)).astype(np.int32)


class RelativePositionBias(nnx.Module):
    """The ungated bias of a T-frame sequence: length -> [H, T, T]."""

    def __init__(self, num_buckets: int, max_distance: int, num_heads: int, *, rngs: nnx.Rngs):
        self.rel_attn_embed = nnx.Embed(num_buckets, num_heads, rngs=rngs)
        self.num_buckets = num_buckets
        self.max_distance = max_distance

    def __call__(self, length: int) -> jax.Array:
        buckets = relative_position_buckets(length, self.num_buckets, self.max_distance)
        return jnp.transpose(self.rel_attn_embed(jnp.asarray(buckets)), (2, 0, 1))


def gate_position_bias(x: jax.Array, linear: nnx.Linear, const: jax.Array, bias: jax.Array) -> jax.Array:
    """Gated bias [B, H, T, T] of attention input x [B, T, D], ungated bias [H, T, T], const [1, H, 1, 1]."""
    batch, length, _ = x.shape
    heads = bias.shape[0]
    projected = linear(x.reshape(batch, length, heads, -1))  # [B, T, H, 8]
    gate_a, gate_b = jnp.split(jax.nn.sigmoid(projected.reshape(batch, length, heads, 2, 4).sum(-1)), 2, axis=-1)
    gate = gate_a[..., 0] * (gate_b[..., 0] * const.reshape(heads) - 1.0) + 2.0  # [B, T, H]
    return jnp.transpose(gate, (0, 2, 1))[..., None] * bias
