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


def position_angles(length: int, dim: int) -> jax.Array:
    """[T, D/2] float32 angles t * w_f of frame t at the D/2 sinusoid frequencies w_f = 10000^(-2f/D)."""
    inverse_frequencies = 1.0 / (10000.0 ** (jnp.arange(0, dim, 2, dtype=jnp.float32) / dim))
    return jnp.arange(length, dtype=jnp.float32)[:, None] * inverse_frequencies[None, :]


def relative_position_scores(position_query: jax.Array, projection: jax.Array) -> jax.Array:
    """(q_i + v) . W_p r_{i-j} for every query i and key j: [B,T,H,Dh], [D,H,Dh] -> [B,H,T,T].

    r_d = [sin(d w), cos(d w)] is the [D] sinusoid of the signed distance d = i - j, and
    `projection` holds W_p with its output split into heads. Transformer-XL computes the term
    against all 2T-1 distances and then "skews" [T, 2T-1] into [T, T] with pads and reshapes;
    on a CPU those copies and their transposes cost more than the product itself. Here the
    angle-addition identities do the shift instead:

        a sin((i-j)w) + b cos((i-j)w) = (a sin iw + b cos iw) cos jw + (b sin iw - a cos iw) sin jw

    where [a, b] = W_p^T (q_i + v) are the query's weights on the sin and cos features. So the
    term is ONE matmul of rotated queries [B*H*T, D] with the fixed table [cos jw, sin jw] [T, D]:
    twice the FLOPs of the skewed form, no copies, and no batch dimension, so the "dots" remat
    policy keeps its output instead of recomputing it. The result still depends on i - j only
    (exactly in real arithmetic, to float32 rounding in practice).
    """
    length, dim = position_query.shape[1], projection.shape[0]
    weights = jnp.einsum("bihd,ehd->bhie", position_query, projection)  # [B,H,T,D]: on sin (first half), cos
    on_sin, on_cos = jnp.split(weights, 2, axis=-1)  # [B,H,T,D/2] each
    angles = position_angles(length, dim)
    sin, cos = jnp.sin(angles).astype(weights.dtype), jnp.cos(angles).astype(weights.dtype)  # [T,D/2]
    rotated = jnp.concatenate([on_sin * sin + on_cos * cos, on_cos * sin - on_sin * cos], axis=-1)  # [B,H,T,D]
    return jnp.einsum("bhie,je->bhij", rotated, jnp.concatenate([cos, sin], axis=-1))


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
        # W_p: only its kernel is read (relative_position_scores). A Linear keeps the parameter path
        # (attention/position/kernel) of checkpoints and the leaf name `kernel` that weight decay selects.
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
        projection = self._heads(self.position.kernel[...].astype(self.dtype))  # W_p [D,H,Dh]
        content_query = query + self.content_bias[...].astype(self.dtype)
        position_query = query + self.position_bias[...].astype(self.dtype)
        scale = 1.0 / math.sqrt(query.shape[-1])
        position = relative_position_scores(position_query, projection)  # [B,H,T,T]
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
