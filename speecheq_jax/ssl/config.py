"""The encoder fields of a Hugging Face wav2vec 2.0 / HuBERT / WavLM config.json, parsed and checked.

A config.json written by `save_pretrained` may leave out fields at their class default (older
HuBERT files have no `feat_proj_layer_norm`, none but HuBERT's has `conv_pos_batch_norm`), so
absent fields take the defaults of transformers' config classes (`DEFAULTS`, checked against
transformers in tests/ssl). Fields that change only training (dropouts, masking, layerdrop) or heads
(vocab_size, tdnn_*, codevectors) are not read.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from speecheq_jax.ssl.errors import CheckpointError
from speecheq_jax.ssl.layers import ACTIVATION_FUNCTIONS

ARCHITECTURES = ("wav2vec2", "hubert", "wavlm")
"""config.json `model_type`s this package implements; also their weight-name prefix (`wav2vec2.` ...)."""

ACTIVATIONS = tuple(ACTIVATION_FUNCTIONS)
"""transformers' ACT2FN names we implement ("gelu" is the exact, erf GELU)."""

DEFAULTS: dict[str, Any] = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-5,
    "feat_extract_norm": "group",
    "feat_extract_activation": "gelu",
    "conv_dim": (512, 512, 512, 512, 512, 512, 512),
    "conv_stride": (5, 2, 2, 2, 2, 2, 2),
    "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
    "conv_bias": False,
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
    "do_stable_layer_norm": False,
    "feat_proj_layer_norm": True,
    "conv_pos_batch_norm": False,
    "num_buckets": 320,
    "max_bucket_distance": 800,
}
"""Defaults of transformers' Wav2Vec2Config / HubertConfig / WavLMConfig for the fields read here."""


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """What builds the encoder. `arch` is config.json's `model_type`.

    `feat_proj_layer_norm` and `conv_pos_batch_norm` are HuBERT options (always True / False for the
    others); `num_buckets` and `max_bucket_distance` are WavLM's relative position buckets.
    """

    arch: str
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    hidden_act: str
    layer_norm_eps: float
    feat_extract_norm: str
    feat_extract_activation: str
    conv_dim: tuple[int, ...]
    conv_stride: tuple[int, ...]
    conv_kernel: tuple[int, ...]
    conv_bias: bool
    num_conv_pos_embeddings: int
    num_conv_pos_embedding_groups: int
    do_stable_layer_norm: bool
    feat_proj_layer_norm: bool
    conv_pos_batch_norm: bool
    num_buckets: int
    max_bucket_distance: int

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def num_frames(self, num_samples: int) -> int:
        """Encoder frames of `num_samples` samples: each unpadded conv maps n -> (n - kernel) // stride + 1."""
        for kernel, stride in zip(self.conv_kernel, self.conv_stride):
            num_samples = (num_samples - kernel) // stride + 1
        return num_samples

    @property
    def min_samples(self) -> int:
        """The fewest samples that give one frame (400 at 16 kHz for the standard conv stack)."""
        samples = 1
        for kernel, stride in reversed(list(zip(self.conv_kernel, self.conv_stride))):
            samples = (samples - 1) * stride + kernel
        return samples


def _problems(config: EncoderConfig, raw: Mapping[str, Any]) -> list[str]:
    """Why `config` cannot be built (unsupported or inconsistent fields), one phrase each."""
    problems = []
    if config.feat_extract_norm not in ("group", "layer"):
        problems.append(f"feat_extract_norm {config.feat_extract_norm!r} is not 'group' or 'layer'")
    for field in ("hidden_act", "feat_extract_activation"):
        if getattr(config, field) not in ACTIVATIONS:
            problems.append(f"{field} {getattr(config, field)!r} is not one of {', '.join(ACTIVATIONS)}")
    if not len(config.conv_dim) == len(config.conv_stride) == len(config.conv_kernel):
        problems.append("conv_dim, conv_stride and conv_kernel differ in length")
    if raw.get("num_feat_extract_layers", len(config.conv_dim)) != len(config.conv_dim):
        problems.append("num_feat_extract_layers differs from len(conv_dim)")
    if config.hidden_size % config.num_attention_heads:
        problems.append(f"hidden_size {config.hidden_size} is not a multiple of num_attention_heads")
    if config.hidden_size % config.num_conv_pos_embedding_groups:
        problems.append(f"hidden_size {config.hidden_size} is not a multiple of num_conv_pos_embedding_groups")
    if raw.get("add_adapter") or raw.get("adapter_attn_dim") is not None:
        problems.append("adapters (add_adapter / adapter_attn_dim) are not supported")
    return problems


def parse_config(raw: Mapping[str, Any], where: str = "config.json") -> EncoderConfig:
    """EncoderConfig of a config.json's dict; absent fields take `DEFAULTS`.

    Raises:
      CheckpointError: an unknown model_type, or unsupported or inconsistent fields (all named in one line).
    """
    arch = raw.get("model_type")
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"{where}: model_type {arch!r} is not one of {', '.join(ARCHITECTURES)}")
    values = {name: raw.get(name, default) for name, default in DEFAULTS.items()}
    for name in ("conv_dim", "conv_stride", "conv_kernel"):
        values[name] = tuple(values[name])
    if arch != "hubert":
        values["feat_proj_layer_norm"], values["conv_pos_batch_norm"] = True, False
    config = EncoderConfig(arch=arch, **values)
    problems = _problems(config, raw)
    if problems:
        raise CheckpointError(f"{where}: {'; '.join(problems)}")
    return config


def read_config(checkpoint_dir: str | Path) -> EncoderConfig:
    """EncoderConfig of `checkpoint_dir`/config.json (CheckpointError if missing or unreadable)."""
    path = Path(checkpoint_dir) / "config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot read the config ({' '.join(str(e).split())})") from e
    return parse_config(raw, str(path))
