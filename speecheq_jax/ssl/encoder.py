"""wav2vec 2.0 / HuBERT / WavLM encoder in Flax NNX: waveform [B, N] -> hidden states [L+1, B, T, D].

Float32 parity with transformers' Wav2Vec2Model / HubertModel / WavLMModel with
`output_hidden_states=True` (tests/ssl): `hidden_states` stacks their `hidden_states` tuple (L+1
entries; for pre-LN "stable layer norm" models the last entry is taken BEFORE the final LayerNorm, as
transformers 5.x returns it), `last_hidden_state` is their `last_hidden_state` (after that LayerNorm).

Padded batches: `attention_mask` [B, N] (True on a prefix of real samples) makes each row's valid
frames (`frame_mask`) equal that utterance run alone, for every variant: the group norm takes its
statistics over valid positions (ssl/feature_encoder.py), the transformer zeroes padded frames and
masks them as keys (ssl/transformer.py). Padded frames hold unspecified values.
Input is the waveform at the checkpoint's rate (16 kHz), normalised as its feature extractor says
(ssl/extract.py does both).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from speecheq_jax.ssl.config import EncoderConfig
from speecheq_jax.ssl.feature_encoder import FeatureEncoder, FeatureProjection
from speecheq_jax.ssl.transformer import TransformerEncoder


class EncoderOutput(NamedTuple):
    """hidden_states [L+1, B, T, D]; last_hidden_state [B, T, D]; frame_mask [B, T] (None without a mask)."""

    hidden_states: jax.Array
    last_hidden_state: jax.Array
    frame_mask: jax.Array | None


class SSLEncoder(nnx.Module):
    """The whole encoder; attribute names follow transformers' (`feature_extractor`, `feature_projection`,
    `encoder`) so checkpoint tensors map onto ours by rule (ssl/loader.py)."""

    def __init__(self, config: EncoderConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.feature_extractor = FeatureEncoder(config, rngs=rngs)
        self.feature_projection = FeatureProjection(config, rngs=rngs)
        self.encoder = TransformerEncoder(config, rngs=rngs)

    def __call__(self, waveform: jax.Array, attention_mask: jax.Array | None = None, *,
                 frozen_stages: int = 0) -> EncoderOutput:
        """waveform float32 [B, N], attention_mask bool [B, N] or None -> EncoderOutput (T frames per row).

        frozen_stages (fine-tuning, ssl/finetune.py): how many stages, bottom up, run under
        jax.lax.stop_gradient: 0 none (the plain forward), 1 the conv feature encoder, 2 also the feature
        projection and the transformer's embedding, 2 + k also its first k layers, L + 3 everything.
        """
        num_samples = None if attention_mask is None else jnp.sum(attention_mask, axis=-1)
        features = self.feature_extractor(waveform, num_samples)
        if frozen_stages >= 1:
            features = jax.lax.stop_gradient(features)
        frame_mask = None
        if num_samples is not None:
            frame_mask = jnp.arange(features.shape[1])[None, :] < self.config.num_frames(num_samples)[:, None]
        hidden_states, last = self.encoder(self.feature_projection(features), frame_mask, max(frozen_stages - 1, 0))
        return EncoderOutput(hidden_states, last, frame_mask)
