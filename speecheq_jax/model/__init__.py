"""Model: conformer encoder, attentive pooling, the heads and the SpeechEQ model.

Import from the submodules (`model.speecheq`, `model.model_config`, `model.params`): this package file
stays empty so that reading the model's config defaults does not import JAX.
"""
