"""The convolutional feature encoder and the feature projection: waveform [B, N] -> frames [B, T, D].

Seven (config.conv_*) unpadded strided Conv1d + activation turn 16 kHz samples into 50 frames per
second (320 samples a frame, 400 for the first: `EncoderConfig.num_frames`). Normalisation:

* "group" (wav2vec 2.0 base, HuBERT base, WavLM base): a GroupNorm with one group per channel on the
  first conv only. It normalises each channel over the whole time axis of a row; in a padded batch
  (`num_samples` given) its mean and variance are taken over the row's valid output positions only,
  so a padded row normalises exactly as the utterance alone.
* "layer" (large / stable-layer-norm models): a LayerNorm over channels after every conv, per frame.

Padding never reaches a valid frame otherwise: an unpadded strided conv maps n valid inputs to
(n - kernel) // stride + 1 valid outputs, and each of those reads inputs below n only.

Attribute names follow transformers' (`conv_layers.{i}.conv`, `.layer_norm`, `feature_projection.
layer_norm`, `.projection`) so that checkpoint names map onto ours by rule (ssl/loader.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from speecheq_jax.ssl.config import EncoderConfig
from speecheq_jax.ssl.layers import ACTIVATION_FUNCTIONS, layer_norm

CONV_NORM_EPS = 1e-5
"""The conv stack's norms use PyTorch's default eps, not config.layer_norm_eps (as transformers does)."""


class FeatureConvLayer(nnx.Module):
    """Conv1d -> optional norm -> activation: [B, T, C] -> [B, T', O]."""

    def __init__(self, config: EncoderConfig, index: int, *, rngs: nnx.Rngs):
        in_features = config.conv_dim[index - 1] if index > 0 else 1
        out_features = config.conv_dim[index]
        # XLA's strided convolution: on a CPU it beat an im2col matmul (by-hand trace, 2-core machine: 260 ms
        # against 380 ms for the base model's second conv on 10 s of audio; forward and backward about equal)
        self.conv = nnx.Conv(in_features, out_features, config.conv_kernel[index], strides=config.conv_stride[index],
                             padding="VALID", use_bias=config.conv_bias, rngs=rngs)
        if config.feat_extract_norm == "layer":
            self.layer_norm = layer_norm(out_features, CONV_NORM_EPS, rngs)
        elif index == 0:  # "group": one group per channel, statistics over time
            self.layer_norm = nnx.GroupNorm(out_features, num_groups=out_features, epsilon=CONV_NORM_EPS,
                                            use_fast_variance=False, rngs=rngs)
        else:
            self.layer_norm = None
        self.activation = ACTIVATION_FUNCTIONS[config.feat_extract_activation]

    def __call__(self, x: jax.Array, valid_outputs: jax.Array | None) -> jax.Array:
        """x [B, T, C], valid_outputs int [B] (the row's valid output positions) or None (all) -> [B, T', O]."""
        x = self.conv(x)
        if isinstance(self.layer_norm, nnx.GroupNorm) and valid_outputs is not None:
            valid = jnp.arange(x.shape[1])[None, :] < valid_outputs[:, None]
            x = self.layer_norm(x, mask=jnp.broadcast_to(valid[..., None], x.shape))
        elif self.layer_norm is not None:
            x = self.layer_norm(x)
        return self.activation(x)


class FeatureEncoder(nnx.Module):
    """waveform [B, N], valid samples int [B] or None -> conv features [B, T, conv_dim[-1]], T = config.num_frames(N).

    A row's first config.num_frames(num_samples) frames equal those of its valid samples run alone.
    """

    def __init__(self, config: EncoderConfig, *, rngs: nnx.Rngs):
        self.conv_layers = nnx.List([FeatureConvLayer(config, i, rngs=rngs) for i in range(len(config.conv_dim))])
        self.kernels_strides = tuple(zip(config.conv_kernel, config.conv_stride))

    def __call__(self, waveform: jax.Array, num_samples: jax.Array | None = None) -> jax.Array:
        x, valid = waveform[..., None], num_samples
        for conv_layer, (kernel, stride) in zip(self.conv_layers, self.kernels_strides):
            valid = None if valid is None else (valid - kernel) // stride + 1
            x = conv_layer(x, valid)
        return x


class FeatureProjection(nnx.Module):
    """[B, T, conv_dim[-1]] -> [B, T, D]: LayerNorm (optional in HuBERT) then Linear."""

    def __init__(self, config: EncoderConfig, *, rngs: nnx.Rngs):
        conv_features = config.conv_dim[-1]
        self.layer_norm = (layer_norm(conv_features, config.layer_norm_eps, rngs)
                           if config.feat_proj_layer_norm else None)
        self.projection = nnx.Linear(conv_features, config.hidden_size, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return self.projection(x)
