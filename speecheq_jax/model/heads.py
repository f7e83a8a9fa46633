"""Output heads: small MLPs on pooled utterance statistics, and a linear frame classifier for CTC.

Heads return raw float32 outputs (logits, or the intensity logit); the model applies the sigmoid
to intensity. Losses are computed by the train package, never here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from speecheq_jax.model.dropout import HashDropout


class UtteranceHead(nnx.Module):
    """pooled statistics [B,2D] -> Linear(2D,D) -> Swish -> Dropout -> Linear(D,K) -> [B,K] float32."""

    def __init__(self, d_model: int, num_outputs: int, *, dropout: float, dtype: jnp.dtype, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(2 * d_model, d_model, dtype=dtype, rngs=rngs)
        self.dropout = HashDropout(dropout, rngs=rngs)
        self.output = nnx.Linear(d_model, num_outputs, dtype=dtype, rngs=rngs)

    def __call__(self, pooled: jax.Array) -> jax.Array:
        return self.output(self.dropout(jax.nn.swish(self.hidden(pooled)))).astype(jnp.float32)


class PhonemeHead(nnx.Module):
    """frames [B,T',D] -> logits [B,T',V+1] float32; index 0 is the CTC blank, 1..V the phonemes."""

    def __init__(self, d_model: int, num_phonemes: int, *, dtype: jnp.dtype, rngs: nnx.Rngs):
        self.output = nnx.Linear(d_model, num_phonemes + 1, dtype=dtype, rngs=rngs)

    def __call__(self, frames: jax.Array) -> jax.Array:
        return self.output(frames).astype(jnp.float32)
