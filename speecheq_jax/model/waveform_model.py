"""The SSL route with its encoder inside: waveform [B,N] -> ModelOutput, for prediction, export and fine-tuning.

    waveform float32 [B,N] at 16 kHz, sample_mask bool [B,N]
      -> [zero mean, unit variance over each row's real samples, when the checkpoint's feature extractor does it]
      -> SSLEncoder (padding-exact) -> hidden states [L+1,B,T,D], frame mask [B,T]
      -> the K kept layers, rounded to the stored dtype (not when fine-tuning) -> ssl_states [B,T,K,D] (T even)
      -> SpeechEQ (the SSL front end, the conformer, the heads)

Rounding the states to the dtype the training data was stored in (float16 by default) gives the
trained model exactly the kind of input it was trained on. The module holds both parts as
submodules (`encoder`, `model`): for a states-route model it is built from a restored checkpoint and
the loaded encoder (jobs/ssl_inference.py); on the fine-tuning route it IS the trained model
(train/state.py `Trainable`), whose `finetuning` runs the frozen part of the encoder under
stop_gradient (ssl/finetune.py) and whose states are never rounded (`stored_dtype` None).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from speecheq_jax.frames import SSL_ROUTE
from speecheq_jax.model.speecheq import ModelOutput, SpeechEQ
from speecheq_jax.ssl.encoder import SSLEncoder
from speecheq_jax.ssl.finetune import FineTuning

NORMALIZE_EPS = 1e-7
"""transformers' zero_mean_unit_var_norm: (x - mean) / sqrt(var + 1e-7) (ssl/extract.py's)."""


def normalize_rows(waveform: jax.Array, sample_mask: jax.Array) -> jax.Array:
    """[B,N] -> [B,N]: each row's real samples to zero mean and unit variance, padding zero."""
    mask = sample_mask.astype(waveform.dtype)
    count = jnp.maximum(jnp.sum(mask, axis=-1, keepdims=True), 1.0)
    mean = jnp.sum(waveform * mask, axis=-1, keepdims=True) / count
    var = jnp.sum(jnp.square((waveform - mean) * mask), axis=-1, keepdims=True) / count
    return (waveform - mean) * jax.lax.rsqrt(var + NORMALIZE_EPS) * mask


class WaveformSpeechEQ(nnx.Module):
    """(waveform [B,N], sample_mask [B,N]) -> ModelOutput of `model` on the encoder's kept layers."""

    def __init__(self, encoder: SSLEncoder, model: SpeechEQ, *, layers: Sequence[int], stored_dtype: str | None,
                 normalize: bool, finetuning: FineTuning | None = None):
        self.encoder, self.model = encoder, model
        self.layers = tuple(layers)
        self.stored_dtype = stored_dtype
        self.normalize = normalize
        self.finetuning = finetuning

    def states(self, waveform: jax.Array, sample_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(ssl_states float32 [B,T,K,D], frame_mask [B,T]) as the SSL route stores and batches them (T even)."""
        if self.normalize:
            waveform = normalize_rows(waveform, sample_mask)
        if self.finetuning is None:
            out = self.encoder(waveform, sample_mask)
        else:
            out = self.finetuning.forward(self.encoder, waveform, sample_mask)
        kept = out.hidden_states[jnp.asarray(self.layers)]  # [K,B,T,D]
        states = jnp.transpose(kept, (1, 2, 0, 3))
        if self.stored_dtype is not None:
            states = states.astype(self.stored_dtype).astype(jnp.float32)
        frame_mask = out.frame_mask
        odd = states.shape[1] % SSL_ROUTE.subsampling
        if odd:
            extra = SSL_ROUTE.subsampling - odd
            states = jnp.pad(states, ((0, 0), (0, extra), (0, 0), (0, 0)))
            frame_mask = jnp.pad(frame_mask, ((0, 0), (0, extra)))
        return jnp.where(frame_mask[..., None, None], states, 0.0), frame_mask

    def __call__(self, waveform: jax.Array, sample_mask: jax.Array) -> ModelOutput:
        states, frame_mask = self.states(waveform, sample_mask)
        return self.model({SSL_ROUTE.key: states, "frame_mask": frame_mask})
