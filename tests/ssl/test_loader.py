"""Checkpoint loading: weight-norm spellings, pytorch_model.bin, heads ignored, one-line errors."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file

from speecheq_jax.errors import DataError
from speecheq_jax.ssl.errors import CheckpointError
from speecheq_jax.ssl.loader import load_encoder
from tests.ssl.conftest import build_model, torch_hidden_states

pytestmark = pytest.mark.integration

TOLERANCE = 1e-4


def copy_with_tensors(source: Path, target: Path, tensors: dict[str, np.ndarray]) -> Path:
    """`source`'s config.json next to a model.safetensors holding `tensors`."""
    target.mkdir()
    shutil.copy(source / "config.json", target / "config.json")
    save_file(tensors, str(target / "model.safetensors"))
    return target


def assert_matches(directory: Path, model, waveform: np.ndarray) -> None:
    expected, _ = torch_hidden_states(model, waveform)
    module, _ = load_encoder(directory)
    assert np.max(np.abs(np.asarray(module(waveform).hidden_states) - expected)) <= TOLERANCE


def test_old_weight_norm_spelling(tiny_checkpoints, waveform, tmp_path):
    checkpoint = tiny_checkpoints["wav2vec2_group"]
    tensors = load_file(str(checkpoint.directory / "model.safetensors"))
    renamed = {name.replace("parametrizations.weight.original0", "weight_g")
                   .replace("parametrizations.weight.original1", "weight_v"): value for name, value in tensors.items()}
    assert renamed.keys() != tensors.keys()
    assert_matches(copy_with_tensors(checkpoint.directory, tmp_path / "old", renamed), checkpoint.model, waveform)


def test_pytorch_bin_checkpoint(waveform, tmp_path):
    """The pre-safetensors format (transformers 5 only writes safetensors: the file is written as 4.x did)."""
    model = build_model("wavlm_layer", seed=7)
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    assert_matches(tmp_path, model, waveform)


def test_prefixed_checkpoint_ignores_heads(tiny_checkpoints, waveform, tmp_path):
    """A ForCTC-style file: encoder under `hubert.`, plus a head and masked_spec_embed that are ignored."""
    checkpoint = tiny_checkpoints["hubert_group"]
    tensors = {f"hubert.{name}": value for name, value in
               load_file(str(checkpoint.directory / "model.safetensors")).items()}
    tensors["lm_head.weight"] = np.zeros((5, 32), np.float32)
    tensors["hubert.masked_spec_embed"] = np.zeros((32,), np.float32)
    assert_matches(copy_with_tensors(checkpoint.directory, tmp_path / "ctc", tensors), checkpoint.model, waveform)


def edited(tensors: dict[str, np.ndarray], edit: str) -> dict[str, np.ndarray]:
    tensors = dict(tensors)
    if edit == "dropped":
        del tensors["encoder.layers.1.feed_forward.output_dense.bias"]
    elif edit == "extra":
        tensors["encoder.layers.0.attention.extra.weight"] = np.zeros((2,), np.float32)
    elif edit == "reshaped":
        tensors["feature_projection.projection.weight"] = np.zeros((32, 31), np.float32)
    return tensors


@pytest.mark.parametrize("edit, message", [
    ("dropped", "1 missing (encoder.layers.1.feed_forward.output_dense.bias)"),
    ("extra", "1 extra (encoder.layers.0.attention.extra.weight)"),
    ("reshaped", "1 mis-shaped, checkpoint != config (feature_projection.projection.weight [32, 31] != [32, 32])"),
])
def test_mismatched_tensors_raise_one_line(tiny_checkpoints, tmp_path, edit, message):
    checkpoint = tiny_checkpoints["wav2vec2_group"]
    tensors = edited(load_file(str(checkpoint.directory / "model.safetensors")), edit)
    with pytest.raises(CheckpointError) as raised:
        load_encoder(copy_with_tensors(checkpoint.directory, tmp_path / edit, tensors))
    assert isinstance(raised.value, DataError)
    assert "\n" not in str(raised.value) and message in str(raised.value)


@pytest.mark.parametrize("field, value, message", [
    ("num_hidden_layers", 3, "missing (encoder.layers.2."),
    ("conv_bias", True, "3 missing (feature_extractor.conv_layers.0.conv.bias"),
    ("intermediate_size", 48, "6 mis-shaped, checkpoint != config (encoder.layers.0.feed_forward.intermediate_dense.bias [64] != [48]"),
    ("feat_extract_norm", "batch", "feat_extract_norm 'batch' is not 'group' or 'layer'"),
    ("model_type", "bert", "model_type 'bert' is not one of wav2vec2, hubert, wavlm"),
])
def test_changed_config_field_raises_one_line(tiny_checkpoints, tmp_path, field, value, message):
    checkpoint = tiny_checkpoints["wav2vec2_group"]
    target = tmp_path / field
    shutil.copytree(checkpoint.directory, target)
    config = json.loads((target / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**config, field: value}))
    with pytest.raises(CheckpointError) as raised:
        load_encoder(target)
    assert "\n" not in str(raised.value) and message in str(raised.value), str(raised.value)


def test_directory_without_weights(tiny_checkpoints, tmp_path):
    shutil.copy(tiny_checkpoints["wav2vec2_group"].directory / "config.json", tmp_path / "config.json")
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        load_encoder(tmp_path)


def test_pytorch_bin_without_torch_is_one_line(tiny_checkpoints, tmp_path, monkeypatch):
    shutil.copy(tiny_checkpoints["wav2vec2_group"].directory / "config.json", tmp_path / "config.json")
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(CheckpointError, match=r"pytorch_model.bin needs torch \(pip install torch\)"):
        load_encoder(tmp_path)
