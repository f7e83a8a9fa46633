"""Utterance-level pooling of encoder frames [B,T,D] over valid frames only.

Attentive statistics pooling (Okabe et al. 2018) learns which frames matter (emotion shows in a
few salient frames) and keeps both the weighted mean and the weighted standard deviation (how much
the voice varies). Statistics run in float32. An example with no valid frame (a batch-padding
example) pools to a zero mean and a tiny constant std instead of NaN.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

STD_EPSILON = 1e-5


class AttentiveStatsPooling(nnx.Module):
    """x [B,T,D], mask [B,T] -> [B,2D] = [attention-weighted mean, attention-weighted std]."""

    def __init__(self, d_model: int, attention_dim: int, *, dtype: jnp.dtype, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(d_model, attention_dim, dtype=dtype, rngs=rngs)
        self.score = nnx.Linear(attention_dim, 1, use_bias=False, dtype=dtype, rngs=rngs)  # softmax cancels a bias
        self.dtype = dtype

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        scores = self.score(jnp.tanh(self.hidden(x)))[..., 0].astype(jnp.float32)  # [B,T]
        scores = jnp.where(mask, scores, jnp.finfo(jnp.float32).min)
        weights = jax.nn.softmax(scores, axis=-1) * mask  # [B,T]; all zero when no frame is valid
        frames = jnp.where(mask[..., None], x.astype(jnp.float32), 0.0)
        mean = jnp.einsum("bt,btd->bd", weights, frames)
        variance = jnp.einsum("bt,btd->bd", weights, jnp.square(frames - mean[:, None, :]))
        std = jnp.sqrt(variance + STD_EPSILON)
        return jnp.concatenate([mean, std], axis=-1).astype(self.dtype)
