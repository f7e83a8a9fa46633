"""Building blocks shared by the SSL encoder's parts: activations and norms.

Norms use transformers' eps (1e-5 unless the config says otherwise) and the two-pass variance
(`use_fast_variance=False`) for float32 parity with PyTorch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
from flax import nnx

ACTIVATION_FUNCTIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "gelu_new": functools.partial(jax.nn.gelu, approximate=True),
    "gelu_pytorch_tanh": functools.partial(jax.nn.gelu, approximate=True),
    "relu": jax.nn.relu,
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
}
"""transformers' ACT2FN names -> JAX: the activations a config may name."""


def layer_norm(num_features: int, eps: float, rngs: nnx.Rngs) -> nnx.LayerNorm:
    """LayerNorm over the last axis with PyTorch's numerics."""
    return nnx.LayerNorm(num_features, epsilon=eps, use_fast_variance=False, rngs=rngs)


def per_frame(fn: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
    """fn applied to x [B, T, D] as one [B*T, D] matrix -> [B, T, D'].

    For Linear layers: XLA:CPU computed the kernel gradient of a [B, T, D] input (a contraction over two
    axes) markedly slower (by-hand trace, 2-core machine: a base model's feed-forward forward and backward
    on 10 s of audio 258 ms, 155 ms flat).
    """
    return fn(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], -1)
