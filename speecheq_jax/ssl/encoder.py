"""wav2vec 2.0 / HuBERT / WavLM encoder in Flax NNX: waveform [B, N] -> hidden states [L+1, B, T, D].

Float32 parity with transformers' Wav2Vec2Model / HubertModel / WavLMModel with
`output_hidden_states=True` (tests/ssl): `hidden_states` stacks their `hidden_states` tuple (L+1
entries; for pre-LN "stable layer norm" models the last entry is taken BEFORE the final LayerNorm, as
transformers 5.x returns it), `last_hidden_state` is their `last_hidden_state` (after that LayerNorm).

Padded batches: `attention_mask` [B, N] (True on real samples) is honoured by "layer" models, whose
frames depend only on their own samples: each row then equals that utterance run alone on its valid
frames. "group" models normalise the first conv's channels over the whole row, padding included, so
they refuse a mask: run them one utterance at a time (or in groups of equal length).
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

    def __call__(self, waveform: jax.Array, attention_mask: jax.Array | None = None) -> EncoderOutput:
        """waveform float32 [B, N], attention_mask bool [B, N] or None -> EncoderOutput (T frames per row)."""
        if attention_mask is not None and self.config.feat_extract_norm == "group":
            raise ValueError("a group-norm encoder (feat_extract_norm='group') cannot take an attention mask: its "
                             "first conv normalises over the whole padded row; run one utterance at a time")
        features = self.feature_extractor(waveform)
        frame_mask = None
        if attention_mask is not None:
            frames = self.config.num_frames(jnp.sum(attention_mask, axis=-1))
            frame_mask = jnp.arange(features.shape[1])[None, :] < frames[:, None]
        hidden_states, last = self.encoder(self.feature_projection(features), frame_mask)
        return EncoderOutput(hidden_states, last, frame_mask)
