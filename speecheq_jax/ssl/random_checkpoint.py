"""A random-weight Hugging Face checkpoint directory written without torch: config.json + model.safetensors.

    write_random_checkpoint("ckpt/", TINY_WAV2VEC2, seed=0)

For demos and tests of the SSL feature route (configs/ssl_demo.py): every piece that reads a user's
checkpoint (`load_encoder`, preparation, prediction, export) runs on it, and transformers loads the
same directory (tests/ssl/test_random_checkpoint.py). It is no model of speech: its hidden states are
a fixed random function of the waveform.

Tensor names and shapes are exactly what the loader expects of the config (`loader.expected_tensors`,
no model prefix, weight norm as weight_g / weight_v). Values: biases 0, norm weights and weight_g 1,
every other tensor normal with std 1 / sqrt(fan in) (fan in = the product of a PyTorch weight's
non-output dimensions), so activations keep their scale through the layers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from speecheq_jax.ssl.config import DEFAULTS, parse_config
from speecheq_jax.ssl.loader import SAFETENSORS, expected_tensors

TINY_WAV2VEC2: dict[str, Any] = {
    "model_type": "wav2vec2",
    "architectures": ["Wav2Vec2Model"],
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "feat_extract_norm": "group",
    "conv_dim": (32,) * 7,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
}
"""wav2vec 2.0 "base" layout (group norm, post-LN, the standard 320-sample conv stack: 50 frames a second)
at 2 layers x 64 dims."""


def _value(name: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    leaf = name.rpartition(".")[2]
    if leaf == "bias":
        return np.zeros(shape, np.float32)
    if leaf == "weight_g" or (leaf == "weight" and "norm" in name):
        return np.ones(shape, np.float32)
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)


def write_random_checkpoint(directory: str | Path, fields: Mapping[str, Any], seed: int = 0) -> Path:
    """Writes config.json (`fields` over transformers' defaults) and random model.safetensors; returns the directory.

    Raises CheckpointError when `fields` describe an encoder this package cannot build.
    """
    directory = Path(directory)
    raw = {**DEFAULTS, **fields}
    raw = {key: list(value) if isinstance(value, tuple) else value for key, value in raw.items()}
    raw["num_feat_extract_layers"] = len(raw["conv_dim"])
    config = parse_config(raw, "random checkpoint fields")
    rng = np.random.default_rng(seed)
    tensors = {name: _value(name, shape, rng) for name, shape in sorted(expected_tensors(config).items())}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(raw, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    save_file(tensors, str(directory / SAFETENSORS), metadata={"format": "pt"})
    return directory
