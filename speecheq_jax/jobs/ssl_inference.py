"""A restored SSL-route checkpoint with its encoder inside: the model `--mode predict` and `--mode export` run.

The encoder is loaded from the checkpoint directory the model card names (`features.checkpoint`), and
only if its weights are the ones the model was trained on: the sha256 of its files must equal the
card's `features.weights_sha256`, else one ConfigError line says so (states of another encoder would
be silently wrong input). A fine-tuned model (card `features.finetune` not "frozen") holds its own,
fine-tuned encoder in the checkpoint: that one is used, the checkpoint directory unread.
"""

from __future__ import annotations

from pathlib import Path

import jax
from flax import nnx

from speecheq_jax.jobs.evaluate_checkpoint import Restored
from speecheq_jax.model.waveform_model import WaveformSpeechEQ
from speecheq_jax.run_config import ConfigError
from speecheq_jax.ssl.extract import wants_normalize
from speecheq_jax.ssl.loader import load_encoder
from speecheq_jax.ssl.route import FROZEN_SWITCH, weights_sha256


def waveform_model(restored: Restored) -> WaveformSpeechEQ:
    """The restored model (eval mode) behind the encoder of its card; ConfigError if that encoder is gone or differs."""
    features = restored.card["features"]
    if features.get("finetune", FROZEN_SWITCH) != FROZEN_SWITCH:  # inference: the plain forward, no stop_gradient
        tuned = nnx.merge(restored.eval_def, jax.device_get(restored.state))[0].model
        return WaveformSpeechEQ(tuned.encoder, tuned.model, layers=tuned.layers, stored_dtype=None,
                                normalize=tuned.normalize)
    checkpoint = Path(features["checkpoint"])
    if not checkpoint.is_dir():
        raise ConfigError(f"the model's SSL encoder {checkpoint} (model card features.checkpoint) is not a directory "
                          "on this machine")
    digest = weights_sha256(checkpoint)
    if digest != features["weights_sha256"]:
        raise ConfigError(f"SSL encoder {checkpoint}: weights sha256 {digest[:16]}... differs from the model card's "
                          f"{features['weights_sha256'][:16]}...: not the encoder this model was trained on")
    encoder, _ = load_encoder(checkpoint)
    trainable, _ = nnx.merge(restored.eval_def, jax.device_get(restored.state))
    return WaveformSpeechEQ(encoder, trainable.model, layers=features["layers"], stored_dtype=features["dtype"],
                            normalize=wants_normalize(checkpoint))
