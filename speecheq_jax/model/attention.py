"""Multi-head self-attention with Transformer-XL relative positional encoding (Dai et al. 2019).

This is the scheme the Conformer paper uses. The score between query frame i and key frame j is

    (q_i + u) . k_j  +  (q_i + v) . W_p r_{i-j}

where r_{i-j} is a fixed sinusoid of the signed distance i - j, W_p a learned projection, and u, v
learned per-head biases (content and position). Scores depend on distances, never on absolute
positions, so an utterance scores the same alone or padded inside a longer batch. Padded keys get
the lowest float32 score before the softmax (weight exactly 0); softmax runs in float32. The key
projection has no bias: q . b_k is the same for every key, so the softmax cancels it and it would
never receive a gradient.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from speecheq_jax.model.dropout import HashDropout


def relative_sinusoids(length: int, dim: int) -> jax.Array:
    """[2T-1, D] float32 embeddings of the distances T-1, T-2, ..., -(T-1) (row k <-> distance T-1-k)."""
    distances = jnp.arange(length - 1, -length, -1, dtype=jnp.float32)
    inverse_frequencies = 1.0 / (10000.0 ** (jnp.arange(0, dim, 2, dtype=jnp.float32) / dim))
    angles = distances[:, None] * inverse_frequencies[None, :]
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


def relative_shift(scores: jax.Array) -> jax.Array:
    """[..., T, 2T-1] scores per (query, distance row) -> [..., T, T] scores per (query i, key j).

    out[..., i, j] = scores[..., i, T-1-i+j], i.e. the row for distance i - j. Done with the pad +
    reshape "skew" of Transformer-XL instead of a gather: only copies, fast on every backend.
    """
    *lead, length, width = scores.shape
    padded = jnp.pad(scores, [(0, 0)] * len(lead) + [(0, 0), (1, 0)])  # [..., T, 2T]
    skewed = padded.reshape(*lead, width + 1, length)[..., 1:, :]  # [..., 2T-1, T]
    return skewed.reshape(*lead, length, width)[..., :length]


class RelativeSelfAttention(nnx.Module):
    """x [B,T,D], mask [B,T] (+ the dropout key in train mode) -> [B,T,D]; padded query rows are meaningless."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        *,
        attention_dropout: float,
        dtype: jnp.dtype,
        rngs: nnx.Rngs,
    ):
        head_dim = d_model // num_heads
        dense = dict(dtype=dtype, rngs=rngs)
        self.query = nnx.Linear(d_model, d_model, **dense)
        self.key = nnx.Linear(d_model, d_model, use_bias=False, **dense)
        self.value = nnx.Linear(d_model, d_model, **dense)
        self.position = nnx.Linear(d_model, d_model, use_bias=False, **dense)
        self.output = nnx.Linear(d_model, d_model, **dense)
        bias_init = nnx.initializers.xavier_uniform()
        self.content_bias = nnx.Param(bias_init(rngs.params(), (num_heads, head_dim), jnp.float32))
        self.position_bias = nnx.Param(bias_init(rngs.params(), (num_heads, head_dim), jnp.float32))
        self.dropout = HashDropout(attention_dropout)
        self.num_heads = num_heads
        self.dtype = dtype

    def _heads(self, x: jax.Array) -> jax.Array:
        """[..., D] -> [..., H, D/H]."""
        return x.reshape(*x.shape[:-1], self.num_heads, -1)

    def __call__(self, x: jax.Array, mask: jax.Array, dropout_key: jax.Array | None = None) -> jax.Array:
        batch, length, d_model = x.shape
        query, key, value = (self._heads(layer(x)) for layer in (self.query, self.key, self.value))  # [B,T,H,Dh]
        positions = self._heads(self.position(relative_sinusoids(length, d_model).astype(self.dtype)))  # [2T-1,H,Dh]
        content_query = query + self.content_bias[...].astype(self.dtype)
        position_query = query + self.position_bias[...].astype(self.dtype)
        scale = 1.0 / math.sqrt(query.shape[-1])
        position = relative_shift(jnp.einsum("bihd,phd->bhip", position_query, positions))  # [B,H,T,T]
        if self.dropout.deterministic or self.dropout.rate == 0.0:
            # No dropout on the weights: the fused kernel (cuDNN on a GPU, XLA elsewhere) takes the
            # position term as an additive bias and the key mask as a mask.
            attended = jax.nn.dot_product_attention(
                content_query, key, value, bias=position.astype(jnp.float32) * scale,
                mask=mask[:, None, None, :], scale=scale)
        else:
            content = jnp.einsum("bihd,bjhd->bhij", content_query, key)
            scores = (content.astype(jnp.float32) + position.astype(jnp.float32)) * scale
            scores = jnp.where(mask[:, None, None, :], scores, jnp.finfo(jnp.float32).min)
            weights = self.dropout(jax.nn.softmax(scores, axis=-1), rngs=dropout_key).astype(self.dtype)
            attended = jnp.einsum("bhij,bjhd->bihd", weights, value)
        return self.output(attended.reshape(batch, length, d_model))
