"""The two head modules every head spec is built from (speecheq_jax/heads/ says which head uses which).

Utterance heads are small MLPs on pooled utterance statistics; frame heads a linear classifier per
encoder frame. Both return raw float32 outputs; the head's spec turns them into the model's output
(e.g. a sigmoid for intensity). Losses are computed elsewhere, never here.
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


class FrameHead(nnx.Module):
    """frames [B,T',D] -> [B,T',K] float32 (the phoneme head: K = V+1, index 0 the CTC blank)."""

    def __init__(self, d_model: int, num_outputs: int, *, dtype: jnp.dtype, rngs: nnx.Rngs):
        self.output = nnx.Linear(d_model, num_outputs, dtype=dtype, rngs=rngs)

    def __call__(self, frames: jax.Array) -> jax.Array:
        return self.output(frames).astype(jnp.float32)
