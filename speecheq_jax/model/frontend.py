"""Convolutional front end: log-mel frames [B,T,80] -> encoder frames [B,T/4,D].

Two 3x3 stride-2 Conv2d layers (ReLU) cut the frame rate by 4 (10 ms -> 40 ms), which makes
self-attention 16x cheaper, then a linear layer maps the flattened (frequency x channel) map to the
model dimension. Padding is symmetric (1 on each side), so output frame t covers input frames
2t-1..2t+1 and is valid exactly when input frame 2t is: the mask subsamples as `mask[:, ::2]`.
Padded input frames are zeroed and every conv output is re-masked, so a frame just past the end of
an utterance reads the same zeros whether it is batch padding or the convolution's own padding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

SUBSAMPLING = 4


def _halved(size: int) -> int:
    """Output length of a 3-tap, stride-2 convolution with padding 1 on each side."""
    return (size - 1) // 2 + 1


class ConvSubsampling(nnx.Module):
    """[B,T,F] features and mask [B,T] -> ([B,T/4,D] frames, [B,T/4] mask); T must be a multiple of 4."""

    def __init__(
        self,
        num_mel_bins: int,
        d_model: int,
        *,
        dropout: float,
        dtype: jnp.dtype,
        rngs: nnx.Rngs,
    ):
        conv = dict(kernel_size=(3, 3), strides=(2, 2), padding=((1, 1), (1, 1)), dtype=dtype, rngs=rngs)
        self.conv1 = nnx.Conv(1, d_model, **conv)
        self.conv2 = nnx.Conv(d_model, d_model, **conv)
        self.projection = nnx.Linear(_halved(_halved(num_mel_bins)) * d_model, d_model, dtype=dtype, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)
        self.dtype = dtype

    def __call__(self, features: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
        """features [B,T,F] float, mask [B,T] bool -> (frames [B,T/4,D], mask [B,T/4])."""
        batch, num_frames, _ = features.shape
        if num_frames % SUBSAMPLING:
            raise ValueError(
                f"batch['logmel'] has {num_frames} frames; the front end needs a multiple of {SUBSAMPLING}"
            )
        x = jnp.where(mask[..., None], features, 0.0).astype(self.dtype)[..., None]  # [B,T,F,1]
        for conv in (self.conv1, self.conv2):
            mask = mask[:, ::2]
            x = jax.nn.relu(conv(x)) * mask[:, :, None, None].astype(self.dtype)  # [B,T',F',C]
        x = x.reshape(batch, x.shape[1], -1)  # [B,T/4,F/4*C]
        return self.dropout(self.projection(x)), mask
