"""Front end of the SSL route: K kept hidden states [B,T,K,D] at 50 Hz -> encoder frames [B,T/2,d_model] at 25 Hz.

    states -> per-layer LayerNorm (no parameters) -> softmax(w)-weighted sum over K -> LayerNorm -> Linear(D, d)
           -> Conv1d(d, d, kernel 3, stride 2, padding 1) -> ReLU -> dropout

The weighted sum is SUPERB's featurizer (Yang et al. 2021): one learned scalar per kept layer, softmax
over layers (initialised equal), each layer first normalised per frame so the weights compare layers
whose scales differ by orders of magnitude (later wav2vec 2.0 layers are much larger). Normalising
per frame needs no corpus statistics, so the route stores no CMVN and raw-audio prediction needs none.

One stride-2 step brings the encoder to the log-mel route's 40 ms frame (`frames.SSL_ROUTE`): the
conformer's attention costs the same per second of audio on both routes, and the phoneme head's CTC
runs at the rate its length rules were set for (25 frames a second, comfortably above phoneme
rates). Masking follows model/frontend.py's rule: padded frames are zeroed first, output frame t
reads input frames 2t-1..2t+1 and is valid exactly when frame 2t is (mask[:, ::2]), so a frame
past an utterance's end reads the same zeros as batch padding or the convolution's own padding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from speecheq_jax.frames import SSL_ROUTE
from speecheq_jax.model.dropout import HashDropout

LAYER_NORM_EPS = 1e-5


class LayerWeightedSum(nnx.Module):
    """[B,T,K,D] -> [B,T,D]: softmax(weights)-weighted sum of the K layers, each normalised per frame first."""

    def __init__(self, num_layers: int):
        self.weights = nnx.Param(jnp.zeros((num_layers,), jnp.float32))

    def __call__(self, states: jax.Array) -> jax.Array:
        mean = jnp.mean(states, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(states - mean), axis=-1, keepdims=True)
        normed = (states - mean) * jax.lax.rsqrt(var + LAYER_NORM_EPS)
        return jnp.einsum("btkd,k->btd", normed, jax.nn.softmax(self.weights[...]).astype(states.dtype))


class SSLFrontEnd(nnx.Module):
    """(states [B,T,K,D], mask [B,T]) -> (frames [B,T/2,d_model], mask [B,T/2]); T must be even."""

    def __init__(self, num_layers: int, hidden_size: int, d_model: int, *, dropout: float, dtype: jnp.dtype,
                 rngs: nnx.Rngs):
        self.layer_sum = LayerWeightedSum(num_layers)
        self.norm = nnx.LayerNorm(hidden_size, epsilon=LAYER_NORM_EPS, dtype=dtype, rngs=rngs)
        self.projection = nnx.Linear(hidden_size, d_model, dtype=dtype, rngs=rngs)
        self.conv = nnx.Conv(d_model, d_model, kernel_size=(3,), strides=(2,), padding=((1, 1),), dtype=dtype,
                             rngs=rngs)
        self.dropout = HashDropout(dropout, rngs=rngs)
        self.dtype = dtype

    def __call__(self, states: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
        num_frames = states.shape[1]
        if num_frames % SSL_ROUTE.subsampling:
            raise ValueError(f"batch[{SSL_ROUTE.key!r}] has {num_frames} frames; the SSL front end needs a multiple "
                             f"of {SSL_ROUTE.subsampling}")
        x = self.projection(self.norm(self.layer_sum(states.astype(jnp.float32)).astype(self.dtype)))  # [B,T,d]
        x = jnp.where(mask[..., None], x, jnp.zeros((), x.dtype))
        mask = mask[:, ::SSL_ROUTE.subsampling]
        x = jax.nn.relu(self.conv(x)) * mask[..., None].astype(x.dtype)  # [B,T/2,d]
        return self.dropout(x), mask
