"""Convolutional front end: log-mel frames [B,T,80] -> encoder frames [B,T/4,D].

Two 3x3 stride-2 Conv2d layers (ReLU) cut the frame rate by 4 (10 ms -> 40 ms), which makes
self-attention 16x cheaper, then a linear layer maps the flattened (frequency x channel) map to the
model dimension. Padding is symmetric (1 on each side), so output frame t covers input frames
2t-1..2t+1 and is valid exactly when input frame 2t is: the mask subsamples as `mask[:, ::2]`.
Padded input frames are zeroed and every conv output is re-masked, so a frame just past the end of
an utterance reads the same zeros whether it is batch padding or the convolution's own padding.

The second convolution (D -> D channels, a quarter of the model's forward FLOPs at size S) runs as
im2col + one matmul: XLA:CPU's convolution kernels reach about half the throughput of its matmul
on this shape, forward and backward. The first (1 -> D channels, tiny) stays a convolution.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from speecheq_jax.frames import SUBSAMPLING
from speecheq_jax.model.dropout import HashDropout


def _halved(size: int) -> int:
    """Output length of a 3-tap, stride-2 convolution with padding 1 on each side."""
    return (size - 1) // 2 + 1


def strided_patches(x: jax.Array) -> jax.Array:
    """3x3 stride-2 patches with padding 1: x [B,T,F,C] -> [B,T',F',9C], rows (dt, df, c)."""
    _, num_frames, num_bins, _ = x.shape
    out_frames, out_bins = _halved(num_frames), _halved(num_bins)
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    taps = [padded[:, dt:dt + 2 * out_frames:2, df:df + 2 * out_bins:2, :] for dt in range(3) for df in range(3)]
    return jnp.concatenate(taps, axis=-1)


class PatchConv2D(nnx.Module):
    """3x3 stride-2 Conv2d (padding 1) as im2col + matmul: [B,T,F,Cin] -> [B,T/2,F/2,Cout].

    Same parameters as `nnx.Conv` (kernel [3,3,Cin,Cout] HWIO, bias [Cout]) and the same result to
    float32 rounding.
    """

    def __init__(self, in_features: int, out_features: int, *, dtype: jnp.dtype, rngs: nnx.Rngs):
        init = nnx.initializers.lecun_normal()
        self.kernel = nnx.Param(init(rngs.params(), (3, 3, in_features, out_features), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((out_features,), jnp.float32))
        self.dtype = dtype

    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.kernel[...].astype(self.dtype)
        patches = strided_patches(x.astype(self.dtype))
        return patches @ kernel.reshape(-1, kernel.shape[-1]) + self.bias[...].astype(self.dtype)


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
        self.conv2 = PatchConv2D(d_model, d_model, dtype=dtype, rngs=rngs)
        self.projection = nnx.Linear(_halved(_halved(num_mel_bins)) * d_model, d_model, dtype=dtype, rngs=rngs)
        self.dropout = HashDropout(dropout, rngs=rngs)
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
