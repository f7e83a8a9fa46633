"""Tiny random-weight transformers encoders (PyTorch), each built and saved once per session.

torch and transformers are test-only dependencies (requirements-ssl.txt); they are imported, never
skipped. Every parameter and BatchNorm statistic is perturbed after transformers' init (which sets
norms to 1 / 0 and WavLM's gate constant to 1), so parity exercises every tensor.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import transformers

TINY: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "conv_dim": (32, 32, 32),
    "conv_kernel": (10, 3, 3),
    "conv_stride": (5, 2, 2),
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
}
"""20 samples a frame: 0.5 s at 16 kHz gives 399 frames."""

LAYER_NORM = {"feat_extract_norm": "layer", "do_stable_layer_norm": True, "conv_bias": True}
VARIANTS: dict[str, tuple[type, type, dict[str, Any]]] = {
    "wav2vec2_group": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model, {}),
    "wav2vec2_layer": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model, LAYER_NORM),
    "hubert_group": (transformers.HubertConfig, transformers.HubertModel, {}),
    "hubert_batch_norm": (transformers.HubertConfig, transformers.HubertModel,
                          {**LAYER_NORM, "conv_pos_batch_norm": True, "feat_proj_layer_norm": False}),
    # few buckets and a short max distance so that 399 frames reach the log-spaced buckets and their cap
    "wavlm_group": (transformers.WavLMConfig, transformers.WavLMModel, {"num_buckets": 16, "max_bucket_distance": 40}),
    "wavlm_layer": (transformers.WavLMConfig, transformers.WavLMModel,
                    {**LAYER_NORM, "num_buckets": 16, "max_bucket_distance": 40}),
}
SAMPLES = 8000


@dataclasses.dataclass(frozen=True)
class TinyCheckpoint:
    """A saved tiny model: its directory (model.safetensors + config.json) and the live PyTorch model."""

    directory: Path
    model: torch.nn.Module


def build_model(variant: str, seed: int) -> torch.nn.Module:
    """The variant's transformers model in eval mode, every parameter and BatchNorm statistic perturbed."""
    config_class, model_class, overrides = VARIANTS[variant]
    torch.manual_seed(seed)
    model = model_class(config_class(**TINY, **overrides)).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.normal_(0.0, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return model


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TinyCheckpoint]:
    """Every variant saved with save_pretrained (safetensors) under its own directory."""
    checkpoints = {}
    for seed, variant in enumerate(VARIANTS):
        model = build_model(variant, seed)
        directory = tmp_path_factory.mktemp(variant)
        model.save_pretrained(directory)
        checkpoints[variant] = TinyCheckpoint(directory, model)
    return checkpoints


@pytest.fixture(scope="session")
def waveform() -> np.ndarray:
    """float32 [1, SAMPLES]: random audio-scale noise."""
    return np.random.default_rng(0).normal(0.0, 0.3, (1, SAMPLES)).astype(np.float32)


def torch_hidden_states(model: torch.nn.Module, waveform: np.ndarray,
                        attention_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """transformers' (hidden states [L+1, B, T, D], last_hidden_state [B, T, D]) for waveform [B, N]."""
    with torch.no_grad():
        mask = None if attention_mask is None else torch.from_numpy(attention_mask.astype(np.int64))
        out = model(torch.from_numpy(waveform), attention_mask=mask, output_hidden_states=True)
    return np.stack([h.numpy() for h in out.hidden_states]), out.last_hidden_state.numpy()
