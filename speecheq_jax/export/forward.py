"""The exported computation: the model in eval mode as a pure function with its parameters baked in.

    forward(logmel float32 [B, T, 80], frame_mask bool [B, T]) -> {
        category_prob float32 [B, C], intensity float32 [B], gender_prob float32 [B, 2],
        phoneme_ids int32 [B, T/4] (per-frame argmax, for greedy CTC), out_mask bool [B, T/4]}

One output per head the run trained, named by its spec's `eval_output` (speecheq_jax/heads/),
the same outputs the eval step gives evaluation. `logmel` is CMVN-normalised with the
model card's pooled statistics and zero on padding; T is a multiple of 4 (the
front end's subsampling). It goes through the model's public call
(`SpeechEQ(batch) -> ModelOutput`), so any internal formulation of the
encoder exports the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
from flax import nnx

from speecheq_jax.model.speecheq import SpeechEQ, prediction_outputs
from speecheq_jax.model.waveform_model import WaveformSpeechEQ

Forward = Callable[[jax.Array, jax.Array], dict[str, jax.Array]]
"""(features, mask) -> outputs: (logmel [B,T,80], frame_mask [B,T]), or (waveform [B,N], sample_mask [B,N])."""


def make_forward(model: SpeechEQ) -> Forward:
    """The pure inference function of `model` (which must be in eval mode: no dropout, running statistics)."""

    graphdef, state = nnx.split(model)

    def forward(logmel: jax.Array, frame_mask: jax.Array) -> dict[str, jax.Array]:
        # Merged inside the trace: NNX transforms in the model (the scanned blocks) must meet a module
        # built at the trace level they run at; the state arrays stay closed-over constants.
        return prediction_outputs(nnx.merge(graphdef, state, copy=True)({"logmel": logmel, "frame_mask": frame_mask}))

    return forward


def make_waveform_forward(model: WaveformSpeechEQ) -> Forward:
    """The pure inference function of the SSL route with its encoder inside: (waveform [B,N] float32 at 16 kHz,
    sample_mask [B,N] bool) -> the same outputs as `make_forward`'s (eval mode, as there)."""

    graphdef, state = nnx.split(model)

    def forward(waveform: jax.Array, sample_mask: jax.Array) -> dict[str, jax.Array]:
        return prediction_outputs(nnx.merge(graphdef, state, copy=True)(waveform, sample_mask))

    return forward
