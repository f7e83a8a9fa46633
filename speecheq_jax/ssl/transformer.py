"""The transformer part of the encoder: frames [B, T, D] -> all hidden states [L+1, B, T, D].

    x -> zero padded frames -> x + PosConv(x) -> [post-LN: LayerNorm] -> L layers -> [pre-LN: LayerNorm]

With a frame mask [B, T] (padded batches) a valid frame never sees a padded one: padded frames are
zeroed before the positional conv (as the 'same' padding of the utterance alone; HuBERT's batch-norm
variant zeroes them again after its BatchNorm, which transformers does not, so its padded rows equal
the utterance alone rather than transformers' padded batch), attention masks them as keys, and
everything else is per frame (WavLM's bias depends on the offset and the query frame only).

Post-LN layer ("group" models, do_stable_layer_norm False):
    x = LN(x + Attn(x)); x = LN(x + FFN(x))
Pre-LN layer (stable layer norm):
    x = x + Attn(LN(x)); x = x + FFN(LN(x))

The positional embedding is a grouped Conv1d (kernel K, 'same' padding, the extra frame of an even
K dropped) + activation, its kernel under weight norm over the kernel axis (w = g * v / |v|, norms
taken over output and input channels per tap: g [1, 1, K], v [D, D/G, K]); HuBERT may instead run a
BatchNorm (eval statistics) before a plain conv (`conv_pos_batch_norm`).

The L layers are one module whose parameters carry a leading layer axis (created with nnx.vmap,
run with nnx.scan as model/conformer.py does): one compiled layer whatever the depth. WavLM's
relative position bias is computed once from its table (ssl/wavlm_bias.py) and gated in every layer.
Deterministic: no dropout, layerdrop or time masking (inference and plain fine-tuning).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from speecheq_jax.ssl.config import EncoderConfig
from speecheq_jax.ssl.layers import ACTIVATION_FUNCTIONS, layer_norm, per_frame
from speecheq_jax.ssl.wavlm_bias import RelativePositionBias, gate_position_bias

BATCH_NORM_EPS = 1e-5


def same_padding(kernel_size: int) -> tuple[int, int]:
    """'same' padding K//2 on both sides, less the last frame for an even K (transformers pads, then drops it)."""
    return kernel_size // 2, kernel_size // 2 - (1 - kernel_size % 2)


def grouped_conv(x: jax.Array, kernel: jax.Array, groups: int) -> jax.Array:
    """'same' grouped Conv1d without bias: x [B, T, D], kernel [D, D/G, K] (PyTorch's layout) -> [B, T, D].

    Run as G ungrouped convolutions on the channel slices: XLA:CPU's kernel gradient of a grouped
    convolution (feature_group_count) is very slow. By-hand trace, one process on the loaded 2-core
    machine, a base model's positional conv on 10 s of audio: grouped 16.8 s forward and backward,
    214 ms forward; G convolutions 1.1 s and 144 ms.
    """
    width = kernel.shape[0] // groups
    padding = (same_padding(kernel.shape[-1]),)
    outputs = [jax.lax.conv_general_dilated(x[..., g * width:(g + 1) * width], kernel[g * width:(g + 1) * width],
                                            window_strides=(1,), padding=padding,
                                            dimension_numbers=("NWC", "OIW", "NWC")) for g in range(groups)]
    return jnp.concatenate(outputs, axis=-1)


def zero_padded_frames(x: jax.Array, mask: jax.Array | None) -> jax.Array:
    """x [B, T, D] with the frames outside mask [B, T] set to 0 (x itself without a mask)."""
    return x if mask is None else jnp.where(mask[..., None], x, jnp.zeros((), x.dtype))


class PositionalConv(nnx.Module):
    """Grouped 'same' Conv1d x [B, T, D] -> [B, T, D], parameters in PyTorch's layout (D/G input channels a group).

    With weight norm (PyTorch's weight_norm, dim=2): kernel = g * v / |v|, the norm over output and input
    channels per tap, weight_g [1, 1, K], weight_v [D, D/G, K]. Without (HuBERT's batch-norm variant):
    weight [D, D/G, K]. bias [D].
    """

    def __init__(self, features: int, kernel_size: int, groups: int, *, weight_norm: bool, rngs: nnx.Rngs):
        init = nnx.initializers.lecun_normal(in_axis=(1, 2), out_axis=0)
        kernel = nnx.Param(init(rngs.params(), (features, features // groups, kernel_size), jnp.float32))
        if weight_norm:
            self.weight_v, self.weight_g = kernel, nnx.Param(jnp.ones((1, 1, kernel_size), jnp.float32))
        else:
            self.weight = kernel
        self.bias = nnx.Param(jnp.zeros((features,), jnp.float32))
        self.weight_norm = weight_norm
        self.groups = groups

    def kernel(self) -> jax.Array:
        if not self.weight_norm:
            return self.weight[...]
        v = self.weight_v[...]
        return self.weight_g[...] * v / jnp.sqrt(jnp.sum(v * v, axis=(0, 1), keepdims=True))

    def __call__(self, x: jax.Array) -> jax.Array:
        return grouped_conv(x, self.kernel(), self.groups) + self.bias[...]


class PositionalConvEmbedding(nnx.Module):
    """x [B, T, D] -> activation(grouped conv(x)) [B, T, D]; HuBERT's variant: BatchNorm first, no weight norm."""

    def __init__(self, config: EncoderConfig, *, rngs: nnx.Rngs):
        features = config.hidden_size
        self.batch_norm = (nnx.BatchNorm(features, use_running_average=True, epsilon=BATCH_NORM_EPS,
                                         use_fast_variance=False, rngs=rngs) if config.conv_pos_batch_norm else None)
        self.conv = PositionalConv(features, config.num_conv_pos_embeddings, config.num_conv_pos_embedding_groups,
                                   weight_norm=not config.conv_pos_batch_norm, rngs=rngs)
        self.activation = ACTIVATION_FUNCTIONS[config.feat_extract_activation]

    def __call__(self, x: jax.Array, mask: jax.Array | None) -> jax.Array:
        """x [B, T, D] with padded frames zeroed, frame mask [B, T] or None -> [B, T, D]."""
        if self.batch_norm is not None:
            x = zero_padded_frames(self.batch_norm(x), mask)
        return self.activation(self.conv(x))


class Attention(nnx.Module):
    """Multi-head self-attention: x [B, T, D], key mask [B, T] or None, WavLM bias [H, T, T] or None -> [B, T, D].

    WavLM layers also own the gate of the shared position bias (`gru_rel_pos_linear`, `gru_rel_pos_const`).
    """

    def __init__(self, config: EncoderConfig, *, rngs: nnx.Rngs):
        features, heads = config.hidden_size, config.num_attention_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (
            nnx.Linear(features, features, rngs=rngs) for _ in range(4))
        if config.arch == "wavlm":
            self.gru_rel_pos_linear = nnx.Linear(config.head_dim, 8, rngs=rngs)
            self.gru_rel_pos_const = nnx.Param(jnp.ones((1, heads, 1, 1), jnp.float32))
        self.num_heads = heads

    def __call__(self, x: jax.Array, mask: jax.Array | None, position_bias: jax.Array | None) -> jax.Array:
        batch, length, features = x.shape
        q, k, v = (per_frame(proj, x).reshape(batch, length, self.num_heads, -1)
                   for proj in (self.q_proj, self.k_proj, self.v_proj))
        bias = None
        if position_bias is not None:
            bias = gate_position_bias(x, self.gru_rel_pos_linear, self.gru_rel_pos_const[...], position_bias)
        key_mask = None if mask is None else mask[:, None, None, :]
        out = jax.nn.dot_product_attention(q, k, v, bias=bias, mask=key_mask)
        return per_frame(self.out_proj, out.reshape(batch, length, features))


class FeedForward(nnx.Module):
    """Linear(D, F) -> activation -> Linear(F, D): [B, T, D] -> [B, T, D]."""

    def __init__(self, config: EncoderConfig, *, rngs: nnx.Rngs):
        self.intermediate_dense = nnx.Linear(config.hidden_size, config.intermediate_size, rngs=rngs)
        self.output_dense = nnx.Linear(config.intermediate_size, config.hidden_size, rngs=rngs)
        self.activation = ACTIVATION_FUNCTIONS[config.hidden_act]

    def __call__(self, x: jax.Array) -> jax.Array:
        return per_frame(lambda h: self.output_dense(self.activation(self.intermediate_dense(h))), x)


class EncoderLayer(nnx.Module):
    """One post-LN or pre-LN (stable) layer: x [B, T, D] -> [B, T, D] (formulas in the module docstring)."""

    def __init__(self, config: EncoderConfig, *, rngs: nnx.Rngs):
        self.attention = Attention(config, rngs=rngs)
        self.layer_norm = layer_norm(config.hidden_size, config.layer_norm_eps, rngs)
        self.feed_forward = FeedForward(config, rngs=rngs)
        self.final_layer_norm = layer_norm(config.hidden_size, config.layer_norm_eps, rngs)
        self.stable = config.do_stable_layer_norm

    def __call__(self, x: jax.Array, mask: jax.Array | None, position_bias: jax.Array | None) -> jax.Array:
        if self.stable:
            x = x + self.attention(self.layer_norm(x), mask, position_bias)
            return x + self.feed_forward(self.final_layer_norm(x))
        x = self.layer_norm(x + self.attention(x, mask, position_bias))
        return self.final_layer_norm(x + self.feed_forward(x))


class TransformerEncoder(nnx.Module):
    """frames [B, T, D], frame mask [B, T] or None -> (hidden states [L+1, B, T, D], last hidden state [B, T, D]).

    hidden_states[0] is the first layer's input, hidden_states[i] layer i's output, as transformers'
    `output_hidden_states`. Pre-LN models end with a LayerNorm: hidden_states[-1] is BEFORE it (as
    transformers 5.x returns it), the last hidden state after it; post-LN models: the two are equal.
    """

    def __init__(self, config: EncoderConfig, *, rngs: nnx.Rngs):
        self.pos_conv_embed = PositionalConvEmbedding(config, rngs=rngs)
        self.layer_norm = layer_norm(config.hidden_size, config.layer_norm_eps, rngs)

        @nnx.vmap(in_axes=0, out_axes=0)
        def stacked_layers(key: jax.Array) -> EncoderLayer:
            return EncoderLayer(config, rngs=nnx.Rngs(params=key))

        self.layers = stacked_layers(jax.random.split(rngs.params(), config.num_hidden_layers))
        self.position_bias = (
            RelativePositionBias(config.num_buckets, config.max_bucket_distance, config.num_attention_heads,
                                 rngs=rngs) if config.arch == "wavlm" else None)
        self.stable = config.do_stable_layer_norm
        self.num_layers = config.num_hidden_layers

    def __call__(self, x: jax.Array, mask: jax.Array | None, frozen_stages: int = 0) -> tuple[jax.Array, jax.Array]:
        """x [B, T, D], frame mask [B, T] or None -> (hidden states [L+1, B, T, D], last hidden state [B, T, D]).

        frozen_stages: how many of the stages (0 the embedding: positional conv, post-LN LayerNorm, WavLM's
        bias table, and whatever produced x; 1..L the layers; L+1 the pre-LN final LayerNorm) run under
        jax.lax.stop_gradient, bottom up (ssl/finetune.py): no gradient reaches them or anything below, and
        the backward pass stops at the first trained stage. 0: all of them trained, the plain forward.
        """
        x = zero_padded_frames(x, mask)
        x = x + self.pos_conv_embed(x, mask)
        if not self.stable:
            x = self.layer_norm(x)
        position_bias = None if self.position_bias is None else self.position_bias(x.shape[1])
        if frozen_stages >= 1:
            x, position_bias = jax.lax.stop_gradient((x, position_bias))
        frozen_layers = min(max(frozen_stages - 1, 0), self.num_layers)
        last, outputs = x, []
        for start, stop in ((0, frozen_layers), (frozen_layers, self.num_layers)):
            if stop > start:  # the frozen layers, then the trained ones: two scans, the first without gradient
                last, layer_outputs = self._run_layers(last, mask, position_bias, start, stop)
                if stop <= frozen_layers:
                    last, layer_outputs = jax.lax.stop_gradient((last, layer_outputs))
                outputs.append(layer_outputs)
        hidden_states = jnp.concatenate([x[None], *outputs], axis=0)
        if self.stable:
            last = self.layer_norm(last)
        return hidden_states, jax.lax.stop_gradient(last) if frozen_stages > self.num_layers + 1 else last

    def _run_layers(self, x: jax.Array, mask: jax.Array | None, position_bias: jax.Array | None, start: int,
                    stop: int) -> tuple[jax.Array, jax.Array]:
        """Layers start..stop-1 on x [B, T, D] -> (their last output [B, T, D], every output [stop-start, B, T, D])."""
        layers = self.layers
        if (start, stop) != (0, self.num_layers):
            graphdef, state = nnx.split(layers)
            layers = nnx.merge(graphdef, jax.tree.map(lambda leaf: leaf[start:stop], state))

        def run_layer(h: jax.Array, layer: EncoderLayer) -> tuple[jax.Array, jax.Array]:
            h = layer(h, mask, position_bias)
            return h, h

        return nnx.scan(run_layer, in_axes=(nnx.Carry, 0), out_axes=(nnx.Carry, 0))(x, layers)
