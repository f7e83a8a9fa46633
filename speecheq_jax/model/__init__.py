"""Model: conformer encoder, attentive pooling, the four heads and the SpeechEQ model."""

from speecheq_jax.model.config import HEAD_NAMES, SIZES, default_model_config
from speecheq_jax.model.params import count_params, parameter_table
from speecheq_jax.model.speecheq import ModelOutput, SpeechEQ

__all__ = [
    "HEAD_NAMES",
    "SIZES",
    "ModelOutput",
    "SpeechEQ",
    "count_params",
    "default_model_config",
    "parameter_table",
]
