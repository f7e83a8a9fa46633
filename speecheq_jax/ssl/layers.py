"""Small building blocks shared by the SSL encoder's parts: activations, norms and an im2col convolution.

Norms use transformers' eps (1e-5 unless the config says otherwise) and the two-pass variance
(`use_fast_variance=False`) for float32 parity with PyTorch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import nnx

ACTIVATION_FUNCTIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "gelu_new": functools.partial(jax.nn.gelu, approximate=True),
    "gelu_pytorch_tanh": functools.partial(jax.nn.gelu, approximate=True),
    "relu": jax.nn.relu,
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
}
"""transformers' ACT2FN names -> JAX (`config.ACTIVATIONS` lists the same names)."""


def layer_norm(num_features: int, eps: float, rngs: nnx.Rngs) -> nnx.LayerNorm:
    """LayerNorm over the last axis with PyTorch's numerics."""
    return nnx.LayerNorm(num_features, epsilon=eps, use_fast_variance=False, rngs=rngs)


def frames_view(x: jax.Array, kernel_size: int, stride: int) -> jax.Array:
    """im2col of an unpadded strided convolution: x [B, T, C] -> [B, T', K*C], T' = (T - K) // stride + 1.

    Row t holds x[:, t*stride + k] for k = 0..K-1, channels fastest, so a kernel [K, C, O] reshaped to
    [K*C, O] applies the convolution as one matmul.
    """
    frames = (x.shape[1] - kernel_size) // stride + 1
    span = stride * (frames - 1) + 1
    taps = [x[:, k:k + span:stride] for k in range(kernel_size)]
    return jnp.concatenate(taps, axis=-1)


class StridedConv(nnx.Module):
    """Unpadded strided Conv1d as an im2col matmul: x [B, T, C] -> [B, (T - K) // stride + 1, O].

    kernel [K, C, O] (nnx.Conv's layout), bias [O] when `use_bias`. On a CPU one [T', K*C] x [K*C, O]
    matmul beats XLA's strided convolution (see bench/bench_ssl.py); the result is the same convolution.
    """

    def __init__(self, in_features: int, out_features: int, kernel_size: int, stride: int, *, use_bias: bool,
                 rngs: nnx.Rngs):
        init = nnx.initializers.lecun_normal()
        self.kernel = nnx.Param(init(rngs.params(), (kernel_size, in_features, out_features), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((out_features,), jnp.float32)) if use_bias else None
        self.stride = stride

    def __call__(self, x: jax.Array) -> jax.Array:
        kernel_size, in_features, out_features = self.kernel.shape
        out = frames_view(x, kernel_size, self.stride) @ self.kernel[...].reshape(kernel_size * in_features,
                                                                                   out_features)
        return out if self.bias is None else out + self.bias[...]
