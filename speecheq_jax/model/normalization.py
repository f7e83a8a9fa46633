"""Frame normalisations for the conformer convolution module that never look at padded frames.

BatchNorm over a padded batch would mix the zeros of padded frames into its statistics, so the
output of an utterance would depend on how much padding its batch-mates forced on it. Here the
statistics are moments over VALID frames only. Under `jax.jit` over a batch sharded on the `data`
mesh axis the sums below are global reductions, so the statistics are synchronised across devices
without any collective written by hand. Statistics and the normalisation itself run in float32;
the result is cast back to the computation dtype.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


def masked_moments(x: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per-feature mean and (biased) variance of x [B,T,D] over frames where mask [B,T] is True.

    Two-pass (mean first, then centred squares) for accuracy. Returns (mean [D], var [D], count []),
    all float32; mean and var are 0 when no frame is valid (count == 0).
    """
    x = x.astype(jnp.float32)
    weights = mask.astype(jnp.float32)[..., None]
    count = jnp.sum(weights)
    denominator = jnp.maximum(count, 1.0)
    mean = jnp.sum(x * weights, axis=(0, 1)) / denominator
    var = jnp.sum(jnp.square((x - mean) * weights), axis=(0, 1)) / denominator
    return mean, var, count


class MaskedBatchNorm(nnx.Module):
    """BatchNorm over x [B,T,D] with statistics taken over valid frames only.

    Train mode (`use_running_average=False`, set by `model.train()`) normalises with the batch's
    masked moments and updates the running moments; a batch with no valid frame leaves them as they
    were. Eval mode (`model.eval()`) uses the running moments, so an utterance's output does not
    depend on its batch at all.
    """

    def __init__(
        self,
        num_features: int,
        *,
        momentum: float = 0.9,
        epsilon: float = 1e-5,
        dtype: jnp.dtype = jnp.float32,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        del rngs  # scale and bias have fixed initial values; kept for the common module signature
        self.mean = nnx.BatchStat(jnp.zeros((num_features,), jnp.float32))
        self.var = nnx.BatchStat(jnp.ones((num_features,), jnp.float32))
        self.scale = nnx.Param(jnp.ones((num_features,), param_dtype))
        self.bias = nnx.Param(jnp.zeros((num_features,), param_dtype))
        self.momentum = momentum
        self.epsilon = epsilon
        self.dtype = dtype
        self.use_running_average = False

    def set_view(self, use_running_average: bool | None = None) -> None:
        """Hook for `nnx.view(model, use_running_average=...)`."""
        if use_running_average is not None:
            self.use_running_average = use_running_average

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        """x [B,T,D], mask [B,T] -> [B,T,D] in the computation dtype."""
        if self.use_running_average:
            mean, var = self.mean[...], self.var[...]
        else:
            mean, var, count = masked_moments(x, mask)
            has_frames = count > 0
            blend = lambda running, batch: jnp.where(
                has_frames, self.momentum * running + (1.0 - self.momentum) * batch, running
            )
            self.mean[...] = jax.lax.stop_gradient(blend(self.mean[...], mean))
            self.var[...] = jax.lax.stop_gradient(blend(self.var[...], var))
        normalised = (x.astype(jnp.float32) - mean) * jax.lax.rsqrt(var + self.epsilon)
        return (normalised * self.scale[...] + self.bias[...]).astype(self.dtype)


class FrameLayerNorm(nnx.Module):
    """LayerNorm over the features of each frame: the alternative to MaskedBatchNorm.

    Its statistics are per frame, so padding cannot reach them; it takes the mask only to share
    MaskedBatchNorm's call signature, which lets the convolution module swap the two by config.
    """

    def __init__(self, num_features: int, *, dtype: jnp.dtype, param_dtype: jnp.dtype, rngs: nnx.Rngs):
        self.norm = nnx.LayerNorm(num_features, dtype=dtype, param_dtype=param_dtype, rngs=rngs)

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        """x [B,T,D], mask [B,T] (unused) -> [B,T,D]."""
        del mask
        return self.norm(x)


def make_frame_norm(
    kind: str, num_features: int, *, dtype: jnp.dtype, param_dtype: jnp.dtype, rngs: nnx.Rngs
) -> MaskedBatchNorm | FrameLayerNorm:
    """The convolution module's normalisation named by `model.norm` ("batch" or "layer")."""
    norms = {"batch": MaskedBatchNorm, "layer": FrameLayerNorm}
    if kind not in norms:
        raise ValueError(f"model.norm = {kind!r}; expected one of {sorted(norms)}")
    return norms[kind](num_features, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
