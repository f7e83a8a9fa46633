"""Loads a user's Hugging Face wav2vec 2.0 / HuBERT / WavLM checkpoint directory into an SSLEncoder.

    module, config = load_encoder("path/to/wav2vec2-base")

Reads config.json and model.safetensors (or a sharded model.safetensors.index.json) with safetensors'
numpy API; a directory with only pytorch_model.bin needs torch (imported only then). No network.

Tensor names are ours by rule: each parameter path of SSLEncoder is transformers' module path
(ssl/encoder.py names its attributes so), with
  * the leaf renamed: kernel / scale / embedding -> weight, BatchNorm mean / var -> running_mean / _var;
  * kernels transposed: Linear [in, out] <- [out, in], Conv [K, in, out] <- [out, in, K];
  * the stacked layers [L, ...] <- encoder.layers.{i}.… for i < L;
  * WavLM's one relative position table <- encoder.layers.0.attention.rel_attn_embed.weight.
Checkpoint names are normalised first: both weight-norm spellings are accepted
(`…conv.weight_g / weight_v`, and `…conv.parametrizations.weight.original0 / original1` of newer PyTorch).

Ignored by rule (never part of the encoder): when names carry the model's prefix (`wav2vec2.`,
`hubert.`, `wavlm.`, as the ForCTC / ForPreTraining / ForSequenceClassification classes save them),
every tensor outside it (lm_head, quantizer, project_q, project_hid, projector, classifier,
layer_weights, ...); `masked_spec_embed` (SpecAugment's training-time mask vector); BatchNorm's
`num_batches_tracked`. Anything else that does not match raises one CheckpointError naming what is
missing, extra or mis-shaped.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path

import jax
import numpy as np
from flax import nnx
from safetensors.numpy import load_file

from speecheq_jax.ssl.config import EncoderConfig, read_config
from speecheq_jax.ssl.encoder import SSLEncoder
from speecheq_jax.ssl.errors import CheckpointError

SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PYTORCH_BIN = "pytorch_model.bin"
IGNORED_NAMES = ("masked_spec_embed",)
IGNORED_SUFFIXES = (".num_batches_tracked",)
WEIGHT_NORM_SPELLINGS = {".parametrizations.weight.original0": ".weight_g",
                         ".parametrizations.weight.original1": ".weight_v"}
LEAF_NAMES = {"kernel": "weight", "scale": "weight", "embedding": "weight", "mean": "running_mean",
              "var": "running_var"}
POSITION_TABLE = ("encoder.position_bias.rel_attn_embed.embedding", "encoder.layers.0.attention.rel_attn_embed.weight")
"""(our path, the checkpoint's name) of WavLM's relative position table."""
STACKED = "encoder.layers."
SHOWN = 3
"""Names shown per kind of mismatch in the error line (then the count)."""


def _read_safetensors(paths: list[Path]) -> dict[str, np.ndarray]:
    tensors: dict[str, np.ndarray] = {}
    for path in paths:
        tensors.update(load_file(str(path)))
    return tensors


def _read_pytorch_bin(path: Path) -> dict[str, np.ndarray]:
    try:
        import torch  # optional: only the old format needs it
    except ImportError as e:
        raise CheckpointError(f"{path}: reading pytorch_model.bin needs torch (pip install torch), or save the "
                              "checkpoint as model.safetensors") from e
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    return {name: tensor.float().numpy() for name, tensor in state.items()}


def read_tensors(checkpoint_dir: Path) -> dict[str, np.ndarray]:
    """All tensors of a checkpoint directory by their saved names, as numpy arrays."""
    try:
        if (checkpoint_dir / SAFETENSORS).is_file():
            return _read_safetensors([checkpoint_dir / SAFETENSORS])
        if (checkpoint_dir / SAFETENSORS_INDEX).is_file():
            shards = json.loads((checkpoint_dir / SAFETENSORS_INDEX).read_text())["weight_map"].values()
            return _read_safetensors([checkpoint_dir / shard for shard in sorted(set(shards))])
        if (checkpoint_dir / PYTORCH_BIN).is_file():
            return _read_pytorch_bin(checkpoint_dir / PYTORCH_BIN)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"{checkpoint_dir}: cannot read the weights ({' '.join(str(e).split())})") from e
    raise CheckpointError(f"{checkpoint_dir}: no {SAFETENSORS}, {SAFETENSORS_INDEX} or {PYTORCH_BIN}")


def encoder_tensors(tensors: Mapping[str, np.ndarray], arch: str) -> dict[str, np.ndarray]:
    """The encoder's tensors under normalised names: prefix stripped, ignored ones dropped (module docstring)."""
    prefix = f"{arch}."
    if any(name.startswith(prefix) for name in tensors):
        tensors = {name[len(prefix):]: value for name, value in tensors.items() if name.startswith(prefix)}
    kept = {}
    for name, value in tensors.items():
        if name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES):
            continue
        for spelling, normalised in WEIGHT_NORM_SPELLINGS.items():
            name = name.replace(spelling, normalised)
        kept[name] = value
    return kept


def _checkpoint_name(path: str) -> str:
    """Our parameter path 'a.b.kernel' -> the checkpoint's name 'a.b.weight' (stacked layers: '{i}' after layers)."""
    if path == POSITION_TABLE[0]:
        return POSITION_TABLE[1]
    head, _, leaf = path.rpartition(".")
    name = f"{head}.{LEAF_NAMES.get(leaf, leaf)}"
    return name.replace(STACKED, STACKED + "{i}.", 1) if name.startswith(STACKED) else name


def _to_ours(leaf: str, tensor: np.ndarray) -> np.ndarray:
    """PyTorch layout -> ours: Linear weights [out, in] -> [in, out], Conv weights [out, in, K] -> [K, in, out]."""
    if leaf == "kernel":
        return np.ascontiguousarray(tensor.T)
    return tensor


def _path_name(path: tuple) -> str:
    return ".".join(str(key.key) for key in path if isinstance(key, jax.tree_util.DictKey))


def _expected(abstract: nnx.State, num_layers: int) -> dict[str, tuple[int, ...]]:
    """{checkpoint name: its PyTorch shape} for every parameter of the abstract module."""
    expected = {}
    for path, value in jax.tree_util.tree_flatten_with_path(abstract)[0]:
        ours = _path_name(path)
        template, shape = _checkpoint_name(ours), tuple(value.shape)
        if "{i}" in template:
            shape = shape[1:]
        if ours.endswith(".kernel"):
            shape = shape[::-1]
        for i in range(num_layers if "{i}" in template else 1):
            expected[template.format(i=i)] = shape
    return expected


def _describe(kind: str, names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN]) + (", ..." if len(names) > SHOWN else "")
    return f"{len(names)} {kind} ({shown})"


def check_tensors(tensors: Mapping[str, np.ndarray], expected: Mapping[str, tuple[int, ...]], where: str) -> None:
    """Raises one CheckpointError naming the missing, extra and mis-shaped tensors (none: returns)."""
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    misshaped = sorted(f"{name} {list(tensors[name].shape)} != {list(shape)}"
                       for name, shape in expected.items()
                       if name in tensors and tuple(tensors[name].shape) != shape)
    parts = [_describe(kind, names) for kind, names in
             (("missing", missing), ("extra", extra), ("mis-shaped, checkpoint != config", misshaped)) if names]
    if parts:
        raise CheckpointError(f"{where}: tensors do not match config.json: {'; '.join(parts)}")


def _parameter_value(tensors: Mapping[str, np.ndarray], num_layers: int, path: tuple, _: object) -> np.ndarray:
    """float32 value of our parameter at `path` (a tree_map_with_path function over the abstract state)."""
    ours = _path_name(path)
    template, leaf = _checkpoint_name(ours), ours.rpartition(".")[2]
    if "{i}" in template:
        value = np.stack([_to_ours(leaf, tensors[template.format(i=i)]) for i in range(num_layers)])
    else:
        value = _to_ours(leaf, tensors[template])
    return np.asarray(value, np.float32)


def expected_tensors(config: EncoderConfig) -> dict[str, tuple[int, ...]]:
    """{checkpoint tensor name: its PyTorch shape} that a checkpoint of `config` must hold (no prefix)."""
    _, abstract = nnx.split(nnx.eval_shape(lambda: SSLEncoder(config, rngs=nnx.Rngs(0))))
    return _expected(abstract, config.num_hidden_layers)


def load_encoder(checkpoint_dir: str | Path) -> tuple[SSLEncoder, EncoderConfig]:
    """(SSLEncoder with the checkpoint's weights, its EncoderConfig) of a Hugging Face checkpoint directory.

    Raises:
      CheckpointError: config.json missing or unsupported, no readable weights, or tensors that do not
        match the config (one line naming them).
    """
    checkpoint_dir = Path(checkpoint_dir)
    config = read_config(checkpoint_dir)
    tensors = encoder_tensors(read_tensors(checkpoint_dir), config.arch)
    graphdef, abstract = nnx.split(nnx.eval_shape(lambda: SSLEncoder(config, rngs=nnx.Rngs(0))))
    check_tensors(tensors, expected_tensors(config), str(checkpoint_dir))
    state = jax.tree_util.tree_map_with_path(
        functools.partial(_parameter_value, tensors, config.num_hidden_layers), abstract)
    return nnx.merge(graphdef, jax.tree.map(jax.numpy.asarray, state)), config
