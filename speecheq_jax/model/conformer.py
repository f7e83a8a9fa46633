"""Conformer encoder (Gulati et al. 2020): log-mel [B,T,80] -> frames [B,T/4,D] and their mask.

Block (REFERENCE.md section 2):
    x + 1/2 FFN(x) -> x + Dropout(MHSA(LN(x))) -> x + Conv(x) -> x + 1/2 FFN(x) -> LayerNorm
with relative-position MHSA (attention.py) and a convolution module whose normalisation is masked
BatchNorm or LayerNorm (normalization.py). Padding never leaks: attention masks padded keys, the
depthwise convolution reads zeros on padded frames, the normalisation counts valid frames only, and
the encoder output is zero on padded frames.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

from speecheq_jax.model.attention import RelativeSelfAttention
from speecheq_jax.model.frontend import ConvSubsampling
from speecheq_jax.model.normalization import make_frame_norm


class FeedForward(nnx.Module):
    """LN -> Linear(D, ff_mult*D) -> Swish -> Dropout -> Linear(ff_mult*D, D) -> Dropout; [B,T,D] -> [B,T,D]."""

    def __init__(self, d_model: int, ff_mult: int, *, dropout: float, dtype: jnp.dtype, rngs: nnx.Rngs):
        self.norm = nnx.LayerNorm(d_model, dtype=dtype, rngs=rngs)
        self.expand = nnx.Linear(d_model, ff_mult * d_model, dtype=dtype, rngs=rngs)
        self.contract = nnx.Linear(ff_mult * d_model, d_model, dtype=dtype, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        hidden = self.dropout(jax.nn.swish(self.expand(self.norm(x))))
        return self.dropout(self.contract(hidden))


class ConvolutionModule(nnx.Module):
    """LN -> pointwise(2D) -> GLU -> depthwise conv -> masked norm -> Swish -> pointwise -> Dropout.

    x [B,T,D], mask [B,T] -> [B,T,D]. Padded frames are zeroed right before the depthwise
    convolution, the only place where this module mixes frames.
    """

    def __init__(
        self, d_model: int, kernel_size: int, norm: str, *, dropout: float, dtype: jnp.dtype, rngs: nnx.Rngs
    ):
        self.norm = nnx.LayerNorm(d_model, dtype=dtype, rngs=rngs)
        self.pointwise_in = nnx.Linear(d_model, 2 * d_model, dtype=dtype, rngs=rngs)
        self.depthwise = nnx.Conv(
            d_model, d_model, kernel_size=(kernel_size,), padding="SAME", feature_group_count=d_model,
            dtype=dtype, rngs=rngs,
        )
        self.frame_norm = make_frame_norm(norm, d_model, dtype=dtype, param_dtype=jnp.float32, rngs=rngs)
        self.pointwise_out = nnx.Linear(d_model, d_model, dtype=dtype, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        gated = jax.nn.glu(self.pointwise_in(self.norm(x)), axis=-1)
        gated = jnp.where(mask[..., None], gated, jnp.zeros((), gated.dtype))
        hidden = jax.nn.swish(self.frame_norm(self.depthwise(gated), mask))
        return self.dropout(self.pointwise_out(hidden))


class ConformerBlock(nnx.Module):
    """One conformer block: x [B,T,D], mask [B,T] -> [B,T,D]."""

    def __init__(self, config: ml_collections.ConfigDict, *, dtype: jnp.dtype, rngs: nnx.Rngs):
        d_model, dropout = config.d_model, config.dropout
        self.feed_forward_in = FeedForward(d_model, config.ff_mult, dropout=dropout, dtype=dtype, rngs=rngs)
        self.attention_norm = nnx.LayerNorm(d_model, dtype=dtype, rngs=rngs)
        self.attention = RelativeSelfAttention(
            d_model, config.num_heads, attention_dropout=config.attention_dropout, dtype=dtype, rngs=rngs
        )
        self.attention_dropout = nnx.Dropout(dropout, rngs=rngs)
        self.convolution = ConvolutionModule(
            d_model, config.conv_kernel, config.norm, dropout=dropout, dtype=dtype, rngs=rngs
        )
        self.feed_forward_out = FeedForward(d_model, config.ff_mult, dropout=dropout, dtype=dtype, rngs=rngs)
        self.final_norm = nnx.LayerNorm(d_model, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        x = x + 0.5 * self.feed_forward_in(x)
        x = x + self.attention_dropout(self.attention(self.attention_norm(x), mask))
        x = x + self.convolution(x, mask)
        x = x + 0.5 * self.feed_forward_out(x)
        return self.final_norm(x)


class ConformerEncoder(nnx.Module):
    """logmel [B,T,F], frame_mask [B,T] -> (frames [B,T/4,D] zero on padding, mask [B,T/4])."""

    def __init__(self, config: ml_collections.ConfigDict, num_mel_bins: int, *, dtype: jnp.dtype, rngs: nnx.Rngs):
        self.frontend = ConvSubsampling(num_mel_bins, config.d_model, dropout=config.dropout, dtype=dtype, rngs=rngs)
        self.blocks = nnx.List([ConformerBlock(config, dtype=dtype, rngs=rngs) for _ in range(config.num_layers)])

    def __call__(self, logmel: jax.Array, frame_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
        x, mask = self.frontend(logmel, frame_mask)
        for block in self.blocks:
            x = block(x, mask)
        return jnp.where(mask[..., None], x, jnp.zeros((), x.dtype)), mask
