"""Self-supervised speech encoders (wav2vec 2.0, HuBERT, WavLM) in Flax NNX, from Hugging Face checkpoints.

    from speecheq_jax.ssl import load_encoder
    module, config = load_encoder("wav2vec2-base/")     # config.json + model.safetensors
    out = module(waveform)                               # float32 [B, N] at 16 kHz
    out.hidden_states                                    # [L+1, B, T, D]

Files: config.py (the parsed config.json), feature_encoder.py (conv stack, projection),
transformer.py (positional conv, layers), wavlm_bias.py, encoder.py (the whole module),
loader.py (checkpoint -> module), extract.py and __main__.py (the `extract` command).
"""

from speecheq_jax.ssl.config import EncoderConfig
from speecheq_jax.ssl.encoder import EncoderOutput, SSLEncoder
from speecheq_jax.ssl.errors import CheckpointError
from speecheq_jax.ssl.loader import load_encoder

__all__ = ["CheckpointError", "EncoderConfig", "EncoderOutput", "SSLEncoder", "load_encoder"]
